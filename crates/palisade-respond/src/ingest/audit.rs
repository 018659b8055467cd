//! Kubernetes audit events (`audit.k8s.io/v1` `Event`), one at a time or in the `EventList`
//! batches the audit webhook backend POSTs.
//!
//! The signal's rule is what was done (`create pods/exec`), its time the request's receipt, its
//! id the `auditID` (an audit backend sends one request at several stages; they count once). The
//! subject is the target: namespace, pod (also from the request or response object when the name
//! is generated), its workload (owner references, else the generated-name pattern), node, the
//! acting user (the impersonated one when there is one) and the first image of a pod spec.

use super::{kind_of, optional, required, time_field};
use crate::signal::{Signal, Source, Subject, Workload};
use crate::workload;
use palisade_core::Severity;
use serde_json::Value;

pub fn is_event_list(v: &Value) -> bool {
    v.get("kind").and_then(Value::as_str) == Some("EventList")
}

/// Resources whose objects are workloads.
const WORKLOADS: [(&str, &str); 7] = [
    ("deployments", "Deployment"),
    ("statefulsets", "StatefulSet"),
    ("daemonsets", "DaemonSet"),
    ("replicasets", "ReplicaSet"),
    ("jobs", "Job"),
    ("cronjobs", "CronJob"),
    ("inferenceservices", "InferenceService"),
];

pub fn read(v: Value) -> Result<Signal, String> {
    if let Some(kind) = v.get("kind").and_then(Value::as_str)
        && kind != "Event"
    {
        return Err(format!(
            "audit object has kind '{kind}', expected Event or EventList"
        ));
    }
    let verb = required(&v, "verb", "audit event")?.to_string();
    const NONE: &Value = &Value::Null;
    let object_ref = match v.get("objectRef") {
        None | Some(Value::Null) => NONE,
        Some(o @ Value::Object(_)) => o,
        Some(other) => {
            return Err(format!(
                "audit event field 'objectRef' must be an object, found {}",
                kind_of(other)
            ));
        }
    };
    let time = time_field(
        &v,
        &["requestReceivedTimestamp", "stageTimestamp", "timestamp"],
        "audit event",
    )?;
    let resource = optional(object_ref, "resource");
    let sub = optional(object_ref, "subresource");
    let namespace = optional(object_ref, "namespace");
    let object_name = |o: &str| {
        v.get(o)
            .and_then(|x| x.get("metadata"))
            .and_then(|m| optional(m, "name"))
    };
    let name = optional(object_ref, "name")
        .or_else(|| object_name("requestObject"))
        .or_else(|| object_name("responseObject"));
    let user = v
        .get("impersonatedUser")
        .and_then(|u| optional(u, "username"))
        .or_else(|| v.get("user").and_then(|u| optional(u, "username")));
    let spec = v
        .get("requestObject")
        .or_else(|| v.get("responseObject"))
        .and_then(|o| o.get("spec"));
    let image = spec
        .and_then(|s| s.get("containers"))
        .and_then(|c| c.get(0))
        .and_then(|c| optional(c, "image"));
    let is_pods = resource.as_deref() == Some("pods");
    let pod = if is_pods { name.clone() } else { None };
    let workload = match (&namespace, resource.as_deref(), &name) {
        (Some(ns), Some("pods"), Some(p)) => {
            Some(owner(&v, ns).unwrap_or_else(|| workload::from_pod_name(ns, p)))
        }
        (Some(ns), Some(r), Some(n)) => {
            WORKLOADS
                .iter()
                .find(|(res, _)| *res == r)
                .map(|(_, kind)| Workload {
                    namespace: ns.clone(),
                    kind: kind.to_string(),
                    name: n.clone(),
                })
        }
        _ => None,
    };
    let node = match resource.as_deref() {
        Some("nodes") => name.clone(),
        _ => spec.and_then(|s| optional(s, "nodeName")),
    };
    let target = match (&resource, &sub) {
        (Some(r), Some(s)) => format!("{r}/{s}"),
        (Some(r), None) => r.clone(),
        _ => optional(&v, "requestURI").unwrap_or_else(|| "(no object)".into()),
    };
    let rule = format!("{verb} {target}");
    let where_ = match (&namespace, &name) {
        (Some(ns), Some(n)) => format!(" {ns}/{n}"),
        (None, Some(n)) => format!(" {n}"),
        (Some(ns), None) => format!(" in {ns}"),
        _ => String::new(),
    };
    let code = v
        .get("responseStatus")
        .and_then(|s| s.get("code"))
        .and_then(Value::as_i64);
    let message = format!(
        "{} {rule}{where_}{}",
        user.as_deref().unwrap_or("(unknown user)"),
        code.map(|c| format!(" → {c}")).unwrap_or_default()
    );
    Ok(Signal {
        source: Source::K8sAudit,
        id: optional(&v, "auditID"),
        time,
        rule,
        severity: Severity::Info,
        message,
        techniques: Vec::new(),
        subject: Subject {
            namespace,
            pod,
            workload,
            node,
            user,
            image,
            ..Subject::default()
        },
        count: 1,
        raw: v,
    })
}

