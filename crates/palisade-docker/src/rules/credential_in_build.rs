use super::{Rule, Sink};
use crate::parse::key_values;
use crate::stage::Build;
use palisade_core::secrets::{Leak, classify, is_credential_name, known_shape};
use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Flags credentials that end up in the image or its history:
- an `ENV` or `ARG` whose value has a known credential shape (Hugging Face, OpenAI, Anthropic,
  AWS, GitHub, GitLab, Slack tokens, private keys) — critical;
- an `ENV`/`ARG` named like a credential (`HF_TOKEN`, `*_API_KEY`, `*_PASSWORD`, …) with a
  literal value, or an `ENV` that copies a build argument into the image's environment;
- an `ARG` named like a credential, even without a default: `--build-arg` values are recorded
  in the image history (`docker history`) and its provenance;
- a literal credential in a `RUN` command (`huggingface-cli login --token hf_…`).
The value is never printed.

## Why is this bad?
Everything in `ENV` ships in the image config; `ARG` values used by a `RUN` are in the build
history. Anyone who can pull the image — a registry reader, a node, a leaked tarball — gets the
token to your model hub, cloud account or tracking server.

## Example
```dockerfile
ARG HF_TOKEN
ENV HF_TOKEN=${HF_TOKEN}
RUN huggingface-cli download meta-llama/Llama-3.1-8B
```

## Use instead
```dockerfile
RUN --mount=type=secret,id=hf_token,env=HF_TOKEN \
    huggingface-cli download meta-llama/Llama-3.1-8B
```
and inject runtime credentials from a Kubernetes Secret.

## References
- Docker docs, "Build secrets" and the `SecretsUsedInArgOrEnv` build check
- CWE-798 Use of Hard-coded Credentials
- MITRE ATLAS AML.T0055 Unsecured Credentials; ATT&CK T1552.001
"#;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "DF007",
        name: "credential-in-image",
        severity: Severity::High,
        family: "dockerfile",
        summary: "Credential in ENV/ARG or a RUN command",
        controls: &["cwe:CWE-798"],
        techniques: &["AML.T0055", "T1552.001"],
        fix: "use RUN --mount=type=secret for build-time secrets and a Kubernetes Secret at run time; rotate any leaked value",
        doc: DOC,
    },
    check,
};

fn check(b: &Build, sink: &mut Sink) {
    for (stage, inst) in b.instructions() {
        let is_env = inst.keyword == "ENV";
        if !is_env && inst.keyword != "ARG" {
            continue;
        }
        let kw = &inst.keyword;
        for (name, value, off) in key_values(inst.args(), is_env) {
            let at = inst.args_offset + off;
            let value = value.unwrap_or_default();
            let (msg, severity) = match classify(&name, &value) {
                Some(Leak::Shape(shape)) => (
                    format!("{kw} {name} holds a literal {shape}"),
                    Severity::Critical,
                ),
                Some(leak) => (
                    format!(
                        "{kw} {name} is set to a literal value{}",
                        leak.entropy_note()
                    ),
                    Severity::High,
                ),
                None if !is_credential_name(&name) => continue,
                None if is_env && value.starts_with('$') => (
                    format!(
                        "ENV {name} copies a build argument into the image's environment, where every image reader sees it"
                    ),
                    Severity::High,
                ),
                None if !is_env => (
                    format!(
                        "ARG {name} passes a credential as a build argument, which the image history records; use RUN --mount=type=secret"
                    ),
                    Severity::Medium,
                ),
                None => continue,
            };
            if let Some(f) = sink.inst(stage, inst, at, msg) {
                f.severity = severity;
            }
        }
    }
    for (_, _, rc) in b.run_commands() {
        for (k, w) in rc.command.words.iter().enumerate() {
            if let Some(shape) = known_shape(&w.text)
                && let Some(f) = sink.run(
                    rc,
                    k,
                    format!("RUN passes a literal {shape} on the command line"),
                )
            {
                f.severity = Severity::Critical;
            }
        }
    }
}
