use crate::load::Manifests;
use crate::rules::{Check, Rule, Sink};
use crate::selector::Selector;
use crate::workload::PodTemplate;
use crate::yaml::Node;
use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Flags workloads whose pods no NetworkPolicy in the scanned manifests selects for ingress (a
policy in the same namespace whose `podSelector` matches the pod template's labels and whose
`policyTypes` include Ingress, as they do by default).

## Why is this bad?
A pod no policy selects accepts connections from every pod in the cluster: any compromised
workload — a notebook, a CI runner, another tenant's model — can query, probe or flood the
model server. `palisade reach` shows exactly who can reach what.

## Example
A Deployment `model-server` with label `app: model-server` and no NetworkPolicy.

## Use instead
```yaml
kind: NetworkPolicy
spec:
  podSelector: {matchLabels: {app: model-server}}
  policyTypes: [Ingress]
  ingress:
  - from: [{podSelector: {matchLabels: {app: frontend}}}]
    ports: [{port: 8080}]
```

## References
- CIS Kubernetes Benchmark 5.3.2
- MITRE ATLAS AML.T0040 AI Model Inference API Access; ATT&CK T1021
"#;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "K8S030",
        name: "no-network-policy",
        severity: Severity::Low,
        family: "hardening",
        summary: "No NetworkPolicy selects the workload's pods",
        controls: &[],
        techniques: &["AML.T0040", "T1021"],
        fix: "add a NetworkPolicy that selects these pods and allows only the clients that need them",
        doc: DOC,
    },
    check: Check::Manifests(check),
};

fn applies_to_ingress(spec: &Node) -> bool {
    match spec.get("policyTypes") {
        Some(types) if !types.items().is_empty() => {
            types.items().iter().any(|t| t.as_str() == Some("Ingress"))
        }
        _ => true, // Ingress is always implied when policyTypes is absent
    }
}

fn check(m: &Manifests, templates: &[PodTemplate], sink: &mut Sink) {
    let policies: Vec<(&str, Selector)> = m
        .resources
        .iter()
        .filter(|r| r.kind == "NetworkPolicy" && r.group() == "networking.k8s.io")
        .filter_map(|r| {
            let spec = r.spec()?;
            if !applies_to_ingress(spec) {
                return None;
            }
            let sel = match spec.get("podSelector") {
                Some(s) => Selector::parse(s).ok()?,
                None => Selector::default(),
            };
            Some((r.effective_namespace(), sel))
        })
        .collect();
    for t in templates {
        if t.resource.kind.ends_with("ServingRuntime") {
            continue; // a template for InferenceServices, not pods of its own
        }
        let ns = t.resource.effective_namespace();
        let labels = t.labels();
        if !policies
            .iter()
            .any(|(pns, sel)| *pns == ns && sel.matches(&labels))
        {
            sink.pod(t, t.resource.pos(), format!("no NetworkPolicy selects the pods of {} {} (every pod in the cluster can connect to them)", t.resource.kind, t.resource.name));
        }
    }
}
