use crate::ml::uses_gpu;
use crate::rules::{Check, Rule, Sink};
use crate::workload::PodTemplate;
use crate::yaml::Node;
use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Flags GPU and accelerator workloads that run `privileged: true` instead of requesting
`nvidia.com/gpu` (or `amd.com/gpu`, `google.com/tpu`) from the device plugin. GPU infrastructure
itself (device plugins, drivers, DCGM, the GPU operator) is not flagged. Mounting the device
nodes (`/dev/nvidia*`, `/dev/dri`, `/dev/kfd`) as `hostPath` volumes is `K8S025`'s finding.

## Why is this bad?
Privileged mode hands the container every device and capability on the node — the usual first
step of a container escape — and direct device mounts bypass the device plugin's allocation, so
the pod can use, read the memory of, or reset GPUs allocated to other tenants' jobs.

## Example
```yaml
securityContext: {privileged: true}   # "so CUDA can see the GPU"
```

## Use instead
```yaml
resources:
  limits: {nvidia.com/gpu: 1}
```
with the NVIDIA device plugin (or GPU operator) installed, and no privileged mode.

## References
- NVIDIA k8s-device-plugin docs; Kubernetes docs, "Schedule GPUs"
- MITRE ATLAS AML.T0105 Escape to Host; ATT&CK T1611
"#;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "K8S120",
        name: "gpu-privileged-access",
        severity: Severity::High,
        family: "ml-gpu",
        summary: "GPU reached through privileged mode instead of the device plugin",
        controls: &[],
        techniques: &["AML.T0105", "T1611"],
        fix: "request nvidia.com/gpu from the device plugin and drop privileged mode",
        doc: DOC,
    },
    check: Check::Pod(check),
};

/// GPU infrastructure that legitimately needs device access.
fn is_gpu_infrastructure(image: &str) -> bool {
    let i = image.to_ascii_lowercase();
    [
        "device-plugin",
        "gpu-operator",
        "driver",
        "dcgm",
        "container-toolkit",
        "gpu-feature-discovery",
        "mig-manager",
        "k8s-device",
        "node-feature-discovery",
        "vgpu",
        "nccl",
        "installer",
    ]
    .iter()
    .any(|w| i.contains(w))
}

fn check(t: &PodTemplate, sink: &mut Sink) {
    for c in &t.containers {
        if is_gpu_infrastructure(c.image().unwrap_or("")) {
            continue;
        }
        if uses_gpu(c)
            && let Some(p) = c.security("privileged").filter(|n| Node::is_true(n))
        {
            sink.container(t, c, p.pos, "runs privileged to reach its accelerators: request them from the device plugin (nvidia.com/gpu, google.com/tpu limits) instead");
        }
    }
}
