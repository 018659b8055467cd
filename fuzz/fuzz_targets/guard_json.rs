//! Any bytes as a request body for the guard's JSON reader, read the same way by serde_json:
//! the two must agree on whether it is JSON and, where it is, on every value (numbers bit for
//! bit, objects with the last of repeated keys), within the guard's depth limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_guard::json::{self, Limits, Value};

const LIMITS: Limits = Limits {
    max_depth: 64,
    max_elements: 1_000_000,
    allow_non_finite: false,
};

/// A value both readers can be compared in: numbers as f64 bits, objects by key (the last
/// of repeated keys, as serde_json keeps them).
#[derive(Debug, PartialEq)]
enum Plain {
    Null,
    Bool(bool),
    Number(u64),
    String(String),
    Array(Vec<Plain>),
    Object(Vec<(String, Plain)>),
}

fn from_ours(v: &Value) -> Plain {
    match v {
        Value::Null => Plain::Null,
        Value::Bool(b) => Plain::Bool(*b),
        Value::Number(n) => Plain::Number(n.to_bits()),
        Value::String(s) => Plain::String(s.to_string()),
        Value::Array(a) => Plain::Array(a.iter().map(|v| from_ours(&v)).collect()),
        Value::Object(members) => {
            let mut kept = std::collections::BTreeMap::new();
            for (k, v) in members {
                kept.insert(k.to_string(), from_ours(v));
            }
            Plain::Object(kept.into_iter().collect())
        }
    }
}

fn from_serde(v: &serde_json::Value) -> Plain {
    match v {
        serde_json::Value::Null => Plain::Null,
        serde_json::Value::Bool(b) => Plain::Bool(*b),
        serde_json::Value::Number(n) => Plain::Number(n.as_f64().expect("finite").to_bits()),
        serde_json::Value::String(s) => Plain::String(s.clone()),
        serde_json::Value::Array(a) => Plain::Array(a.iter().map(from_serde).collect()),
        // Sorted: serde_json keeps the order of the document when a dependency asks it to.
        serde_json::Value::Object(m) => Plain::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), from_serde(v)))
                .collect::<std::collections::BTreeMap<_, _>>()
                .into_iter()
                .collect(),
        ),
    }
}

fn depth(v: &serde_json::Value) -> usize {
    match v {
        serde_json::Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        serde_json::Value::Object(m) => 1 + m.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

fuzz_target!(|data: &[u8]| {
    let ours = json::parse(data, LIMITS);
    let theirs = serde_json::from_slice::<serde_json::Value>(data);
    match (&ours, &theirs) {
        (Ok(a), Ok(b)) => assert_eq!(from_ours(a), from_serde(b)),
        (Ok(a), Err(e)) => panic!("the guard read {a:?} where serde_json found: {e}"),
        (Err(e), Ok(b)) => {
            // Refusing what is too deep for the guard is its limit, not a disagreement.
            assert!(
                matches!(e, json::Error::TooDeep { .. }) && depth(b) > LIMITS.max_depth,
                "the guard refused JSON serde_json read: {e}"
            );
        }
        (Err(_), Err(_)) => {}
    }
});
