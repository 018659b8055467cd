//! Any bytes as a request body for the guard's JSON reader, read the same way by serde_json:
//! the two must agree on whether it is JSON and, where it is, on every value (numbers bit for
//! bit), within the guard's depth limit. The guard refuses an object that repeats a key; it
//! must do so exactly when serde_json, read through a visitor that looks for repeats, finds
//! one.
#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_guard::json::{self, Limits, Value};

const LIMITS: Limits = Limits {
    max_depth: 64,
    max_elements: 1_000_000,
    allow_non_finite: false,
};

/// A value both readers can be compared in: numbers as f64 bits, objects by key.
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

/// A document read by serde_json that fails on an object repeating a key.
struct NoRepeats;

impl<'de> serde::Deserialize<'de> for NoRepeats {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<NoRepeats, D::Error> {
        d.deserialize_any(NoRepeatsVisitor)
    }
}

struct NoRepeatsVisitor;

impl<'de> serde::de::Visitor<'de> for NoRepeatsVisitor {
    type Value = NoRepeats;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<NoRepeats, E> {
        Ok(NoRepeats)
    }
    fn visit_i64<E>(self, _: i64) -> Result<NoRepeats, E> {
        Ok(NoRepeats)
    }
    fn visit_u64<E>(self, _: u64) -> Result<NoRepeats, E> {
        Ok(NoRepeats)
    }
    fn visit_f64<E>(self, _: f64) -> Result<NoRepeats, E> {
        Ok(NoRepeats)
    }
    fn visit_str<E>(self, _: &str) -> Result<NoRepeats, E> {
        Ok(NoRepeats)
    }
    fn visit_unit<E>(self) -> Result<NoRepeats, E> {
        Ok(NoRepeats)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<NoRepeats, A::Error> {
        while a.next_element::<NoRepeats>()?.is_some() {}
        Ok(NoRepeats)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<NoRepeats, A::Error> {
        let mut keys = std::collections::HashSet::new();
        while let Some(k) = a.next_key::<String>()? {
            if !keys.insert(k) {
                return Err(serde::de::Error::custom("repeated key"));
            }
            a.next_value::<NoRepeats>()?;
        }
        Ok(NoRepeats)
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
        (Ok(a), Ok(b)) => {
            assert_eq!(from_ours(a), from_serde(b));
            assert!(
                serde_json::from_slice::<NoRepeats>(data).is_ok(),
                "the guard read {a:?}, which repeats a key"
            );
        }
        (Ok(a), Err(e)) => panic!("the guard read {a:?} where serde_json found: {e}"),
        (Err(json::Error::DuplicateKey { .. }), Ok(_)) => assert!(
            serde_json::from_slice::<NoRepeats>(data).is_err(),
            "the guard found a repeated key where serde_json found none"
        ),
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
