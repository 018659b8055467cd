use super::{Rule, Sink};
use crate::script::arg_words;
use crate::stage::Build;
use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Flags `COPY`/`ADD` of key material and credential files into an image: `.env` files, SSH keys
(`id_rsa`, `id_ed25519`, `.ssh/`), `*.pem`/`*.key`/`*.p12` files, cloud credentials
(`.aws/credentials`, `application_default_credentials.json`, service-account JSON keys),
`.netrc`, `.npmrc`, `.pypirc`, `.git-credentials`, kubeconfigs, Docker and Hugging Face token
files. Copies between stages (`COPY --from=…`) are not flagged.

## Why is this bad?
A file copied into a layer stays in the image even if a later `RUN rm` deletes it: anyone who
pulls the image extracts the layer and the key with it.

## Example
```dockerfile
COPY .env /app/.env
COPY id_rsa /root/.ssh/id_rsa
```

## Use instead
Mount secrets at build time (`RUN --mount=type=secret` / `--mount=type=ssh`), pass runtime
configuration from a Kubernetes Secret, and list key files in `.dockerignore`.

## References
- Docker docs, "Build secrets", ".dockerignore"
- CWE-538 Insertion of Sensitive Information into Externally-Accessible File
- MITRE ATLAS AML.T0055 Unsecured Credentials; ATT&CK T1552.004
"#;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "DF008",
        name: "key-material-copied",
        severity: Severity::High,
        family: "dockerfile",
        summary: "Key material or credential file copied into the image",
        controls: &["cwe:CWE-538"],
        techniques: &["AML.T0055", "T1552.004"],
        fix: "use build secrets (RUN --mount=type=secret|ssh) and .dockerignore; inject runtime secrets from the orchestrator",
        doc: DOC,
    },
    check,
};

/// Whether a path names key material or a credentials file.
fn is_key_material(path: &str) -> Option<&'static str> {
    let p = path.trim_end_matches('/');
    let name = p.rsplit('/').next().unwrap_or(p).to_ascii_lowercase();
    let lower = p.to_ascii_lowercase();
    if name == ".env"
        || name.starts_with(".env.")
            && !name.ends_with(".example")
            && !name.ends_with(".sample")
            && !name.ends_with(".template")
    {
        return Some("an environment file (.env)");
    }
    if matches!(
        name.as_str(),
        "id_rsa" | "id_dsa" | "id_ecdsa" | "id_ed25519" | ".ssh"
    ) {
        return Some("an SSH private key");
    }
    if name.ends_with(".pem")
        || name.ends_with(".key")
        || name.ends_with(".p12")
        || name.ends_with(".pfx")
        || name.ends_with(".jks")
    {
        return Some("a private key or certificate bundle");
    }
    if lower.ends_with(".aws/credentials")
        || name == ".aws"
        || name == "application_default_credentials.json"
        || name == "credentials.json"
        || name.starts_with("service-account") && name.ends_with(".json")
        || name.starts_with("service_account") && name.ends_with(".json")
        || name == "gcp-key.json"
        || lower.ends_with(".azure/credentials")
    {
        return Some("cloud credentials");
    }
    if matches!(
        name.as_str(),
        ".netrc" | ".npmrc" | ".pypirc" | ".git-credentials" | "kubeconfig" | ".dockercfg"
    ) || lower.ends_with(".kube/config")
        || lower.ends_with(".docker/config.json")
        || lower.ends_with(".huggingface/token")
        || lower.ends_with("huggingface/token")
    {
        return Some("a credentials file");
    }
    None
}

fn check(b: &Build, sink: &mut Sink) {
    for (stage, inst) in b.instructions() {
        if !matches!(inst.keyword.as_str(), "COPY" | "ADD") || inst.flag("from").is_some() {
            continue;
        }
        let words = arg_words(inst);
        // Heredoc sources (`COPY <<EOF /x`) are inline content, not files.
        for w in words[..words.len().saturating_sub(1)]
            .iter()
            .filter(|w| !w.text.starts_with("<<"))
        {
            if let Some(what) = is_key_material(&w.text) {
                sink.inst(
                    stage,
                    inst,
                    w.offset,
                    format!("{} copies {} ({what}) into the image", inst.keyword, w.text),
                );
            }
        }
    }
}
