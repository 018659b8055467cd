use super::control;
use crate::rules::{Check, Rule, Sink};
use crate::workload::PodTemplate;
use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Flags pods that share the node's network, process or IPC namespace (`hostNetwork`, `hostPID`,
`hostIPC` set to true).

## Why is this bad?
`hostPID` lets the pod see and signal every process on the node (and read their environment
and memory through `/proc`); `hostNetwork` puts it on the node's interfaces, past every
NetworkPolicy, able to reach the kubelet and cloud metadata endpoints and to sniff traffic;
`hostIPC` exposes shared memory of other workloads — including the shared-memory segments that
inference servers and NCCL use for tensors.

## Example
```yaml
spec:
  hostNetwork: true   # "for NCCL performance"
```

## Use instead
Remove the fields. For multi-node training use the CNI's RDMA/SR-IOV support or a
secondary network (Multus) instead of the host network.

## References
- Pod Security Standards, baseline: Host Namespaces
- MITRE ATLAS AML.T0105 Escape to Host; ATT&CK T1611
"#;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "K8S002",
        name: "host-namespaces",
        severity: Severity::High,
        family: "pod-security",
        summary: "Pod shares the host's network, PID or IPC namespace",
        controls: &[control::HOST_NAMESPACES],
        techniques: &["AML.T0105", "T1611"],
        fix: "remove hostNetwork, hostPID and hostIPC or set them to false",
        doc: DOC,
    },
    check: Check::Pod(check),
};

fn check(t: &PodTemplate, sink: &mut Sink) {
    for field in ["hostNetwork", "hostPID", "hostIPC"] {
        if t.get(field).is_some_and(|n| n.is_true()) {
            sink.pod(t, t.spec.key_pos(field), format!("pod sets {field}: true"));
        }
    }
}
