use crate::ml::{VolumeSource, holds_models, mounted_volumes, servers};
use crate::rules::{Check, Rule, Sink};
use crate::workload::PodTemplate;
use palisade_core::ml::Server;
use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Flags a model server (TorchServe, Triton, TF Serving, vLLM, TGI, SGLang, Ollama, or the model
container of a KServe InferenceService or Seldon deployment) that mounts the volume holding its
models — a PVC, an NFS share or a hostPath — read-write. A volume holds models when its name,
claim, path or mount path says so, or the server's arguments point into it.

## Why is this bad?
Serving only reads models. A writable model volume lets a compromised server (one deserialisation
bug, one malicious input that reaches code execution) replace the weights that it — and every
other replica mounting the same volume — serves next: a persistent, silent model swap.

## Example
```yaml
volumeMounts:
- {name: model-store, mountPath: /models}
```

## Use instead
```yaml
volumeMounts:
- {name: model-store, mountPath: /models, readOnly: true}
```
and write models from a separate, audited publishing job.

## References
- Kubernetes docs, "Volumes" (`readOnly`)
- MITRE ATLAS AML.T0018 Manipulate AI Model, AML.T0010.003 AI Supply Chain Compromise: Model
"#;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "K8S110",
        name: "model-volume-writable",
        severity: Severity::Medium,
        family: "ml-storage",
        summary: "Model server mounts its model volume read-write",
        controls: &[],
        techniques: &["AML.T0018", "AML.T0010.003"],
        fix: "mount the model volume with readOnly: true",
        doc: DOC,
    },
    check: Check::Pod(check),
};

fn is_model_server(s: Server) -> bool {
    !matches!(s, Server::Jupyter | Server::Mlflow | Server::RayHead)
}

fn check(t: &PodTemplate, sink: &mut Sink) {
    let serving_crd = matches!(
        t.resource.kind.as_str(),
        "InferenceService" | "SeldonDeployment"
    );
    let mut targets: Vec<_> = servers(t)
        .into_iter()
        .filter(|(_, s, _)| is_model_server(*s))
        .map(|(c, s, cl)| (c, Some(s), cl))
        .collect();
    if targets.is_empty() && serving_crd {
        targets = t
            .containers
            .iter()
            .take(1)
            .map(|c| (c, None, c.launch()))
            .collect();
    }
    for (c, server, cl) in targets {
        for mv in mounted_volumes(t, c) {
            if mv.read_only
                || mv.source == VolumeSource::Other
                || !holds_models(&mv, &cl.launch.argv)
            {
                continue;
            }
            let who = server.map_or("the model server", |s| s.label());
            let host = matches!(mv.source, VolumeSource::HostPath(_));
            if let Some(f) = sink.container(
                t,
                c,
                mv.mount.pos,
                format!(
                    "({who}) mounts model volume '{}' ({}) read-write at {}: a compromised server can replace the weights it serves",
                    mv.volume_name,
                    mv.source.describe(),
                    mv.mount_path
                ),
            ) && host
            {
                f.severity = Severity::High;
            }
        }
    }
}
