use crate::rules::{Check, Rule, Sink};
use crate::workload::PodTemplate;
use crate::yaml::Node;
use palisade_core::{RuleMeta, Severity};

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
    for t in templates {
        match t
            .get("automountServiceAccountToken")
            .and_then(Node::as_bool)
        {
            Some(false) => continue,
            Some(true) => {
                sink.pod(
                    t,
                    t.spec.key_pos("automountServiceAccountToken"),
                    "pod mounts a service account token (automountServiceAccountToken: true)",
                );
                continue;
            }
            None => {}
        }
        let sa = t.service_account();
        let ns = t.resource.effective_namespace();
        let sa_off = m.resources.iter().any(|r| {
            r.kind == "ServiceAccount"
                && r.name == sa
                && r.effective_namespace() == ns
                && r.root
                    .get("automountServiceAccountToken")
                    .and_then(Node::as_bool)
                    == Some(false)
        });
        if !sa_off {
            sink.pod(t, t.spec.pos, format!("pod mounts the token of service account '{sa}' (automountServiceAccountToken is not false)"));
        }
    }
}
