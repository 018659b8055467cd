use crate::load::Resource;
use crate::rules::{Check, Rule, Sink};
use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Flags resources placed explicitly in the `default` namespace. (Manifests without a namespace
are not flagged: they land wherever they are applied, which `helm`/`kubectl -n` decide.)

## Why is this bad?
`default` is where everything without a home ends up: its service accounts, policies and quotas
are shared by accident, and no NetworkPolicy or Pod Security label is usually set there.

## Example
```yaml
metadata:
  namespace: default
```

## Use instead
A namespace per team or model-serving stack, labelled for Pod Security admission:
```yaml
metadata:
  namespace: ml-serving
```

## References
- CIS Kubernetes Benchmark 5.7.4
"#;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "K8S028",
        name: "default-namespace",
        severity: Severity::Low,
        family: "hardening",
        summary: "Resource placed in the default namespace",
        controls: &[],
        techniques: &[],
        fix: "use a dedicated namespace",
        doc: DOC,
    },
    check: Check::Resource(check),
};

fn check(r: &Resource, sink: &mut Sink) {
    if r.namespace.as_deref() == Some("default") {
        let pos = r.root.deepest_key_pos(&["metadata", "namespace"]);
        sink.report(
            r,
            pos,
            format!("{} {} is in the default namespace", r.kind, r.name),
        );
    }
}
