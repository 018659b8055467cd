use crate::rules::{Check, Rule, Sink};
use crate::workload::{ContainerKind, PodTemplate};
use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Flags containers without `securityContext.readOnlyRootFilesystem: true`.

## Why is this bad?
A writable root filesystem lets an attacker who gets code execution (a malicious pickle is
enough) drop tools, replace the serving code or the model file in place, and persist across
requests. Model servers only need to write to caches and temp directories.

## Example
```yaml
securityContext:
  runAsNonRoot: true
```

## Use instead
```yaml
securityContext:
  readOnlyRootFilesystem: true
volumeMounts:
- {name: tmp, mountPath: /tmp}   # an emptyDir for what must be written
```

## References
- CIS Kubernetes Benchmark 5.7.3 (immutable root filesystems)
- MITRE ATLAS AML.T0010.003 (model swapped in place); ATT&CK T1036
"#;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "K8S020",
        name: "writable-root-filesystem",
        severity: Severity::Low,
        family: "hardening",
        summary: "Container root filesystem is writable",
        controls: &[],
        techniques: &["AML.T0010.003"],
        fix: "set securityContext.readOnlyRootFilesystem: true and mount an emptyDir where writes are needed",
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
        if !c
            .security("readOnlyRootFilesystem")
            .is_some_and(|n| n.is_true())
        {
            sink.container(
                t,
                c,
                c.security_pos("readOnlyRootFilesystem"),
                "has a writable root filesystem",
            );
        }
    }
}
