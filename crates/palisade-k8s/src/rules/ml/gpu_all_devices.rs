use crate::ml::is_gpu_resource;
use crate::rules::{Check, Rule, Sink};
use crate::workload::PodTemplate;
use crate::yaml::Node;
use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Flags containers that set `NVIDIA_VISIBLE_DEVICES` themselves — `all`, or a list of GPU
indices. Without a GPU limit the container is handed the GPUs it names, outside the device
plugin's accounting; with a limit, NVIDIA's container runtime (which by default accepts the
variable from unprivileged containers) still exposes every GPU named, not only the one allocated.

## Why is this bad?
The pod sees — and can use, fill or read the memory of — GPUs the scheduler gave to other pods:
another tenant's model and data in GPU memory, or a denial of service on their jobs.

## Example
```yaml
env:
- {name: NVIDIA_VISIBLE_DEVICES, value: all}
```

## Use instead
Request `nvidia.com/gpu: N` and let the device plugin set the variable; configure the NVIDIA
container toolkit with `accept-nvidia-visible-devices-envvar-when-unprivileged = false`.

## References
- NVIDIA k8s-device-plugin, "Preventing unprivileged access to GPUs" (the envvar and volume-mounts
  strategies)
- MITRE ATLAS AML.T0029 Denial of AI Service, AML.T0035 AI Artifact Collection
"#;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "K8S121",
        name: "gpu-visible-devices-override",
        severity: Severity::High,
        family: "ml-gpu",
        summary: "NVIDIA_VISIBLE_DEVICES set by hand (GPUs outside the device plugin's allocation)",
        controls: &[],
        techniques: &["AML.T0029", "AML.T0035"],
        fix: "remove NVIDIA_VISIBLE_DEVICES and request nvidia.com/gpu; disable the envvar strategy in the NVIDIA toolkit",
        doc: DOC,
    },
    check: Check::Pod(check),
};

fn check(t: &PodTemplate, sink: &mut Sink) {
    for c in &t.containers {
        let Some(v) = c
            .get("env")
            .map(Node::items)
            .unwrap_or(&[])
            .iter()
            .find_map(|e| {
                (e.get("name").and_then(Node::as_str) == Some("NVIDIA_VISIBLE_DEVICES"))
                    .then(|| e.get("value"))
                    .flatten()
            })
        else {
            continue;
        };
        let value = v.as_str().unwrap_or("");
        if matches!(value, "" | "none" | "void") {
            continue;
        }
        let limited = c.node.path(&["resources", "limits"]).is_some_and(|l| {
            l.entries()
                .any(|(k, _)| k.as_str().is_some_and(is_gpu_resource))
        });
        if limited {
            if let Some(f) = sink.container(t, c, v.pos, format!("sets NVIDIA_VISIBLE_DEVICES={value} next to a GPU limit: with the default NVIDIA runtime setting it sees every GPU named, not only the one allocated")) {
                f.severity = Severity::Medium;
            }
        } else {
            sink.container(t, c, v.pos, format!("sets NVIDIA_VISIBLE_DEVICES={value} without a GPU limit: it uses GPUs outside the device plugin's allocation"));
        }
    }
}
