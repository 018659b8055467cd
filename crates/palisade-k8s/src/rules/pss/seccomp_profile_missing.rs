use super::control;
use crate::rules::{Check, Rule, Sink};
use crate::workload::PodTemplate;
use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Flags Linux containers with no seccomp profile: neither the pod nor the container sets
`seccompProfile.type` (RuntimeDefault or Localhost). Explicitly disabled profiles are K8S010;
Windows pods are exempt.

## Why is this bad?
Kubernetes runs containers `Unconfined` unless a profile is set (or the kubelet's
`seccompDefault` is on, which manifests cannot rely on).

## Example
```yaml
spec:
  containers:
  - name: server
    image: ghcr.io/acme/model:1.0
```

## Use instead
```yaml
spec:
  securityContext:
    seccompProfile: {type: RuntimeDefault}
```

## References
- Pod Security Standards, restricted: Seccomp
- ATT&CK T1611
"#;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "K8S018",
        name: "seccomp-profile-missing",
        severity: Severity::Low,
        family: "pod-security",
        summary: "No seccomp profile set",
        controls: &[control::SECCOMP_RESTRICTED],
        techniques: &["T1611"],
        fix: "set spec.securityContext.seccompProfile.type: RuntimeDefault",
        doc: DOC,
    },
    check: Check::Pod(check),
};

fn check(t: &PodTemplate, sink: &mut Sink) {
    if t.is_windows() {
        return;
    }
    let pod_type = t
        .pod_security("seccompProfile")
        .and_then(|p| p.get("type"))
        .filter(|n| !n.is_null());
    if pod_type.is_some() {
        return; // valid, or invalid and already reported by K8S010
    }
    for c in &t.containers {
        let set = c
            .security("seccompProfile")
            .and_then(|p| p.get("type"))
            .is_some_and(|n| !n.is_null());
        if !set {
            sink.container(
                t,
                c,
                c.security_pos("seccompProfile"),
                "has no seccomp profile (pod and container leave seccompProfile.type unset)",
            );
        }
    }
}
