use super::control;
use crate::rules::{Check, Rule, Sink};
use crate::workload::PodTemplate;
use crate::yaml::Node;
use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Flags pod sysctls outside the safe set of policy v1.37: `kernel.shm_rmid_forced`,
`net.ipv4.ip_local_port_range`, `net.ipv4.ip_unprivileged_port_start`,
`net.ipv4.tcp_syncookies`, `net.ipv4.ping_group_range`, `net.ipv4.ip_local_reserved_ports`,
`net.ipv4.tcp_keepalive_time`, `net.ipv4.tcp_fin_timeout`, `net.ipv4.tcp_keepalive_intvl`,
`net.ipv4.tcp_keepalive_probes`, `net.ipv4.tcp_rmem`, `net.ipv4.tcp_wmem`,
`net.ipv4.tcp_slow_start_after_idle`, `net.ipv4.tcp_notsent_lowat`.

## Why is this bad?
Other sysctls are not namespaced, or affect the whole node: one pod tuning `kernel.*` or
`vm.*` for a training job changes every tenant's node.

## Example
```yaml
securityContext:
  sysctls:
  - {name: kernel.shmmax, value: "68719476736"}
```

## Use instead
Remove the sysctl; size shared memory with an `emptyDir` of `medium: Memory` mounted at
`/dev/shm`, or tune the node pool.

## References
- Pod Security Standards, baseline: Sysctls
"#;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "K8S011",
        name: "unsafe-sysctls",
        severity: Severity::High,
        family: "pod-security",
        summary: "Pod sets a sysctl outside the safe set",
        controls: &[control::SYSCTLS],
        techniques: &["T1611"],
        fix: "remove the sysctl or tune the node pool instead",
        doc: DOC,
    },
    check: Check::Pod(check),
};

const SAFE: &[&str] = &[
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
    "net.ipv4.tcp_rmem",
    "net.ipv4.tcp_wmem",
    "net.ipv4.tcp_slow_start_after_idle",
    "net.ipv4.tcp_notsent_lowat",
];

fn check(t: &PodTemplate, sink: &mut Sink) {
    for s in t.pod_security("sysctls").map(Node::items).unwrap_or(&[]) {
        let name = s.get("name").and_then(Node::as_str).unwrap_or("");
        if !SAFE.contains(&name) {
            sink.pod(
                t,
                s.key_pos("name"),
                format!("pod sets unsafe sysctl {name}"),
            );
        }
    }
}
