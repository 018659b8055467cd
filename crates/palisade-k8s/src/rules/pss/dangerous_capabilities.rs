use super::control;
use crate::rules::{Check, Rule, Sink};
use crate::workload::PodTemplate;
use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Flags containers that add a Linux capability outside the container runtime's default set
(AUDIT_WRITE, CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, MKNOD, NET_BIND_SERVICE, SETFCAP,
SETGID, SETPCAP, SETUID, SYS_CHROOT). Names are compared exactly as Kubernetes does: `chown`
and `CAP_CHOWN` are not `CHOWN`.

## Why is this bad?
`SYS_ADMIN`, `SYS_PTRACE`, `NET_ADMIN`, `SYS_MODULE`, `NET_RAW`… each opens a known path out
of the container or into its neighbours' traffic. GPU and RDMA workloads rarely need more than
`IPC_LOCK`, and even that is better granted through the device plugin.

## Example
```yaml
securityContext:
  capabilities:
    add: ["SYS_ADMIN"]
```

## Use instead
```yaml
securityContext:
  capabilities:
    drop: ["ALL"]
    add: ["NET_BIND_SERVICE"]   # only if it binds a port below 1024
```

## References
- Pod Security Standards, baseline: Capabilities; restricted: Capabilities
- MITRE ATLAS AML.T0105 Escape to Host; ATT&CK T1611
"#;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "K8S005",
        name: "dangerous-capabilities",
        severity: Severity::High,
        family: "pod-security",
        summary: "Container adds capabilities beyond the default set",
        controls: &[
            control::CAPABILITIES_BASELINE,
            control::CAPABILITIES_RESTRICTED,
        ],
        techniques: &["AML.T0105", "T1611"],
        fix: "remove the added capabilities; drop ALL and add back only NET_BIND_SERVICE if needed",
        doc: DOC,
    },
    check: Check::Pod(check),
};

/// The capabilities the baseline level allows to be added.
pub(crate) const BASELINE_ALLOWED: &[&str] = &[
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

fn check(t: &PodTemplate, sink: &mut Sink) {
    for c in &t.containers {
        let Some(add) = c.node.path(&["securityContext", "capabilities", "add"]) else {
            continue;
        };
        for cap in add.items() {
            let name = cap.as_str().unwrap_or("");
            if !BASELINE_ALLOWED.contains(&name) {
                let f = sink.container(t, c, cap.pos, format!("adds capability {name}"));
                if let Some(f) = f
                    && t.is_windows()
                {
                    // Windows pods are exempt from the restricted capabilities check.
                    f.controls.retain(|x| x != control::CAPABILITIES_RESTRICTED);
                }
            }
        }
    }
}
