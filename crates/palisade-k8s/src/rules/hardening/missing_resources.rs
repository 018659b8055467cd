use crate::ml::is_gpu_resource;
use crate::rules::{Check, Rule, Sink};
use crate::workload::{ContainerKind, PodTemplate};
use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Flags containers missing CPU, memory or ephemeral-storage requests or limits, and — more
severely — containers that request GPUs (`nvidia.com/gpu`, `amd.com/gpu`, `gpu.intel.com/*`)
in `requests` without the same in `limits`.

## Why is this bad?
Without limits one tenant's runaway batch or a flood of large inference requests starves every
other pod on the node (denial of service, and the OOM killer picks victims); without requests
the scheduler packs pods onto nodes that cannot hold them. Extended resources such as GPUs are
only allocated through `limits`.

## Example
```yaml
resources:
  requests: {nvidia.com/gpu: 1}
```

## Use instead
```yaml
resources:
  requests: {cpu: "2", memory: 8Gi, ephemeral-storage: 10Gi}
  limits: {cpu: "4", memory: 8Gi, ephemeral-storage: 20Gi, nvidia.com/gpu: 1}
```

## References
- CIS Kubernetes Benchmark 5.7 (resource policies)
- MITRE ATLAS AML.T0029 Denial of AI Service; ATT&CK T1499
"#;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "K8S021",
        name: "missing-resource-limits",
        severity: Severity::Low,
        family: "hardening",
        summary: "Container lacks resource requests or limits",
        controls: &[],
        techniques: &["AML.T0029", "T1499"],
        fix: "set resources.requests and resources.limits for cpu, memory and ephemeral-storage (and GPUs in limits)",
        doc: DOC,
    },
    check: Check::Pod(check),
};

fn check(t: &PodTemplate, sink: &mut Sink) {
    for c in t
        .containers
        .iter()
        .filter(|c| c.kind != ContainerKind::Ephemeral)
    {
        let res = c.get("resources");
        let has = |section: &str, key: &str| {
            res.and_then(|r| r.path(&[section, key]))
                .is_some_and(|n| !n.is_null())
        };
        let mut missing = Vec::new();
        for section in ["requests", "limits"] {
            for key in ["cpu", "memory", "ephemeral-storage"] {
                if !has(section, key) {
                    missing.push(format!("{section}.{key}"));
                }
            }
        }
        let pos = c.node.deepest_key_pos(&["resources"]);
        if !missing.is_empty() {
            sink.container(t, c, pos, format!("has no {}", missing.join(", ")));
        }
        if let Some(req) = res.and_then(|r| r.get("requests")) {
            for (k, _) in req.entries() {
                let name = k.as_str().unwrap_or("");
                if is_gpu_resource(name)
                    && !has("limits", name)
                    && let Some(f) = sink.container(t, c, k.pos, format!("requests {name} without a matching limit (GPUs are allocated by limits)"))
                    {
                        f.severity = Severity::Medium;
                    }
            }
        }
    }
}
