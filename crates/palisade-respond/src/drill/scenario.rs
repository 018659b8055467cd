//! The drills' cluster and events: an ML namespace on three GPU nodes, with the history each
//! seed scenario needs, and the alerts that scenario produces about the pods that really run.

use palisade_apisim::Cluster;
use palisade_apisim::resources::{DEPLOYMENTS, PODS};
use serde_json::{Value, json};

pub const NAMESPACE: &str = "ml";
pub const MODEL: &str = "digits";
pub const GOOD_IMAGE: &str = "registry.example.com/ml/digits-server:1.4.0";
pub const BAD_IMAGE: &str = "registry.example.com/ml/digits-server:1.5.0";
pub const GOOD_MODEL: &str = "v6";
pub const BAD_MODEL: &str = "v7";

pub fn deployment(
    name: &str,
    replicas: i64,
    image: &str,
    model: &str,
    privileged: bool,
    sa: &str,
) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": {"app": name, "app.kubernetes.io/part-of": "inference"}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                "spec": {"serviceAccountName": sa, "containers": [{"name": "server", "image": image,
                    "env": [{"name": "MODEL_VERSION", "value": model}],
                    "ports": [{"containerPort": 8080}],
                    "securityContext": {"privileged": privileged},
                    "volumeMounts": [{"name": "models", "mountPath": "/models"}]}],
                    "volumes": [{"name": "models", "persistentVolumeClaim": {"claimName": "models"}}]}}}})
}

/// Seeds the cluster. `history` is the template change that becomes revision 2 of `digits`
/// (the change the incident is about), as a merge patch.
pub fn seed(c: &Cluster, history: Option<Value>) -> Result<(), String> {
    let e = |e: palisade_apisim::ApiError| e.message;
    for n in ["gpu-node-1", "gpu-node-2", "gpu-node-3"] {
        c.apply(json!({"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": n, "labels": {"kubernetes.io/hostname": n, "nvidia.com/gpu.present": "true"}},
            "spec": {}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}}))
            .map_err(e)?;
    }
    c.apply(json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "digits-server", "namespace": NAMESPACE}})).map_err(e)?;
    c.apply(
        json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
        "metadata": {"name": "digits-server-token", "namespace": NAMESPACE,
                     "annotations": {"kubernetes.io/service-account.name": "digits-server"}},
        "data": {"token": "ZHJpbGwtdG9rZW4="}}),
    )
    .map_err(e)?;
    c.apply(deployment(
        "feature-store",
        2,
        "registry.example.com/ml/feature-store:3.2.1",
        "-",
        false,
        "feature-store",
    ))
    .map_err(e)?;
    c.apply(
        json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
        "metadata": {"name": "feature-store", "namespace": NAMESPACE},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "feature-store"}}}}),
    )
    .map_err(e)?;
    c.apply(deployment(
        MODEL,
        2,
        GOOD_IMAGE,
        GOOD_MODEL,
        false,
        "digits-server",
    ))
    .map_err(e)?;
    c.apply(json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": MODEL, "namespace": NAMESPACE},
        "spec": {"selector": {"app": MODEL}, "ports": [{"port": 80, "targetPort": 8080}]}})).map_err(e)?;
    if let Some(patch) = history {
        c.patch(&DEPLOYMENTS, NAMESPACE, MODEL, &patch).map_err(e)?;
    }
    for p in c.list(&PODS, Some(NAMESPACE), "app=digits") {
        let name = p["metadata"]["name"].as_str().unwrap_or("").to_string();
        c.set_log(NAMESPACE, &name, "server", false,
            "INFO serving model digits\nINFO POST /v1/models/digits:predict 200\nWARN sh: cannot set terminal process group\n");
        c.set_log(
            NAMESPACE,
            &name,
            "server",
            true,
            "INFO serving model digits\nERROR OOMKilled while loading weights\n",
        );
    }
    Ok(())
}

/// Revision 2 of `digits` for the breakout: a new image, run privileged (how it escaped).
pub fn privileged_release() -> Value {
    json!({"spec": {"template": deployment(MODEL, 2, BAD_IMAGE, GOOD_MODEL, true, "digits-server")["spec"]["template"]}})
}

/// Revision 2 of `digits` for the adversarial drill: a poisoned model version.
pub fn poisoned_model() -> Value {
    json!({"spec": {"template": deployment(MODEL, 2, GOOD_IMAGE, BAD_MODEL, false, "digits-server")["spec"]["template"]}})
}

/// The `digits` pod the attack happens in: one sharing its node with another workload, so
/// draining that node has something to evict (under that workload's disruption budget).
pub fn target_pod(c: &Cluster) -> Result<(String, String), String> {
    let pods = c.list(&PODS, Some(NAMESPACE), "app=digits");
    let others = c.list(&PODS, Some(NAMESPACE), "app=feature-store");
    let shares = |p: &Value| {
        others
            .iter()
            .any(|o| o["spec"]["nodeName"] == p["spec"]["nodeName"])
    };
    let p = pods
        .iter()
        .find(|p| shares(p))
        .or(pods.first())
        .ok_or("the drill cluster has no digits pod")?;
    Ok((
        p["metadata"]["name"].as_str().unwrap_or("").into(),
        p["spec"]["nodeName"].as_str().unwrap_or("").into(),
    ))
}

