use super::is_batch;
use crate::rules::{Check, Rule, Sink};
use crate::workload::{ContainerKind, PodTemplate};
use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Flags long-running containers (not Jobs, CronJobs or training jobs) without a liveness or a
readiness probe.

## Why is this bad?
Without a readiness probe, traffic reaches a model server before the model is loaded and keeps
reaching it when it hangs; without a liveness probe a wedged server is never restarted. Both
lengthen incidents (MTTR) and hide degraded service.

## Example
```yaml
containers:
- name: server
  image: ghcr.io/acme/model:1.0
```

## Use instead
```yaml
  readinessProbe: {httpGet: {path: /v2/health/ready, port: 8080}}
  livenessProbe: {httpGet: {path: /v2/health/live, port: 8080}}
```

## References
- Kubernetes docs: Configure Liveness, Readiness and Startup Probes
"#;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "K8S027",
        name: "missing-probes",
        severity: Severity::Low,
        family: "hardening",
        summary: "Long-running container without liveness or readiness probe",
        controls: &[],
        techniques: &[],
        fix: "add readinessProbe and livenessProbe (httpGet on the server's health endpoints)",
        doc: DOC,
    },
    check: Check::Pod(check),
};

fn check(t: &PodTemplate, sink: &mut Sink) {
    if is_batch(&t.resource.kind, t.resource.group()) || t.role.as_deref() == Some("submitter") {
        return;
    }
    for c in t
        .containers
        .iter()
        .filter(|c| c.kind == ContainerKind::Regular)
    {
        let missing: Vec<&str> = ["livenessProbe", "readinessProbe"]
            .into_iter()
            .filter(|p| c.get(p).is_none())
            .collect();
        if !missing.is_empty() {
            sink.container(t, c, c.node.pos, format!("has no {}", missing.join(" or ")));
        }
    }
}
