use crate::rules::{Check, Rule, Sink};
use crate::workload::PodTemplate;
use crate::yaml::Node;
use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Flags hostPath volumes that expose a container runtime socket (Docker, containerd, CRI-O,
Podman) or the directory holding one.

## Why is this bad?
Whoever talks to the runtime socket starts privileged containers on the node: it is root on
the node, no exploit needed.

## Example
```yaml
volumes:
- name: docker
  hostPath: {path: /var/run/docker.sock}
```

## Use instead
Build images with rootless builders (BuildKit rootless, kaniko) and never mount the socket.

## References
- MITRE ATLAS AML.T0105 Escape to Host; ATT&CK T1611
"#;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "K8S025",
        name: "container-runtime-socket",
        severity: Severity::Critical,
        family: "hardening",
        summary: "Container runtime socket mounted",
        controls: &[],
        techniques: &["AML.T0105", "T1611"],
        fix: "remove the runtime socket volume",
        doc: DOC,
    },
    check: Check::Pod(check),
};

const SOCKETS: &[&str] = &[
    "/var/run/docker.sock",
    "/run/docker.sock",
    "/var/run/containerd/containerd.sock",
    "/run/containerd/containerd.sock",
    "/var/run/crio/crio.sock",
    "/run/crio/crio.sock",
    "/var/run/podman/podman.sock",
    "/run/podman/podman.sock",
    "/var/run/cri-dockerd.sock",
    "/var/run",
    "/run",
    "/var/run/containerd",
    "/run/containerd",
    "/var/run/crio",
    "/run/crio",
];

pub(crate) fn is_runtime_socket(path: &str) -> bool {
    let p = path.trim_end_matches('/');
    SOCKETS.contains(&p)
        || p.ends_with(".sock")
            && (p.contains("docker")
                || p.contains("containerd")
                || p.contains("crio")
                || p.contains("podman"))
}

fn check(t: &PodTemplate, sink: &mut Sink) {
    for v in t.volumes() {
        let Some(path) = v.path(&["hostPath", "path"]) else {
            continue;
        };
        let p = path.as_str().unwrap_or("");
        if is_runtime_socket(p) {
            let name = v.get("name").and_then(Node::as_str).unwrap_or("?");
            sink.pod(
                t,
                path.pos,
                format!("volume '{name}' mounts the container runtime socket {p}"),
            );
        }
    }
}
