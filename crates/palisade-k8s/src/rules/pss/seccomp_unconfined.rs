use super::control;
use crate::rules::{Check, Rule, Sink};
use crate::workload::PodTemplate;
use crate::yaml::Node;
use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Flags a seccomp profile type other than `RuntimeDefault` or `Localhost` — in practice
`Unconfined` — at pod or container level.

## Why is this bad?
Seccomp filters the system calls a container may make; without it, every kernel bug reachable
by a syscall is reachable from a compromised inference server.

## Example
```yaml
securityContext:
  seccompProfile: {type: Unconfined}
```

## Use instead
```yaml
securityContext:
  seccompProfile: {type: RuntimeDefault}
```

## References
- Pod Security Standards, baseline: Seccomp; restricted: Seccomp
- ATT&CK T1611
"#;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "K8S010",
        name: "seccomp-unconfined",
        severity: Severity::Medium,
        family: "pod-security",
        summary: "Seccomp disabled",
        controls: &[control::SECCOMP_BASELINE, control::SECCOMP_RESTRICTED],
        techniques: &["AML.T0105", "T1611"],
        fix: "set seccompProfile.type to RuntimeDefault (or Localhost)",
        doc: DOC,
    },
    check: Check::Pod(check),
};

/// The type node when set to something other than RuntimeDefault/Localhost.
pub(crate) fn bad_type(profile: Option<&Node>) -> Option<&Node> {
    let ty = profile?.get("type")?;
    if ty.is_null() {
        return None;
    }
    (!matches!(ty.as_str(), Some("RuntimeDefault" | "Localhost"))).then_some(ty)
}

fn check(t: &PodTemplate, sink: &mut Sink) {
    let windows = t.is_windows();
    let adjust = |f: Option<&mut palisade_core::Finding>| {
        if let Some(f) = f
            && windows
        {
            f.controls.retain(|c| c != control::SECCOMP_RESTRICTED);
        }
    };
    if let Some(ty) = bad_type(t.pod_security("seccompProfile")) {
        adjust(sink.pod(
            t,
            ty.pos,
            format!(
                "pod sets seccomp profile type {}",
                ty.as_str().unwrap_or("?")
            ),
        ));
    }
    for c in &t.containers {
        if let Some(ty) = bad_type(c.security("seccompProfile")) {
            adjust(sink.container(
                t,
                c,
                ty.pos,
                format!("sets seccomp profile type {}", ty.as_str().unwrap_or("?")),
            ));
        }
    }
}
