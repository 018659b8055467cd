//! Falco alerts: Falco's own JSON output (`json_output`, `http_output`) and Falcosidekick's
//! webhook payload (the same object plus a `uuid`).
//!
//! ```json
//! {"uuid": "…", "time": "2026-11-22T10:00:00.123456789Z", "rule": "Terminal shell in container",
//!  "priority": "Notice", "source": "syscall", "hostname": "node-1", "tags": ["T1059", "container"],
//!  "output": "…", "output_fields": {"k8s.ns.name": "ml", "k8s.pod.name": "…", "proc.name": "bash"}}
//! ```
//!
//! `source` is normalised (`syscall` and the older `syscalls` are one; `k8saudit` is `k8s_audit`)
//! into `signal.falco_source`; output fields that are `null` or `<NA>` are absent. The node is
//! Falco's `hostname` (Falco runs as a DaemonSet, one per node).

use super::{optional, required, technique_ids, time_field};
use crate::signal::{Signal, Source, Subject};
use crate::workload;
use palisade_core::Severity;
use serde_json::Value;

/// Falco's priorities, as Palisade severities.
pub fn severity(priority: &str) -> Option<Severity> {
    Some(match priority.to_ascii_lowercase().as_str() {
        "emergency" | "alert" | "critical" => Severity::Critical,
        "error" => Severity::High,
        "warning" => Severity::Medium,
        "notice" => Severity::Low,
        "informational" | "info" | "debug" => Severity::Info,
        _ => return None,
    })
}

/// Falco's event sources under one spelling each.
pub fn normalise_source(s: &str) -> &str {
    match s {
        "syscall" | "syscalls" => "syscall",
        "k8saudit" | "k8s_audit" => "k8s_audit",
        other => other,
    }
}

pub fn read(mut v: Value) -> Result<Signal, String> {
    let rule = required(&v, "rule", "Falco alert")?.to_string();
    let priority = required(&v, "priority", "Falco alert")?;
    let severity = severity(priority).ok_or_else(|| {
        format!(
            "Falco alert field 'priority' is '{priority}', not one of Emergency, Alert, Critical, \
             Error, Warning, Notice, Informational, Debug"
        )
    })?;
    let time = time_field(&v, &["time"], "Falco alert")?;
    const NONE: &Value = &Value::Null;
    let fields = match v.get("output_fields") {
        None | Some(Value::Null) => NONE,
        Some(f @ Value::Object(_)) => f,
        Some(other) => {
            return Err(format!(
                "Falco alert field 'output_fields' must be an object, found {}",
                super::kind_of(other)
            ));
        }
    };
    let tags: Vec<&str> = match v.get("tags") {
        Some(Value::Array(t)) => t.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let techniques = technique_ids(tags.into_iter());
    let field = |k: &str| optional(fields, k);
    let either = |a: &str, b: &str| field(a).or_else(|| field(b));
    let namespace = either("k8s.ns.name", "k8smeta.ns.name");
    let pod = either("k8s.pod.name", "k8smeta.pod.name");
    let image =
        field("container.image.repository").map(|repo| match field("container.image.tag") {
            Some(tag) => format!("{repo}:{tag}"),
            None => repo,
        });
    let workload = match (&namespace, field("k8smeta.deployment.name"), &pod) {
        (Some(ns), Some(d), _) => Some(crate::signal::Workload {
            namespace: ns.clone(),
            kind: "Deployment".into(),
            name: d,
        }),
        (Some(ns), None, Some(p)) => Some(workload::from_pod_name(ns, p)),
        _ => None,
    };
    let subject = Subject {
        namespace,
        pod,
        container: either("container.name", "container.id"),
        workload,
        node: optional(&v, "hostname"),
        user: either("user.name", "ka.user.name"),
        image,
        process: field("proc.name"),
        ..Subject::default()
    };
    let message = optional(&v, "output").unwrap_or_else(|| rule.clone());
    let falco_source =
        normalise_source(v.get("source").and_then(Value::as_str).unwrap_or("syscall")).to_string();
    if let Value::Object(o) = &mut v {
        o.insert("falco_source".into(), falco_source.into());
    }
    Ok(Signal {
        source: Source::Falco,
        id: optional(&v, "uuid"),
        time,
        rule,
        severity,
        message,
        techniques,
        subject,
        count: 1,
        raw: v,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_a_falcosidekick_payload_with_nulls_and_old_source_name() {
        let s = read(json!({
            "uuid": "9a1b", "output": "Shell spawned (user=root k8s.ns=ml)",
            "priority": "Notice", "rule": "Terminal shell in container", "source": "syscalls",
            "time": "2026-11-22T10:00:00.123456789Z", "hostname": "gpu-node-1",
            "tags": ["T1059", "container", "mitre_execution", "shell"],
            "output_fields": {"k8s.ns.name": "ml", "k8s.pod.name": "digits-6d4cf56db6-x8k2p",
                              "container.image.repository": "python", "container.image.tag": null,
                              "proc.name": "bash", "user.name": "<NA>"}
        }))
        .unwrap();
        assert_eq!(s.severity, Severity::Low);
        assert_eq!(s.techniques, ["T1059"]);
        assert_eq!(s.id.as_deref(), Some("9a1b"));
        assert_eq!(s.subject.node.as_deref(), Some("gpu-node-1"));
        assert_eq!(s.subject.image.as_deref(), Some("python"));
        assert_eq!(s.subject.user, None);
        assert_eq!(
            s.subject.workload.unwrap().to_string(),
            "ml/digits[Deployment]"
        );
        assert_eq!(s.raw["falco_source"], "syscall");
        assert_eq!(s.time.to_string(), "2026-11-22T10:00:00.123456Z");
    }

    #[test]
    fn names_the_field_that_is_wrong() {
        let e = read(json!({"rule": "x", "priority": "Loud", "output": ""})).unwrap_err();
        assert!(e.contains("'priority' is 'Loud'"), "{e}");
        let e = read(json!({"rule": "x", "priority": "Error", "time": "noon"})).unwrap_err();
        assert!(e.contains("field 'time'"), "{e}");
        let e = read(json!({"priority": "Error"})).unwrap_err();
        assert!(e.contains("'rule' is missing"), "{e}");
    }
}
