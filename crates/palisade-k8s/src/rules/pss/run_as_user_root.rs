use super::control;
use crate::rules::{Check, Rule, Sink};
use crate::workload::PodTemplate;
use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Flags `runAsUser: 0` at pod or container level. Skipped for pods in a user namespace
(`hostUsers: false`).

## Why is this bad?
It forces the container to run as root whatever the image says — the opposite of hardening,
and it makes `runAsNonRoot: true` fail at admission.

## Example
```yaml
securityContext:
  runAsUser: 0
```

## Use instead
```yaml
securityContext:
  runAsUser: 10001
  runAsNonRoot: true
```

## References
- Pod Security Standards, restricted: Running as Non-root user
- MITRE ATLAS AML.T0105; ATT&CK T1611
"#;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "K8S017",
        name: "run-as-user-root",
        severity: Severity::High,
        family: "pod-security",
        summary: "Container explicitly runs as UID 0",
        controls: &[control::RUN_AS_USER],
        techniques: &["AML.T0105", "T1611"],
        fix: "set runAsUser to a non-zero UID (e.g. 10001)",
        doc: DOC,
    },
    check: Check::Pod(check),
};

fn check(t: &PodTemplate, sink: &mut Sink) {
    if t.host_users_false() {
        return;
    }
    if t.pod_security("runAsUser").and_then(|n| n.as_i64()) == Some(0) {
        sink.pod(t, t.pod_security_pos("runAsUser"), "pod sets runAsUser: 0");
    }
    for c in &t.containers {
        if c.security("runAsUser").and_then(|n| n.as_i64()) == Some(0) {
            sink.container(t, c, c.security_pos("runAsUser"), "sets runAsUser: 0");
        }
    }
}
