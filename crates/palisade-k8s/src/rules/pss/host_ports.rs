use super::control;
use crate::rules::{Check, Rule, Sink};
use crate::workload::PodTemplate;
use crate::yaml::Node;
use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Flags container ports with a non-zero `hostPort`.

## Why is this bad?
A hostPort opens the port on the node's own address, outside Services and NetworkPolicies: a
Jupyter, Ray or TorchServe management port bound this way is reachable by anything that can
reach the node.

## Example
```yaml
ports:
- containerPort: 8888
  hostPort: 8888
```

## Use instead
Drop `hostPort` and expose the port through a ClusterIP Service, behind an authenticating
ingress if people need it.

## References
- Pod Security Standards, baseline: Host Ports
- MITRE ATLAS AML.T0049 Exploit Public-Facing Application; ATT&CK T1133
"#;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "K8S004",
        name: "host-port",
        severity: Severity::Medium,
        family: "pod-security",
        summary: "Container binds a port on the node (hostPort)",
        controls: &[control::HOST_PORTS],
        techniques: &["AML.T0049", "T1133"],
        fix: "remove hostPort and expose the port through a Service",
        doc: DOC,
    },
    check: Check::Pod(check),
};

fn check(t: &PodTemplate, sink: &mut Sink) {
    for c in &t.containers {
        for p in c.get("ports").map(Node::items).unwrap_or(&[]) {
            if let Some((k, v)) = p.entry("hostPort") {
                let port = v.as_i64().unwrap_or(-1);
                if port != 0 && !v.is_null() {
                    sink.container(
                        t,
                        c,
                        k.pos,
                        format!("binds host port {}", v.as_str().unwrap_or("?")),
                    );
                }
            }
        }
    }
}
