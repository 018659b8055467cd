use super::control;
use crate::rules::{Check, Rule, Sink};
use crate::workload::PodTemplate;
use crate::yaml::Node;
use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Flags volumes of types outside the restricted set: configMap, csi, downwardAPI, emptyDir,
ephemeral, image, persistentVolumeClaim, projected and secret. (hostPath is K8S003.)

## Why is this bad?
In-tree volume types (nfs, iscsi, rbd, cephfs, gcePersistentDisk, awsElasticBlockStore…) let
the pod author pick a storage server and path directly, bypassing the StorageClass and its
access controls: an NFS model share mounted read-write by every team is how a poisoned model
gets swapped in.

## Example
```yaml
volumes:
- name: models
  nfs: {server: 10.0.0.5, path: /exports/models}
```

## Use instead
A PersistentVolumeClaim bound through a StorageClass, mounted `readOnly: true` where the pod
only loads models.

## References
- Pod Security Standards, restricted: Volume Types
- MITRE ATLAS AML.T0010.003 AI Supply Chain Compromise: Model
"#;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "K8S013",
        name: "restricted-volume-type",
        severity: Severity::Medium,
        family: "pod-security",
        summary: "Volume type outside the restricted set",
        controls: &[control::RESTRICTED_VOLUMES],
        techniques: &["AML.T0010.003"],
        fix: "use a PersistentVolumeClaim, CSI, configMap, secret, projected, emptyDir or image volume",
        doc: DOC,
    },
    check: Check::Pod(check),
};

const ALLOWED: &[&str] = &[
    "name",
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "image",
    "persistentVolumeClaim",
    "projected",
    "secret",
    "hostPath",
];

fn check(t: &PodTemplate, sink: &mut Sink) {
    for v in t.volumes() {
        let name = v.get("name").and_then(Node::as_str).unwrap_or("?");
        for (k, val) in v.entries() {
            let key = k.as_str().unwrap_or("");
            if !ALLOWED.contains(&key) && !val.is_null() {
                sink.pod(
                    t,
                    k.pos,
                    format!("volume '{name}' has restricted type {key}"),
                );
            }
        }
    }
}
