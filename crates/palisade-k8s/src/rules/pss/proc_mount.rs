use super::control;
use crate::rules::{Check, Rule, Sink};
use crate::workload::PodTemplate;
use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Flags containers whose `securityContext.procMount` is anything but `Default` (i.e. `Unmasked`).
At baseline this is allowed for pods in a user namespace (`hostUsers: false`); at restricted it
never is.

## Why is this bad?
An unmasked `/proc` exposes kernel interfaces (`/proc/sys`, `/proc/sysrq-trigger`, …) that the
runtime normally masks, a well-trodden escape path.

## Example
```yaml
securityContext:
  procMount: Unmasked
```

## Use instead
Remove `procMount` (or set it to `Default`).

## References
- Pod Security Standards, baseline: /proc Mount Type; restricted: /proc Mount Type
- ATT&CK T1611
"#;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "K8S009",
        name: "unmasked-proc-mount",
        severity: Severity::Medium,
        family: "pod-security",
        summary: "Container unmasks /proc",
        controls: &[control::PROC_MOUNT, control::PROC_MOUNT_RESTRICTED],
        techniques: &["AML.T0105", "T1611"],
        fix: "remove securityContext.procMount or set it to Default",
        doc: DOC,
    },
    check: Check::Pod(check),
};

fn check(t: &PodTemplate, sink: &mut Sink) {
    let user_ns = t.host_users_false();
    for c in &t.containers {
        let Some(pm) = c.security("procMount") else {
            continue;
        };
        let v = pm.as_str().unwrap_or("");
        if pm.is_null() || v == "Default" {
            continue;
        }
        if let Some(f) = sink.container(
            t,
            c,
            c.security_pos("procMount"),
            format!("sets procMount {v}"),
        ) && user_ns
        {
            f.controls = vec![control::PROC_MOUNT_RESTRICTED.into()];
        }
    }
}
