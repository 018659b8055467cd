//! Palisade's generic event: for any detector without a reader of its own.
//!
//! ```json
//! {"source": "my-ids", "rule": "crypto-miner", "time": "2026-11-22T10:00:00Z",
//!  "severity": "high", "message": "…", "id": "…", "techniques": ["T1496"],
//!  "namespace": "ml", "pod": "…", "workload": "Deployment/digits", "node": "…",
//!  "tenant": "…", "model": "…", "user": "…", "image": "…", "container": "…"}
//! ```
//!
//! `source` and `rule` are required; `time` defaults to the time of receipt, `severity` to
//! `medium`. `workload` is `KIND/NAME` in the event's namespace.

use super::{is_technique, kind_of, optional, required, technique_ids, time_field};
use crate::signal::{Signal, Source, Subject, Workload};
use crate::workload;
use palisade_core::Severity;
use serde_json::Value;

pub fn read(v: Value) -> Result<Signal, String> {
    let what = "generic event";
    let origin = required(&v, "source", what)?.to_string();
    let rule = required(&v, "rule", what)?.to_string();
    let time = time_field(&v, &["time"], what)?;
    let severity = match v.get("severity") {
        None | Some(Value::Null) => Severity::Medium,
        Some(Value::String(s)) => s.parse().map_err(|_| {
            format!(
                "{what} field 'severity' is '{s}', not one of critical, high, medium, low, info"
            )
        })?,
        Some(other) => {
            return Err(format!(
                "{what} field 'severity' must be a string, found {}",
                kind_of(other)
            ));
        }
    };
    let techniques = match v.get("techniques") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => {
            let tags: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
            if tags.len() != items.len() {
                return Err(format!("{what} field 'techniques' must hold strings"));
            }
            if let Some(bad) = tags.iter().find(|t| !is_technique(t)) {
                return Err(format!(
                    "{what} field 'techniques': '{bad}' is not an ATT&CK (T1234) or ATLAS (AML.T0001) ID"
                ));
            }
            technique_ids(tags.into_iter())
        }
        Some(other) => {
            return Err(format!(
                "{what} field 'techniques' must be an array, found {}",
                kind_of(other)
            ));
        }
    };
    let namespace = optional(&v, "namespace");
    let pod = optional(&v, "pod");
    let workload = match (optional(&v, "workload"), &namespace, &pod) {
        (Some(w), Some(ns), _) => {
            let (kind, name) = w
                .split_once('/')
                .ok_or_else(|| format!("{what} field 'workload' is '{w}', expected KIND/NAME"))?;
            Some(Workload {
                namespace: ns.clone(),
                kind: kind.into(),
                name: name.into(),
            })
        }
        (Some(_), None, _) => return Err(format!("{what} field 'workload' needs 'namespace' too")),
        (None, Some(ns), Some(p)) => Some(workload::from_pod_name(ns, p)),
        _ => None,
    };
    let message = optional(&v, "message").unwrap_or_else(|| format!("{origin}: {rule}"));
    Ok(Signal {
        source: Source::Generic,
        id: optional(&v, "id"),
        time,
        rule,
        severity,
        message,
        techniques,
        subject: Subject {
            namespace,
            pod,
            container: optional(&v, "container"),
            workload,
            node: optional(&v, "node"),
            tenant: optional(&v, "tenant"),
            model: optional(&v, "model"),
            user: optional(&v, "user"),
            image: optional(&v, "image"),
            process: optional(&v, "process"),
        },
        count: 1,
        raw: v,
    })
}
