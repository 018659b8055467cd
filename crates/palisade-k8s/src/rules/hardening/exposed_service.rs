use crate::load::Resource;
use crate::rules::{Check, Rule, Sink};
use crate::yaml::Node;
use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Flags Services of type `LoadBalancer` or `NodePort`.

## Why is this bad?
They publish the workload beyond the cluster (a cloud load balancer, or a port on every node).
Model servers, notebooks and Ray dashboards have no authentication of their own: exposed this
way, anyone who finds the address can query, extract or replace the model.

## Example
```yaml
kind: Service
spec:
  type: LoadBalancer
```

## Use instead
`type: ClusterIP` behind an Ingress or gateway that authenticates (or `palisade guard`), and
`loadBalancerSourceRanges` when a load balancer is unavoidable.

## References
- MITRE ATLAS AML.T0049 Exploit Public-Facing Application, AML.T0040 AI Model Inference API
  Access; ATT&CK T1133
"#;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "K8S029",
        name: "exposed-service",
        severity: Severity::Medium,
        family: "hardening",
        summary: "Service exposed outside the cluster (LoadBalancer/NodePort)",
        controls: &[],
        techniques: &["AML.T0049", "AML.T0040", "T1133"],
        fix: "use type ClusterIP behind an authenticating ingress or gateway",
        doc: DOC,
    },
    check: Check::Resource(check),
};

fn check(r: &Resource, sink: &mut Sink) {
    if r.kind != "Service" || r.group() != "" {
        return;
    }
    let Some(ty) = r.root.path(&["spec", "type"]) else {
        return;
    };
    let t = ty.as_str().unwrap_or("");
    if t == "LoadBalancer" || t == "NodePort" {
        let restricted = r
            .root
            .path(&["spec", "loadBalancerSourceRanges"])
            .is_some_and(|n| !n.items().is_empty());
        let ports: Vec<String> = r
            .root
            .path(&["spec", "ports"])
            .map(Node::items)
            .unwrap_or(&[])
            .iter()
            .filter_map(|p| p.get("port").and_then(Node::as_str).map(str::to_string))
            .collect();
        let mut msg = format!(
            "Service {} is of type {t} (ports {})",
            r.name,
            if ports.is_empty() {
                "?".into()
            } else {
                ports.join(", ")
            }
        );
        if restricted {
            msg.push_str("; source ranges are restricted");
        }
        if let Some(f) = sink.report(r, ty.pos, msg)
            && restricted
        {
            f.severity = Severity::Low;
        }
    }
}
