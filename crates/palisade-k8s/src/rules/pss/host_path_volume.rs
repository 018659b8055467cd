use super::control;
use crate::rules::{Check, Rule, Sink};
use crate::workload::PodTemplate;
use crate::yaml::Node;
use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Flags `hostPath` volumes.

## Why is this bad?
A hostPath volume hands the container a piece of the node's filesystem. Written to, it plants
files the node or other pods will run; read from, it leaks other workloads' data — a shared
`/mnt/models` hostPath is exactly how one tenant copies another's model weights. Sensitive paths
(the container runtime socket, `/`, `/etc`, `/var/lib/kubelet`, GPU device nodes) are flagged
again, more severely, by K8S025 and K8S026.

## Example
```yaml
volumes:
- name: models
  hostPath: {path: /mnt/models}
```

## Use instead
A PersistentVolumeClaim (ReadOnlyMany for shared model stores), a CSI volume, or an
`image` volume carrying the model.

## References
- Pod Security Standards, baseline: HostPath Volumes; restricted: Volume Types
- MITRE ATLAS AML.T0035 AI Artifact Collection; ATT&CK T1611
"#;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "K8S003",
        name: "host-path-volume",
        severity: Severity::High,
        family: "pod-security",
        summary: "Pod mounts a hostPath volume",
        controls: &[control::HOST_PATH_VOLUMES, control::RESTRICTED_VOLUMES],
        techniques: &["AML.T0035", "T1611"],
        fix: "replace the hostPath volume with a PersistentVolumeClaim, CSI or image volume",
        doc: DOC,
    },
    check: Check::Pod(check),
};

fn check(t: &PodTemplate, sink: &mut Sink) {
    for v in t.volumes() {
        if let Some((k, hp)) = v.entry("hostPath") {
            let name = v.get("name").and_then(Node::as_str).unwrap_or("?");
            let path = hp.get("path").and_then(Node::as_str).unwrap_or("?");
            sink.pod(t, k.pos, format!("volume '{name}' mounts host path {path}"));
        }
    }
}
