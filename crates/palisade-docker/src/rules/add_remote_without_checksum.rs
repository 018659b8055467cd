use super::{Rule, Sink};
use crate::script::arg_words;
use crate::stage::Build;
use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Flags `ADD https://…` (or `http://…`) without `--checksum=sha256:…`.

## Why is this bad?
`ADD` downloads whatever the server returns at build time, and nothing checks it: a changed,
compromised or intercepted download (plain `http://` invites it) goes into the image unseen.
Model weights and tokenizer files fetched this way are exactly what a supply-chain attacker
wants to replace.

## Example
```dockerfile
ADD https://example.com/models/resnet50.onnx /models/
```

## Use instead
```dockerfile
ADD --checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d \
    https://example.com/models/resnet50.onnx /models/
```

## References
- Docker docs, "ADD --checksum" (Dockerfile 1.6); hadolint DL3020
- MITRE ATLAS AML.T0010 AI Supply Chain Compromise; ATT&CK T1195
"#;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "DF005",
        name: "add-remote-without-checksum",
        severity: Severity::Medium,
        family: "dockerfile",
        summary: "`ADD` of a remote URL without `--checksum`",
        controls: &[],
        techniques: &["AML.T0010", "T1195"],
        fix: "add --checksum=sha256:<digest> (or download with curl and verify with sha256sum -c)",
        doc: DOC,
    },
    check,
};

fn check(b: &Build, sink: &mut Sink) {
    for (stage, inst) in b.instructions() {
        if inst.keyword != "ADD" || inst.flag("checksum").is_some() {
            continue;
        }
        let words = arg_words(inst);
        for w in &words[..words.len().saturating_sub(1)] {
            let plain = w.text.starts_with("http://");
            if !plain && !w.text.starts_with("https://") {
                continue;
            }
            let how = if plain { " and over plain HTTP" } else { "" };
            if let Some(f) = sink.inst(
                stage,
                inst,
                w.offset,
                format!("ADD downloads {} without --checksum{how}", w.text),
            ) && plain
            {
                f.severity = Severity::High;
            }
        }
    }
}
