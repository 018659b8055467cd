use super::control;
use crate::rules::{Check, Rule, Sink};
use crate::workload::PodTemplate;
use crate::yaml::Node;
use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Flags SELinux options (pod or container) that set a custom `user` or `role`, or a `type` other
than `container_t`, `container_init_t`, `container_kvm_t` or `container_engine_t`.

## Why is this bad?
Choosing the SELinux type or user is choosing which host resources the process may touch;
`spc_t` ("super privileged container") or `unconfined_t` undo the isolation.

## Example
```yaml
securityContext:
  seLinuxOptions: {type: spc_t}
```

## Use instead
Leave `seLinuxOptions` unset (the runtime assigns `container_t` and a unique level) or set only
`level`.

## References
- Pod Security Standards, baseline: SELinux
- ATT&CK T1611
"#;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "K8S008",
        name: "selinux-custom-options",
        severity: Severity::Medium,
        family: "pod-security",
        summary: "Custom SELinux type, user or role",
        controls: &[control::SELINUX],
        techniques: &["AML.T0105", "T1611"],
        fix: "remove seLinuxOptions type/user/role (or use type container_t)",
        doc: DOC,
    },
    check: Check::Pod(check),
};

const ALLOWED_TYPES: &[&str] = &[
    "",
    "container_t",
    "container_init_t",
    "container_kvm_t",
    "container_engine_t",
];

fn problems(opts: &Node) -> Vec<(&Node, String)> {
    let mut out = Vec::new();
    if let Some((k, v)) = opts.entry("type") {
        let ty = v.as_str().unwrap_or("");
        if !v.is_null() && !ALLOWED_TYPES.contains(&ty) {
            out.push((k, format!("SELinux type '{ty}'")));
        }
    }
    for field in ["user", "role"] {
        if let Some((k, v)) = opts.entry(field)
            && v.as_nonempty_str().is_some()
        {
            out.push((k, format!("SELinux {field} '{}'", v.as_str().unwrap_or(""))));
        }
    }
    out
}

fn check(t: &PodTemplate, sink: &mut Sink) {
    if let Some(opts) = t.pod_security("seLinuxOptions") {
        for (k, what) in problems(opts) {
            sink.pod(t, k.pos, format!("pod sets {what}"));
        }
    }
    for c in &t.containers {
        if let Some(opts) = c.security("seLinuxOptions") {
            for (k, what) in problems(opts) {
                sink.container(t, c, k.pos, format!("sets {what}"));
            }
        }
    }
}
