use crate::rules::{Check, Rule, Sink};
use crate::workload::PodTemplate;
use crate::yaml::Node;
use palisade_core::ml::flag_value;
use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Flags model servers that download a model from a hub (Hugging Face) by name at start without
pinning it to a commit: `vllm serve org/model` or `--model org/model` without `--revision <sha>`;
TGI `--model-id` / `MODEL_ID` without `--revision` / `REVISION`; KServe's Hugging Face runtime
`--model_id` without `--model_revision`; SGLang `--model-path` without `--revision`; KServe
`hf://org/model` storage URIs without a revision. A branch or tag name (`main`) is not a pin:
only a 40-character commit hash is.

## Why is this bad?
The hub serves whatever the repository holds today. A new commit — by the owner, a compromised
account, or a malicious pull request merged upstream — changes the model every replica loads at
its next restart, silently: different behaviour, a backdoor, or new remote code.

## Example
```yaml
args: ["vllm", "serve", "meta-llama/Llama-3.1-8B-Instruct"]
```

## Use instead
```yaml
args: ["vllm", "serve", "meta-llama/Llama-3.1-8B-Instruct",
       "--revision", "0e9e39f249a16976918f6564b8830bc894c89659"]
```
or serve from your own verified copy (`palisade model sign/verify`).

## References
- Hugging Face Hub docs, "Revisions"; vLLM engine arguments (`--revision`)
- MITRE ATLAS AML.T0010.003 AI Supply Chain Compromise: Model
"#;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "K8S104",
        name: "model-revision-unpinned",
        severity: Severity::Medium,
        family: "ml-supply-chain",
        summary: "Hub model loaded at start without a pinned commit",
        controls: &[],
        techniques: &["AML.T0010.003"],
        fix: "pin the model to a commit hash (--revision <sha>) or serve a verified copy",
        doc: DOC,
    },
    check: Check::Pod(check),
};

/// `org/name`: a hub repository id, not a path or URL.
fn is_hub_id(s: &str) -> bool {
    let parts: Vec<&str> = s.split('/').collect();
    parts.len() == 2
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        })
        && !s.starts_with('.')
}

fn is_commit(s: &str) -> bool {
    s.len() == 40 && s.chars().all(|c| c.is_ascii_hexdigit())
}

fn check(t: &PodTemplate, sink: &mut Sink) {
    if t.resource.kind == "InferenceService"
        && let Some(role) = t.role.as_deref()
        && let Some(comp) = t.resource.spec().and_then(|s| s.get(role))
    {
        let mut nodes: Vec<&Node> = comp.get("storageUri").into_iter().collect();
        for (_, v) in comp.entries() {
            nodes.extend(v.get("storageUri"));
        }
        for n in nodes {
            if let Some(id) = n.as_str().and_then(|u| u.strip_prefix("hf://")) {
                let pinned = id
                    .rsplit_once([':', '@'])
                    .is_some_and(|(_, rev)| is_commit(rev));
                if !pinned {
                    sink.pod(
                        t,
                        n.pos,
                        format!("downloads hf://{id} without a pinned commit"),
                    );
                }
            }
        }
    }
    for c in &t.containers {
        let cl = c.launch();
        let argv = &cl.launch.argv;
        let model = flag_value(
            argv,
            &[
                "--model",
                "--model-id",
                "--model_id",
                "--model-path",
                "--model_name_or_path",
            ],
        )
        .or_else(|| {
            argv.windows(3)
                .position(|w| w[0].ends_with("vllm") && w[1] == "serve")
                .map(|i| (i + 2, argv[i + 2].as_str()))
        });
        let (pos, id) = match model {
            Some((i, id)) => {
                let k = if argv[i].contains('=') || !argv[i].starts_with("--") {
                    i
                } else {
                    i + 1
                };
                (
                    cl.argv_pos.get(k).copied().unwrap_or(c.node.pos),
                    id.to_string(),
                )
            }
            // TGI and the Hugging Face inference images read the model from MODEL_ID.
            None if c.image().is_some_and(|i| {
                i.contains("text-generation-inference") || i.contains("huggingface")
            }) =>
            {
                let env = c.get("env").map(Node::items).unwrap_or(&[]);
                let Some(e) = env.iter().find(|e| {
                    matches!(
                        e.get("name").and_then(Node::as_str),
                        Some("MODEL_ID" | "HF_MODEL_ID")
                    )
                }) else {
                    continue;
                };
                let Some(v) = e.get("value") else { continue };
                (v.pos, v.as_str().unwrap_or("").to_string())
            }
            None => continue,
        };
        if !is_hub_id(&id) {
            continue;
        }
        let revision = flag_value(
            argv,
            &[
                "--revision",
                "--model_revision",
                "--model-revision",
                "--code-revision",
            ],
        )
        .map(|(_, r)| r.to_string())
        .or_else(|| {
            cl.launch
                .env("REVISION")
                .or(cl.launch.env("HF_REVISION"))
                .map(str::to_string)
        });
        match revision {
            Some(r) if is_commit(&r) => {}
            Some(r) => {
                sink.container(t, c, pos, format!("loads {id} at revision '{r}', a branch or tag that can move; pin a commit hash"));
            }
            None => {
                sink.container(
                    t,
                    c,
                    pos,
                    format!("downloads {id} from the hub at start without a pinned revision"),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_commits() {
        assert!(is_hub_id("meta-llama/Llama-3.1-8B-Instruct"));
        assert!(!is_hub_id("/mnt/models"));
        assert!(!is_hub_id("s3://bucket/model"));
        assert!(!is_hub_id("model"));
        assert!(is_commit("0e9e39f249a16976918f6564b8830bc894c89659"));
        assert!(!is_commit("main"));
    }
}
