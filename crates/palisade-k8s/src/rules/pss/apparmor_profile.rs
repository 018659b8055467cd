use super::control;
use crate::rules::{Check, Rule, Sink};
use crate::workload::PodTemplate;
use crate::yaml::Node;
use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Flags AppArmor profiles other than the runtime default or a localhost profile: the
`appArmorProfile` field (pod and containers) with type `Unconfined`, and the deprecated
`container.apparmor.security.beta.kubernetes.io/<container>` annotations with a value other
than `runtime/default` or `localhost/<profile>`.

## Why is this bad?
`unconfined` switches off the mandatory access control that stops a compromised process from
writing to `/proc/sys`, mounting filesystems or reaching the host's devices.

## Example
```yaml
securityContext:
  appArmorProfile: {type: Unconfined}
```

## Use instead
```yaml
securityContext:
  appArmorProfile: {type: RuntimeDefault}
```

## References
- Pod Security Standards, baseline: AppArmor
- MITRE ATLAS AML.T0105; ATT&CK T1611
"#;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "K8S007",
        name: "apparmor-unconfined",
        severity: Severity::Medium,
        family: "pod-security",
        summary: "AppArmor profile overridden or disabled",
        controls: &[control::APPARMOR],
        techniques: &["AML.T0105", "T1611"],
        fix: "use appArmorProfile type RuntimeDefault or Localhost",
        doc: DOC,
    },
    check: Check::Pod(check),
};

const ANNOTATION_PREFIX: &str = "container.apparmor.security.beta.kubernetes.io/";

fn bad_type(profile: Option<&Node>) -> Option<(&Node, String)> {
    let p = profile?;
    let ty = p.get("type")?;
    let v = ty.as_str().unwrap_or("");
    (!matches!(v, "RuntimeDefault" | "Localhost")).then(|| (ty, v.to_string()))
}

fn check(t: &PodTemplate, sink: &mut Sink) {
    let meta = t.meta.or_else(|| t.resource.metadata());
    if let Some(ann) = meta.and_then(|m| m.get("annotations")) {
        for (k, v) in ann.entries() {
            let Some(container) = k.as_str().and_then(|k| k.strip_prefix(ANNOTATION_PREFIX)) else {
                continue;
            };
            let value = v.as_str().unwrap_or("");
            if !(value.is_empty() || value == "runtime/default" || value.starts_with("localhost/"))
            {
                sink.pod(
                    t,
                    k.pos,
                    format!("container '{container}' has AppArmor profile '{value}'"),
                );
            }
        }
    }
    if let Some((n, ty)) = bad_type(t.pod_security("appArmorProfile")) {
        sink.pod(t, n.pos, format!("pod sets AppArmor profile type {ty}"));
    }
    for c in &t.containers {
        if let Some((n, ty)) = bad_type(c.security("appArmorProfile")) {
            sink.container(t, c, n.pos, format!("sets AppArmor profile type {ty}"));
        }
    }
}
