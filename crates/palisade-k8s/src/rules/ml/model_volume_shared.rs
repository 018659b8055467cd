use crate::load::Manifests;
use crate::ml::{VolumeSource, holds_models, mounted_volumes};
use crate::rules::{Check, Rule, Sink};
use crate::workload::PodTemplate;
use palisade_core::{RuleMeta, Severity};
use std::collections::BTreeMap;

const DOC: &str = r#"
## What it does
Flags one model volume — the same hostPath, NFS export, or PVC — mounted by workloads of
different namespaces or of different tenants (a `tenant` or `team` label, or one ending in
`/tenant`). The finding is reported on every workload after the first that mounts it.

## Why is this bad?
Namespaces are the tenancy boundary; a shared model volume goes straight through it. One
tenant's compromised model server reads every other tenant's weights (model theft), and if any
mount is writable, replaces them (model poisoning) — the seeds' multi-tenant TF Serving
scenario.

## Example
Two TF Serving Deployments, in namespaces `tenant-a` and `tenant-b`, both mounting
`hostPath: /mnt/models`.

## Use instead
One volume (PVC or bucket prefix) per tenant, mounted read-only, with storage credentials scoped
to that tenant.

## References
- Kubernetes docs, "Multi-tenancy"
- MITRE ATLAS AML.T0035 AI Artifact Collection, AML.T0018 Manipulate AI Model
"#;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "K8S111",
        name: "model-volume-shared-across-tenants",
        severity: Severity::High,
        family: "ml-storage",
        summary: "One model volume shared by workloads of different namespaces or tenants",
        controls: &[],
        techniques: &["AML.T0035", "AML.T0018"],
        fix: "give each tenant its own model volume, mounted read-only",
        doc: DOC,
    },
    check: Check::Manifests(check),
};

fn tenant(t: &PodTemplate) -> Option<String> {
    let mut labels = t.labels();
    labels.extend(t.resource.labels());
    labels
        .into_iter()
        .find(|(k, _)| k == "tenant" || k == "team" || k.ends_with("/tenant"))
        .map(|(_, v)| v)
}

/// (template index, container index, mount position, namespace, tenant, read-only)
type User = (usize, usize, crate::yaml::Pos, String, Option<String>, bool);

fn check(_: &Manifests, templates: &[PodTemplate], sink: &mut Sink) {
    // volume key → users (template index, container index, mount pos, namespace, tenant)
    let mut users: BTreeMap<String, Vec<User>> = BTreeMap::new();
    for (ti, t) in templates.iter().enumerate() {
        if t.resource.kind.ends_with("ServingRuntime") {
            continue;
        }
        let ns = t.resource.effective_namespace().to_string();
        for (ci, c) in t.containers.iter().enumerate() {
            let cl = c.launch();
            for mv in mounted_volumes(t, c) {
                if !holds_models(&mv, &cl.launch.argv) {
                    continue;
                }
                let key = match &mv.source {
                    VolumeSource::HostPath(p) => format!("hostPath {}", p.trim_end_matches('/')),
                    VolumeSource::Nfs(s) => format!("NFS {s}"),
                    VolumeSource::Pvc(c) => format!("PVC {ns}/{c}"),
                    VolumeSource::Other => continue,
                };
                let list = users.entry(key).or_default();
                if !list.iter().any(|u| u.0 == ti) {
                    list.push((ti, ci, mv.mount.pos, ns.clone(), tenant(t), mv.read_only));
                }
            }
        }
    }
    for (key, list) in users {
        let first = &list[0];
        let mut namespaces: Vec<&str> = list.iter().map(|u| u.3.as_str()).collect();
        namespaces.sort();
        namespaces.dedup();
        let mut tenants: Vec<&str> = list.iter().filter_map(|u| u.4.as_deref()).collect();
        tenants.sort();
        tenants.dedup();
        let across = if namespaces.len() > 1 {
            format!("namespaces {}", namespaces.join(", "))
        } else if tenants.len() > 1 {
            format!("tenants {}", tenants.join(", "))
        } else {
            continue;
        };
        let writable = list.iter().any(|u| !u.5);
        let first_t = &templates[first.0];
        for u in &list[1..] {
            let t = &templates[u.0];
            let c = &t.containers[u.1];
            sink.container(
                t,
                c,
                u.2,
                format!(
                    "mounts {key}, which holds models and is shared by workloads in {across} (also {} {}){}",
                    first_t.resource.kind,
                    first_t.resource.name,
                    if writable { "; at least one mount is writable" } else { "" }
                ),
            );
        }
    }
}
