use super::control;
use crate::rules::{Check, Rule, Sink};
use crate::workload::PodTemplate;
use crate::yaml::Node;
use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Flags Linux containers that do not drop `ALL` capabilities, or that add back anything but
`NET_BIND_SERVICE` from the default set. (Capabilities beyond the default set are K8S005;
Windows pods are exempt.)

## Why is this bad?
Containers start with the runtime's default capabilities (CHOWN, DAC_OVERRIDE, SETUID, NET_RAW
on some runtimes…). A model server needs none of them, and each is a step an attacker can use.

## Example
```yaml
securityContext:
  capabilities:
    add: ["CHOWN"]
```

## Use instead
```yaml
securityContext:
  capabilities:
    drop: ["ALL"]
```

## References
- Pod Security Standards, restricted: Capabilities
- ATT&CK T1548
"#;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "K8S015",
        name: "capabilities-not-dropped",
        severity: Severity::Low,
        family: "pod-security",
        summary: "Container keeps default capabilities",
        controls: &[control::CAPABILITIES_RESTRICTED],
        techniques: &["T1548"],
        fix: "set securityContext.capabilities.drop: [\"ALL\"] and add back only NET_BIND_SERVICE",
        doc: DOC,
    },
    check: Check::Pod(check),
};

fn check(t: &PodTemplate, sink: &mut Sink) {
    if t.is_windows() {
        return;
    }
    for c in &t.containers {
        let caps = c.security("capabilities");
        let drops_all = caps
            .and_then(|x| x.get("drop"))
            .map(Node::items)
            .unwrap_or(&[])
            .iter()
            .any(|d| d.as_str() == Some("ALL"));
        if !drops_all {
            let pos = c
                .node
                .deepest_key_pos(&["securityContext", "capabilities", "drop"]);
            sink.container(t, c, pos, "does not drop ALL capabilities");
        }
        for cap in caps
            .and_then(|x| x.get("add"))
            .map(Node::items)
            .unwrap_or(&[])
        {
            let name = cap.as_str().unwrap_or("");
            if name != "NET_BIND_SERVICE"
                && super::dangerous_capabilities::BASELINE_ALLOWED.contains(&name)
            {
                sink.container(t, c, cap.pos, format!("adds capability {name}"));
            }
        }
    }
}
