use super::control;
use crate::rules::{Check, Rule, Sink};
use crate::workload::PodTemplate;
use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Flags containers (init, regular and ephemeral) with `securityContext.privileged: true`.

## Why is this bad?
A privileged container has every capability and every host device, with no seccomp or
AppArmor confinement: it is root on the node. One exploited model server (a pickled model that
runs code, a vulnerable tokenizer) becomes the node, its GPUs, every other tenant's model
weights on it, and the kubelet's credentials.

## Example
```yaml
containers:
- name: server
  image: ghcr.io/acme/sklearn-api:1.4.2
  securityContext:
    privileged: true
```

## Use instead
```yaml
  securityContext:
    privileged: false
    allowPrivilegeEscalation: false
    capabilities: {drop: ["ALL"]}
```
GPU access does not need privilege: request `nvidia.com/gpu` and let the device plugin mount it.

## References
- Pod Security Standards, baseline: Privileged Containers
- MITRE ATLAS AML.T0105 Escape to Host; ATT&CK T1611 Escape to Host
"#;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "K8S001",
        name: "privileged-container",
        severity: Severity::Critical,
        family: "pod-security",
        summary: "Container runs privileged",
        controls: &[control::PRIVILEGED],
        techniques: &["AML.T0105", "T1611"],
        fix: "remove securityContext.privileged or set it to false",
        doc: DOC,
    },
    check: Check::Pod(check),
};

fn check(t: &PodTemplate, sink: &mut Sink) {
    for c in &t.containers {
        if c.security("privileged").is_some_and(|n| n.is_true()) {
            sink.container(t, c, c.security_pos("privileged"), "runs privileged");
        }
    }
}