fn falco(
    rule: &str,
    priority: &str,
    tags: &[&str],
    pod: &str,
    node: &str,
    fields: Value,
    n: u32,
) -> Value {
    let mut f = json!({"k8s.ns.name": NAMESPACE, "k8s.pod.name": pod, "container.name": "server",
        "container.image.repository": "registry.example.com/ml/digits-server"});
    if let (Some(f), Some(extra)) = (f.as_object_mut(), fields.as_object()) {
        f.extend(extra.clone());
    }
    json!({"uuid": format!("drill-{n}"), "rule": rule, "priority": priority, "source": "syscall",
        "time": palisade_core::time::Timestamp::now().to_string(), "hostname": node, "tags": tags,
        "output": format!("{rule} (pod={pod} node={node})"), "output_fields": f})
}

/// The breakout: a release_agent escape, the weights read, a call out (one alert sent twice,
/// as Falco repeats).
pub fn breakout_events(pod: &str, node: &str) -> Vec<Value> {
    let escape = falco(
        "Detect release_agent File Container Escapes",
        "Critical",
        &["container", "mitre_privilege_escalation", "T1611"],
        pod,
        node,
        json!({"proc.name": "sh", "proc.cmdline": "sh -c echo /cmd > /tmp/cgrp/release_agent", "fd.name": "/tmp/cgrp/release_agent"}),
        1,
    );
    let read = falco(
        "Palisade Model Weights Read By Unexpected Process",
        "Critical",
        &["ml", "mitre_collection", "AML.T0035"],
        pod,
        node,
        json!({"proc.name": "tar", "fd.name": "/models/digits/model.safetensors"}),
        2,
    );
    let out = falco(
        "Palisade Outbound Connection From Inference Pod",
        "Notice",
        &["ml", "network"],
        pod,
        node,
        json!({"proc.name": "curl", "fd.sip": "203.0.113.9", "fd.sport": "443"}),
        3,
    );
    vec![escape, read, out.clone(), out]
}

fn guard(rule: &str, name: &str, severity: &str, tenant: Option<&str>, suppressed: u64) -> Value {
    let now = palisade_core::time::Timestamp::now().to_string();
    guard_event(rule, name, severity, tenant, &now, suppressed)
}

/// A `palisade guard` event about [`MODEL`] as the guard writes it (a refusal, ATLAS
/// AML.T0043; `suppressed` repeats folded into it), at `time` (RFC 3339).
pub fn guard_event(
    rule: &str,
    name: &str,
    severity: &str,
    tenant: Option<&str>,
    time: &str,
    suppressed: u64,
) -> Value {
    let mut e = json!({"time": time, "source": "palisade-guard",
        "rule": rule, "name": name, "severity": severity, "action": "rejected", "model": MODEL,
        "techniques": ["AML.T0043"], "message": name});
    if let Some(t) = tenant {
        e["tenant"] = t.into();
    }
    if suppressed > 0 {
        e["details"] = json!({"suppressed": suppressed});
    }
    e
}

/// Adversarial inputs from one tenant, then the probe finding the model's outputs changed.
pub fn adversarial_events() -> Vec<Value> {
    let mut v: Vec<Value> = (0..12)
        .map(|_| {
            guard(
                "GRD007",
                "input-out-of-distribution",
                "high",
                Some("team-a"),
                0,
            )
        })
        .collect();
    let mut probe = guard("GRD011", "probe-output-changed", "critical", None, 0);
    probe["action"] = "logged".into();
    probe["techniques"] = json!(["AML.T0018"]);
    v.push(probe);
    v
}

/// One tenant over its rate limit (the guard folds repeats), another tenant's one bad input.
pub fn flood_events() -> Vec<Value> {
    let mut v: Vec<Value> = (0..6)
        .map(|_| guard("GRD002", "tenant-rate-limited", "medium", Some("team-b"), 9))
        .collect();
    v.push(guard(
        "GRD005",
        "input-schema-mismatch",
        "low",
        Some("team-a"),
        0,
    ));
    v
}

/// The drill's stand-in for the guard's metrics: the control-set probe's accuracy and
/// agreement for whichever model version the cluster now serves.
pub fn probe_metrics(c: &Cluster) -> String {
    let version = c
        .get(&DEPLOYMENTS, NAMESPACE, MODEL)
        .and_then(|d| {
            d.pointer("/spec/template/spec/containers/0/env/0/value")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_default();
    let (acc, agree) = if version == BAD_MODEL {
        (0.62, 0.41)
    } else {
        (0.97, 1.0)
    };
    format!(
        "# TYPE palisade_guard_probe_accuracy gauge\npalisade_guard_probe_accuracy{{model=\"{MODEL}\"}} {acc}\n# TYPE palisade_guard_probe_agreement gauge\npalisade_guard_probe_agreement{{model=\"{MODEL}\"}} {agree}\n"
    )
}
