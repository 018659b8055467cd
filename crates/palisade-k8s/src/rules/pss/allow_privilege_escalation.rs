use super::control;
use crate::rules::{Check, Rule, Sink};
use crate::workload::PodTemplate;
use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Flags Linux containers that do not set `securityContext.allowPrivilegeEscalation: false`.
(Pods with `spec.os.name: windows` are exempt.)

## Why is this bad?
Unless it is explicitly false, a process can gain more privileges than its parent through
setuid binaries or file capabilities — the last step of many container exploits.

## Example
```yaml
securityContext:
  runAsNonRoot: true
```

## Use instead
```yaml
securityContext:
  runAsNonRoot: true
  allowPrivilegeEscalation: false
```

## References
- Pod Security Standards, restricted: Privilege Escalation
- ATT&CK T1548 Abuse Elevation Control Mechanism
"#;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "K8S014",
        name: "privilege-escalation-allowed",
        severity: Severity::Medium,
        family: "pod-security",
        summary: "Container may gain privileges (allowPrivilegeEscalation not false)",
        controls: &[control::ALLOW_PRIVILEGE_ESCALATION],
        techniques: &["T1548"],
        fix: "set securityContext.allowPrivilegeEscalation: false",
        doc: DOC,
    },
    check: Check::Pod(check),
};

fn check(t: &PodTemplate, sink: &mut Sink) {
    if t.is_windows() {
        return;
    }
    for c in &t.containers {
        match c
            .security("allowPrivilegeEscalation")
            .and_then(|n| n.as_bool())
        {
            Some(false) => {}
            Some(true) => {
                sink.container(
                    t,
                    c,
                    c.security_pos("allowPrivilegeEscalation"),
                    "sets allowPrivilegeEscalation: true",
                );
            }
            None => {
                sink.container(
                    t,
                    c,
                    c.security_pos("allowPrivilegeEscalation"),
                    "does not set allowPrivilegeEscalation: false",
                );
            }
        }
    }
}
