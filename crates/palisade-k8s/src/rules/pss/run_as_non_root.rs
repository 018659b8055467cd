use super::control;
use crate::rules::{Check, Rule, Sink};
use crate::workload::PodTemplate;
use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Flags pods whose containers may run as root: neither the pod nor the container sets
`runAsNonRoot: true`, or either sets it to false. Skipped for pods in a user namespace
(`hostUsers: false`), where root in the container is not root on the node.

## Why is this bad?
Most model-serving images (python:3.x, pytorch/pytorch, tensorflow/serving) run as root by
default. Root in the container owns the model files it serves, can install tooling after a
compromise, and is one kernel bug away from root on the node.

## Example
```yaml
spec:
  containers:
  - name: server
    image: python:3.12
```

## Use instead
```yaml
spec:
  securityContext:
    runAsNonRoot: true
    runAsUser: 10001
```
and a `USER` in the image.

## References
- Pod Security Standards, restricted: Running as Non-root
- MITRE ATLAS AML.T0105; ATT&CK T1611
"#;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "K8S016",
        name: "run-as-root-allowed",
        severity: Severity::Medium,
        family: "pod-security",
        summary: "Container may run as root (runAsNonRoot not true)",
        controls: &[control::RUN_AS_NON_ROOT],
        techniques: &["AML.T0105", "T1611"],
        fix: "set securityContext.runAsNonRoot: true (pod level) and a non-zero runAsUser",
        doc: DOC,
    },
    check: Check::Pod(check),
};

fn check(t: &PodTemplate, sink: &mut Sink) {
    if t.host_users_false() {
        return;
    }
    let pod = t.pod_security("runAsNonRoot").and_then(|n| n.as_bool());
    if pod == Some(false) {
        sink.pod(
            t,
            t.pod_security_pos("runAsNonRoot"),
            "pod sets runAsNonRoot: false",
        );
    }
    for c in &t.containers {
        match c.security("runAsNonRoot").and_then(|n| n.as_bool()) {
            Some(true) => {}
            Some(false) => {
                sink.container(
                    t,
                    c,
                    c.security_pos("runAsNonRoot"),
                    "sets runAsNonRoot: false",
                );
            }
            None if pod != Some(true) => {
                sink.container(
                    t,
                    c,
                    c.security_pos("runAsNonRoot"),
                    "may run as root: runAsNonRoot is not set to true",
                );
            }
            None => {}
        }
    }
}
