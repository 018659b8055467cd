use crate::rules::{Check, Rule, Sink};
use crate::workload::PodTemplate;
use crate::yaml::Node;
use palisade_core::secrets::{Leak, classify, known_shape};
use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Flags credentials written literally into manifests: container `env` values whose name says
they are credentials (HF_TOKEN, HUGGING_FACE_HUB_TOKEN, OPENAI_API_KEY, WANDB_API_KEY, AWS_*
keys, `*_TOKEN`, `*_PASSWORD`, `*_API_KEY`…), and any env value, command or argument shaped like
a known credential (Hugging Face `hf_…`, AWS `AKIA…`, OpenAI `sk-…`, GitHub `ghp_…`, private
keys) or a long high-entropy string under a credential-like name. The value is never printed.

## Why is this bad?
Manifests live in git, in CI logs, in `kubectl get -o yaml` output and in every backup. A
Hugging Face write token in a Deployment lets anyone who reads the repository push a poisoned
model to your organisation's hub.

## Example
```yaml
env:
- name: HF_TOKEN
  value: hf_aBcD…
```

## Use instead
```yaml
env:
- name: HF_TOKEN
  valueFrom:
    secretKeyRef: {name: hf-token, key: token}
```
and rotate the leaked token.

## References
- CWE-798 Use of Hard-coded Credentials
- MITRE ATLAS AML.T0055 Unsecured Credentials; ATT&CK T1552.001
"#;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "K8S040",
        name: "plaintext-credential",
        severity: Severity::High,
        family: "secrets",
        summary: "Credential written in plain text in the manifest",
        controls: &["cwe:CWE-798"],
        techniques: &["AML.T0055", "T1552.001"],
        fix: "move the value into a Secret and reference it with valueFrom.secretKeyRef; rotate the credential",
        doc: DOC,
    },
    check: Check::Pod(check),
};

fn check(t: &PodTemplate, sink: &mut Sink) {
    for c in &t.containers {
        for e in c.get("env").map(Node::items).unwrap_or(&[]) {
            let name = e.get("name").and_then(Node::as_str).unwrap_or("");
            let Some(value_node) = e.get("value") else {
                continue;
            };
            let Some(value) = value_node.as_nonempty_str() else {
                continue;
            };
            match classify(name, value) {
                Some(Leak::Shape(shape)) => {
                    if let Some(f) = sink.container(
                        t,
                        c,
                        value_node.pos,
                        format!("has a literal {shape} in env {name}"),
                    ) {
                        f.severity = Severity::Critical;
                    }
                }
                Some(leak) => {
                    sink.container(
                        t,
                        c,
                        value_node.pos,
                        format!(
                            "sets credential env {name} to a literal value{}",
                            leak.entropy_note()
                        ),
                    );
                }
                None => {}
            }
        }
        for key in ["command", "args"] {
            for a in c.get(key).map(Node::items).unwrap_or(&[]) {
                if let Some(shape) = a.as_str().and_then(known_shape)
                    && let Some(f) =
                        sink.container(t, c, a.pos, format!("passes a literal {shape} in {key}"))
                {
                    f.severity = Severity::Critical;
                }
            }
        }
    }
}
