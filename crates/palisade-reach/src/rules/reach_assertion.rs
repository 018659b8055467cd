use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Checks the connectivity assertions a team keeps in `palisade.toml` against what the manifests'
NetworkPolicies allow, and reports each allowed connection that an assertion forbids, with the
policy rules that allow it on each side.

```toml
[[reach.assert]]
name = "only the frontend reaches the model server"
to = "app=model-server"           # destinations: a label selector, ns/name, ns/* or "outside"
only_from = ["app=frontend"]      # who may connect (others are violations)
ports = "TCP 8501"                # what they may use

[[reach.assert]]
name = "nothing outside the cluster reaches namespace ml"
from = "outside"
to = "ml/*"                       # no clause: nothing may flow from `from` to `to`

[[reach.assert]]
name = "model servers have no egress except DNS"
from = "component=predictor"
ports = "UDP 53,TCP 53"
```

Clauses: `only_from`, `only_to`, `not_from`, `not_to` (lists of selectors) and `ports`. A
connection in scope (source matches `from`, destination matches `to`; a missing one matches
anything, the outside included) must pass every clause given; with no clause, nothing may flow.

## Why is this bad?
The intended isolation of a model server is easy to lose: a new policy that admits a namespace,
a label copied onto another workload, a rule that names a port range. An assertion keeps the
intent next to the manifests and fails CI when the manifests stop meeting it.

## Example
A policy admits `namespaceSelector: {}` on the model server, so every workload may reach it,
while the assertion says only `app=frontend` may.

## Use instead
Change the NetworkPolicies until `palisade reach --to SELECTOR --explain` shows only the
intended peers; `palisade reach --generate` writes least-privilege policies for an intent.

## References
- Kubernetes docs, "Network Policies"
- netpol-analyzer (np-guard), whose connectivity semantics and output format `palisade reach`
  follows
"#;

pub static META: RuleMeta = RuleMeta {
    code: "K8S131",
    name: "reach-assertion-failed",
    severity: Severity::High,
    family: "network",
    summary: "A connection the NetworkPolicies allow breaks a [[reach.assert]] in palisade.toml",
    controls: &[],
    techniques: &["T1210"],
    fix: "tighten the NetworkPolicy rule named in the message, or correct the assertion",
    doc: DOC,
};
