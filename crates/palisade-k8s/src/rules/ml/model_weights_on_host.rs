use crate::load::Manifests;
use crate::ml::{VolumeSource, holds_models, mounted_volumes};
use crate::rules::{Check, Rule, Sink};
use crate::workload::PodTemplate;
use crate::yaml::Node;
use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Flags model weights kept on a node's filesystem (a `hostPath` volume that holds models) when the
same folder of manifests (or the same explicit namespace) also runs a pod that can reach the node's
files: a privileged container, `hostPID`, or a `hostPath` mount of `/` or of a folder above the
weights. The finding names that pod.

## Why is this bad?
This is the seeds' breakout scenario: a privileged or host-PID pod (a monitoring agent, a debug
pod, a compromised GPU job) escapes to the node and copies the weights off it — the most valuable
artefact in the cluster, stolen without touching the model server at all.

## Example
A Triton Deployment serving from `hostPath: /mnt/models`, and a `privileged: true` DaemonSet in
the same cluster.

## Use instead
Keep weights in a PVC backed by network storage with per-workload credentials (or an object store
with signed, scoped access), not on node disks; and remove privileged / host-PID pods or confine
them to dedicated nodes.

## References
- Kubernetes docs, "hostPath" (security warning); Pod Security Standards, baseline
- MITRE ATLAS AML.T0035 AI Artifact Collection, AML.T0105 Escape to Host; ATT&CK T1611
"#;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "K8S112",
        name: "model-weights-reachable-from-host",
        severity: Severity::High,
        family: "ml-storage",
        summary: "Model weights on a hostPath that a privileged or host-PID pod can reach",
        controls: &[],
        techniques: &["AML.T0035", "AML.T0105", "T1611"],
        fix: "move weights off node disks (PVC on network storage or object store); remove or isolate privileged/host-PID pods",
        doc: DOC,
    },
    check: Check::Manifests(check),
};

/// Why a template can read any file on its node, if it can.
fn reaches_host(t: &PodTemplate, weights: &str) -> Option<String> {
    if t.get("hostPID").is_some_and(Node::is_true) {
        return Some("hostPID".into());
    }
    if let Some(c) = t
        .containers
        .iter()
        .find(|c| c.security("privileged").is_some_and(Node::is_true))
    {
        return Some(format!("privileged container '{}'", c.name));
    }
    for v in t.volumes() {
        if let Some(p) = v.path(&["hostPath", "path"]).and_then(Node::as_str) {
            let p = p.trim_end_matches('/');
            if p.is_empty() || weights.starts_with(&format!("{p}/")) {
                return Some(format!("hostPath {}", if p.is_empty() { "/" } else { p }));
            }
        }
    }
    None
}

fn folder<'m>(m: &'m Manifests, t: &PodTemplate) -> &'m str {
    let p = m.path_of(t.resource.file());
    p.rsplit_once('/').map_or("", |(d, _)| d)
}

fn check(m: &Manifests, templates: &[PodTemplate], sink: &mut Sink) {
    for (ti, t) in templates.iter().enumerate() {
        for c in &t.containers {
            let cl = c.launch();
            for mv in mounted_volumes(t, c) {
                let VolumeSource::HostPath(path) = mv.source else {
                    continue;
                };
                if !holds_models(&mv, &cl.launch.argv) {
                    continue;
                }
                // Pods of the same deployment unit: the same folder, or the same namespace
                // written on both (objects without one land wherever they are applied).
                let near = |o: &PodTemplate| {
                    folder(m, o) == folder(m, t)
                        || o.resource.namespace.is_some()
                            && o.resource.namespace == t.resource.namespace
                };
                let other = templates.iter().enumerate().find_map(|(oi, o)| {
                    (oi != ti && !o.resource.kind.ends_with("ServingRuntime") && near(o))
                        .then(|| reaches_host(o, path).map(|why| (o, why)))
                        .flatten()
                });
                if let Some((o, why)) = other {
                    sink.container(
                        t,
                        c,
                        mv.volume.pos,
                        format!(
                            "keeps model weights on the node (hostPath {path}), where {} {} ({why}) can read them",
                            o.resource.kind, o.resource.name
                        ),
                    );
                }
            }
        }
    }
}
