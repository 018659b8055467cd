use super::{Rule, Sink, StageLaunch};
use crate::stage::Build;
use palisade_core::ml::{Launch, trust_remote_code};
use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Flags model loading that runs Python code shipped inside the model repository:
`--trust-remote-code` (vLLM, TGI, SGLang, KServe's Hugging Face server), `trust_remote_code=True`
in a `RUN python -c …`, and `TRUST_REMOTE_CODE=true`-style environment — in the image's start
command and environment, and in any `RUN` (where it runs at build time).

## Why is this bad?
`trust_remote_code` imports the repository's `modeling_*.py` and runs it. Whoever can push to
that model repository — or to a typosquatted name — runs code in your build or your serving pod,
with its credentials and its network.

## Example
```dockerfile
CMD ["vllm", "serve", "someorg/new-model", "--trust-remote-code"]
```

## Use instead
Use architectures supported natively, or vendor the reviewed model code into the image and pin
the model to a commit (`--revision <sha>`), then drop `--trust-remote-code`.

## References
- Hugging Face Transformers docs, "Custom models" (`trust_remote_code`)
- MITRE ATLAS AML.T0010.003 AI Supply Chain Compromise: Model, AML.T0011.000 User Execution:
  Unsafe AI Artifacts; ATT&CK T1195
"#;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "DF015",
        name: "trust-remote-code",
        severity: Severity::High,
        family: "dockerfile",
        summary: "Model loaded with trust_remote_code (runs the model repo's code)",
        controls: &[],
        techniques: &["AML.T0010.003", "AML.T0011.000", "T1195"],
        fix: "drop trust_remote_code; vendor reviewed model code and pin the model revision",
        doc: DOC,
    },
    check,
};

fn check(b: &Build, sink: &mut Sink) {
    for (_, _, rc) in b.run_commands() {
        let launch = Launch {
            argv: rc.command.texts().map(str::to_string).collect(),
            ..Launch::default()
        };
        if let Some(opt) = trust_remote_code(&launch)
            && let Some(i) = opt.arg
        {
            sink.run(
                rc,
                i,
                format!("RUN loads a model with {} at build time", opt.what),
            );
        }
    }
    let Some(last) = b.final_stage() else {
        return;
    };
    let sl = StageLaunch::of(b, last);
    if let Some(opt) = trust_remote_code(&sl.launch) {
        let at = sl
            .locate(b, &opt)
            .unwrap_or_else(|| b.file.instructions[last.from].pos(0));
        let via = opt
            .env
            .as_deref()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default();
        sink.at(last, at, format!("the image starts with {}{via}", opt.what));
    }
}
