use crate::rules::{Check, Rule, Sink};
use crate::workload::PodTemplate;
use crate::yaml::Node;
use palisade_core::{RuleMeta, Severity};
use std::collections::HashSet;

const DOC: &str = r#"
## What it does
Flags pods that get a Kubernetes API token mounted: `automountServiceAccountToken` is not
false on the pod, nor on its ServiceAccount when that is in the manifests.

## Why is this bad?
Model servers, notebooks and training pods almost never call the Kubernetes API. A mounted
token turns any code execution in them (a malicious model, a notebook) into API access with
whatever the service account can do.

## Example
```yaml
spec:
  containers: [...]
```

## Use instead
```yaml
spec:
  automountServiceAccountToken: false
```

## References
- CIS Kubernetes Benchmark 5.1.6
- MITRE ATLAS AML.T0012 Valid Accounts; ATT&CK T1528 Steal Application Access Token
"#;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "K8S022",
        name: "service-account-token-automount",
        severity: Severity::Low,
        family: "hardening",
        summary: "Service account token mounted into the pod",
        controls: &[],
        techniques: &["AML.T0012", "T1528"],
        fix: "set automountServiceAccountToken: false on the pod (or its ServiceAccount)",
        doc: DOC,
    },
    check: Check::Manifests(check),
};

fn check(m: &crate::load::Manifests, templates: &[PodTemplate], sink: &mut Sink) {
    // ServiceAccounts (namespace, name) that turn automounting off for their pods.
    let opted_out: HashSet<(&str, &str)> = m
        .resources
        .iter()
        .filter(|r| {
            r.kind == "ServiceAccount"
                && r.root
                    .get("automountServiceAccountToken")
                    .and_then(Node::as_bool)
                    == Some(false)
        })
        .map(|r| (r.effective_namespace(), r.name.as_str()))
        .collect();
    for t in templates {
        match t
            .get("automountServiceAccountToken")
            .and_then(Node::as_bool)
        {
            Some(false) => {}
            Some(true) => {
                sink.pod(
                    t,
                    t.spec.key_pos("automountServiceAccountToken"),
                    "pod mounts a service account token (automountServiceAccountToken: true)",
                );
            }
            None => {
                let sa = t.service_account();
                if !opted_out.contains(&(t.resource.effective_namespace(), sa)) {
                    sink.pod(
                        t,
                        t.spec.pos,
                        format!("pod mounts the token of service account '{sa}' (automountServiceAccountToken is not false)"),
                    );
                }
            }
        }
    }
}
