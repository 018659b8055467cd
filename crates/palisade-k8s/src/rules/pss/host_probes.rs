use super::control;
use crate::rules::{Check, Rule, Sink};
use crate::workload::PodTemplate;
use crate::yaml::Node;
use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Flags a `host` set on the `httpGet` or `tcpSocket` handler of a liveness, readiness or startup
probe, or of a `postStart`/`preStop` lifecycle hook.

## Why is this bad?
The kubelet runs probes and hooks from the node. A custom `host` makes it connect wherever the
manifest says — the cloud metadata endpoint, the API server, another tenant's pod: a
server-side request forgery with the node's network position.

## Example
```yaml
livenessProbe:
  httpGet: {host: 169.254.169.254, path: /, port: 80}
```

## Use instead
Leave `host` unset: the probe then targets the pod's own IP.

## References
- Pod Security Standards, baseline: Probes and Lifecycle Hooks (policy ≥ v1.34)
- ATT&CK T1090
"#;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "K8S012",
        name: "probe-host-override",
        severity: Severity::Medium,
        family: "pod-security",
        summary: "Probe or lifecycle hook targets another host",
        controls: &[control::HOST_PROBES],
        techniques: &["T1090"],
        fix: "remove the host field from the probe or lifecycle handler",
        doc: DOC,
    },
    check: Check::Pod(check),
};

fn check(t: &PodTemplate, sink: &mut Sink) {
    for c in &t.containers {
        let mut handlers: Vec<(String, &Node)> = Vec::new();
        for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
            if let Some(p) = c.get(probe) {
                handlers.push((probe.to_string(), p));
            }
        }
        for hook in ["postStart", "preStop"] {
            if let Some(h) = c.node.path(&["lifecycle", hook]) {
                handlers.push((format!("lifecycle {hook}"), h));
            }
        }
        for (what, h) in handlers {
            for kind in ["httpGet", "tcpSocket"] {
                if let Some((k, host)) = h.get(kind).and_then(|x| x.entry("host"))
                    && let Some(v) = host.as_nonempty_str()
                {
                    sink.container(t, c, k.pos, format!("{what} {kind} targets host {v}"));
                }
            }
        }
    }
}
