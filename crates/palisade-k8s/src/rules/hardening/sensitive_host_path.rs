use crate::rules::{Check, Rule, Sink};
use crate::workload::PodTemplate;
use crate::yaml::Node;
use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Flags hostPath volumes of sensitive host locations: `/`, `/etc`, `/root`, `/home`, `/proc`,
`/sys`, `/boot`, `/dev` (GPU device nodes such as `/dev/nvidia*`, `/dev/dri`, `/dev/kfd` named
as such), `/var/lib/kubelet`, `/var/lib/docker`, `/var/lib/containerd`, `/var/log`, and
below them. (Runtime sockets are K8S025.)

## Why is this bad?
These paths hold the node's credentials (kubelet certificates, service account tokens of every
pod), its configuration, and every container's filesystem. Mounting GPU device nodes by hand
bypasses the device plugin's isolation: the pod sees every GPU on the node, including the ones
serving another tenant's model.

## Example
```yaml
volumes:
- name: nvidia
  hostPath: {path: /dev/nvidia0}
```

## Use instead
Request GPUs as `nvidia.com/gpu` limits and let the device plugin inject the devices; read
logs through the logging pipeline, not `/var/log`.

## References
- MITRE ATLAS AML.T0105 Escape to Host, AML.T0035 AI Artifact Collection; ATT&CK T1611
"#;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "K8S026",
        name: "sensitive-host-path",
        severity: Severity::High,
        family: "hardening",
        summary: "Sensitive host path or GPU device mounted",
        controls: &[],
        techniques: &["AML.T0105", "AML.T0035", "T1611"],
        fix: "remove the hostPath volume; request GPUs through the device plugin (resources.limits)",
        doc: DOC,
    },
    check: Check::Pod(check),
};

const SENSITIVE: &[&str] = &[
    "/etc",
    "/root",
    "/home",
    "/proc",
    "/sys",
    "/boot",
    "/dev",
    "/var/lib/kubelet",
    "/var/lib/docker",
    "/var/lib/containerd",
    "/var/log",
    "/var/lib/etcd",
    "/etc/kubernetes",
];

/// Why `path` is sensitive, if it is.
pub(crate) fn sensitivity(path: &str) -> Option<String> {
    let p = path.trim_end_matches('/');
    if p.is_empty() {
        return Some("the node's root filesystem".into());
    }
    let dev = p.strip_prefix("/dev/").unwrap_or("");
    if dev.starts_with("nvidia")
        || dev.starts_with("dri")
        || dev == "kfd"
        || dev.starts_with("accel")
        || dev.starts_with("neuron")
    {
        return Some(format!("GPU/accelerator device {p}"));
    }
    SENSITIVE
        .iter()
        .find(|s| p == **s || p.starts_with(&format!("{s}/")))
        .map(|s| format!("sensitive host path {p} (below {s})"))
}

fn check(t: &PodTemplate, sink: &mut Sink) {
    for v in t.volumes() {
        let Some(path) = v.path(&["hostPath", "path"]) else {
            continue;
        };
        let p = path.as_str().unwrap_or("");
        if super::container_runtime_socket::is_runtime_socket(p) {
            continue;
        }
        if let Some(why) = sensitivity(p) {
            let name = v.get("name").and_then(Node::as_str).unwrap_or("?");
            sink.pod(t, path.pos, format!("volume '{name}' mounts {why}"));
        }
    }
}
