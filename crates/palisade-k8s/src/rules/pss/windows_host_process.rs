use super::control;
use crate::rules::{Check, Rule, Sink};
use crate::workload::PodTemplate;
use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Flags Windows HostProcess pods and containers (`windowsOptions.hostProcess: true` at pod or
container level).

## Why is this bad?
A HostProcess container runs directly on the Windows node with the node's privileges: it is
the Windows equivalent of a privileged container.

## Example
```yaml
securityContext:
  windowsOptions:
    hostProcess: true
```

## Use instead
Remove `hostProcess`; run node agents as a separately reviewed DaemonSet in a locked-down
namespace.

## References
- Pod Security Standards, baseline: HostProcess
- MITRE ATLAS AML.T0105; ATT&CK T1611
"#;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "K8S006",
        name: "windows-host-process",
        severity: Severity::Critical,
        family: "pod-security",
        summary: "Windows HostProcess container",
        controls: &[control::WINDOWS_HOST_PROCESS],
        techniques: &["AML.T0105", "T1611"],
        fix: "remove windowsOptions.hostProcess or set it to false",
        doc: DOC,
    },
    check: Check::Pod(check),
};

fn check(t: &PodTemplate, sink: &mut Sink) {
    if let Some(wo) = t.pod_security("windowsOptions")
        && wo.get("hostProcess").is_some_and(|n| n.is_true())
    {
        sink.pod(
            t,
            wo.key_pos("hostProcess"),
            "pod runs as a Windows HostProcess",
        );
    }
    for c in &t.containers {
        if let Some(wo) = c.security("windowsOptions")
            && wo.get("hostProcess").is_some_and(|n| n.is_true())
        {
            sink.container(
                t,
                c,
                wo.key_pos("hostProcess"),
                "runs as a Windows HostProcess",
            );
        }
    }
}
