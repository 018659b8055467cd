use crate::analysis::{Network, RuleId};
use crate::ipblock::IpRange;
use crate::policy::Peer;
use palisade_core::{RuleMeta, Severity};
use palisade_k8s::yaml::Pos;

const DOC: &str = r#"
## What it does
Finds ML servers, notebooks and ML control planes (recognised by what starts them, as the
ml-exposure rules do: Jupyter, the Ray head, MLflow, TorchServe, Triton, TF Serving, vLLM, TGI,
SGLang, Ollama) whose pods any workload or the outside can reach without restriction:
- no NetworkPolicy selects the pods for ingress, so every pod in the cluster and every address
  that can route to them may connect on every port; or
- a NetworkPolicy ingress rule admits everyone: no `from` at all, an `ipBlock` of `0.0.0.0/0`
  or `::/0`, or `namespaceSelector: {}` without a pod selector (every pod of every namespace).

The message names the server, the policy rule that opens it (or the absence of one) and the
ports it opens.

## Why is this bad?
A compromised pod anywhere in the cluster (a web frontend, a CI runner, a tenant's notebook) can
then drive the server: load a model that runs code through TorchServe's or Triton's management
API, submit a job to the Ray head (ShadowRay), read another team's notebooks, or query a model
until it is extracted. Inside the cluster these servers usually have no authentication at all.

## Example
```yaml
kind: NetworkPolicy
spec:
  podSelector: {matchLabels: {app: model-server}}
  ingress:
  - {}            # admits every source
```

## Use instead
A default-deny policy for the namespace and one rule admitting only the callers
(`palisade reach --generate` writes them), then `palisade reach --to app=model-server` to see
who is left.

## References
- Kubernetes docs, "Network Policies" (isolation and default-deny)
- MITRE ATLAS AML.T0040 AI Model Inference API Access, AML.T0024 Exfiltration via AI Inference
  API; ATT&CK T1210 Exploitation of Remote Services
"#;

pub static META: RuleMeta = RuleMeta {
    code: "K8S130",
    name: "ml-server-reachable-unrestricted",
    severity: Severity::Medium,
    family: "network",
    summary: "ML server that every workload or the outside may reach (no NetworkPolicy restricts it)",
    controls: &[],
    techniques: &["AML.T0040", "AML.T0024", "T1210"],
    fix: "add a default-deny NetworkPolicy and admit only the callers (palisade reach --generate)",
    doc: DOC,
};

/// Why a rule admits everyone, if it does.
fn admits_everyone(net: &Network, id: RuleId) -> Option<&'static str> {
    let rule = net.rule(id);
    let Some(peers) = &rule.peers else {
        return Some("it has no `from`, so it admits every source");
    };
    peers.iter().find_map(|p| match p {
        Peer::Ip(b) if b.cidr == IpRange::whole_v4() || b.cidr == IpRange::whole_v6() => {
            Some("its ipBlock admits the whole internet")
        }
        Peer::Pods {
            namespaces: Some(ns),
            pods,
        } if ns.is_empty() && pods.as_ref().is_none_or(|p| p.is_empty()) => {
            Some("`namespaceSelector: {}` admits every pod of every namespace")
        }
        _ => None,
    })
}

/// (workload index, position, message) for each finding.
pub fn check(net: &Network) -> Vec<(usize, Pos, String)> {
    let mut out = Vec::new();
    for (wi, w) in net.topo.workloads.iter().enumerate() {
        if w.ml_servers.is_empty() {
            continue;
        }
        let what = w.ml_servers.join(" and ");
        let mut seen = Vec::new();
        for &e in &w.endpoints {
            match net.ingress_rules(e) {
                None => {
                    if !seen.contains(&None) {
                        seen.push(None);
                        out.push((
                            wi,
                            w.pos,
                            format!(
                                "{what} in {} can be reached from every pod and from outside the cluster on every port: no NetworkPolicy selects its pods for ingress",
                                w.id()
                            ),
                        ));
                    }
                }
                Some(rules) => {
                    for &id in rules {
                        let Some(why) = admits_everyone(net, id) else {
                            continue;
                        };
                        if seen.contains(&Some(id)) {
                            continue;
                        }
                        seen.push(Some(id));
                        let rule = net.rule(id);
                        let c = net.rule_conns(id, &net.topo.endpoints[e].named_ports);
                        if c.is_empty() {
                            continue;
                        }
                        let ports = if c.is_all() {
                            "every port".to_string()
                        } else {
                            c.to_string()
                        };
                        out.push((
                            wi,
                            rule.pos,
                            format!(
                                "{what} in {} is open to everyone on {ports}: NetworkPolicy {} spec.ingress[{}] — {why}",
                                w.id(),
                                net.policies[id.policy].id(),
                                id.rule
                            ),
                        ));
                    }
                }
            }
        }
    }
    out
}