/// The controller named in a pod object's `ownerReferences` (a ReplicaSet stands for its
/// Deployment when its name is `DEPLOYMENT-HASH`).
fn owner(v: &Value, namespace: &str) -> Option<Workload> {
    let refs = ["requestObject", "responseObject"]
        .iter()
        .filter_map(|o| {
            v.get(*o)?
                .get("metadata")?
                .get("ownerReferences")?
                .as_array()
        })
        .next()?;
    let r = refs
        .iter()
        .find(|r| r.get("controller").and_then(Value::as_bool) == Some(true))
        .or_else(|| refs.first())?;
    let kind = required(r, "kind", "ownerReference").ok()?;
    let name = required(r, "name", "ownerReference").ok()?;
    if kind == "ReplicaSet"
        && let Some(deployment) = workload::deployment_of_replicaset(name)
    {
        return Some(Workload {
            namespace: namespace.into(),
            kind: "Deployment".into(),
            name: deployment.into(),
        });
    }
    Some(Workload {
        namespace: namespace.into(),
        kind: kind.into(),
        name: name.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_an_exec_with_its_pod_and_workload() {
        let s = read(
            json!({"kind": "Event", "auditID": "a1", "verb": "create", "stage": "ResponseStarted",
            "requestReceivedTimestamp": "2018-10-26T13:38:34.867116Z",
            "user": {"username": "minikube-user"},
            "objectRef": {"resource": "pods", "subresource": "exec", "namespace": "default",
                          "name": "nginx-deployment-7998647bdf-phvq7"},
            "responseStatus": {"code": 101}}),
        )
        .unwrap();
        assert_eq!(s.rule, "create pods/exec");
        assert_eq!(
            s.message,
            "minikube-user create pods/exec default/nginx-deployment-7998647bdf-phvq7 → 101"
        );
        assert_eq!(
            s.subject.workload.unwrap().to_string(),
            "default/nginx-deployment[Deployment]"
        );
        assert_eq!(s.id.as_deref(), Some("a1"));
    }

    #[test]
    fn owner_references_win_over_the_name_pattern() {
        let s = read(json!({"verb": "create", "auditID": "b",
            "objectRef": {"resource": "pods", "namespace": "ml"},
            "requestObject": {"metadata": {"name": "p-1", "ownerReferences": [
                {"kind": "ReplicaSet", "name": "digits-6d4cf56db6", "controller": true}]},
                "spec": {"nodeName": "n1", "containers": [{"image": "tritonserver:24.01"}]}}}))
        .unwrap();
        assert_eq!(
            s.subject.workload.unwrap().to_string(),
            "ml/digits[Deployment]"
        );
        assert_eq!(s.subject.node.as_deref(), Some("n1"));
        assert_eq!(s.subject.image.as_deref(), Some("tritonserver:24.01"));
        let e = read(json!({"kind": "Pod", "verb": "get"})).unwrap_err();
        assert!(e.contains("kind 'Pod'"), "{e}");
    }
}
