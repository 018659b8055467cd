use crate::rules::{Check, Rule, Sink};
use crate::workload::PodTemplate;
use palisade_core::ml::trust_remote_code;
use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Flags containers that load models with remote code allowed: `--trust-remote-code` (vLLM, TGI,
SGLang, KServe's Hugging Face runtime), `trust_remote_code=True` in an inline script,
`TRUST_REMOTE_CODE=true`-style environment.

## Why is this bad?
The model repository's Python (`modeling_*.py`, `tokenization_*.py`) is imported and run at
start, with the pod's service account, secrets and network. Whoever controls that repository —
its owner, a compromised account, a typosquatted name — controls the pod.

## Example
```yaml
args: ["--model", "someorg/new-model", "--trust-remote-code"]
```

## Use instead
Prefer architectures the server supports natively; otherwise vendor and review the model code
into your image, pin the model to a commit (`--revision <sha>`), and drop the flag.

## References
- Hugging Face docs, "Custom models" (`trust_remote_code`); vLLM docs, engine arguments
- MITRE ATLAS AML.T0010.003 AI Supply Chain Compromise: Model, AML.T0011.000 Unsafe AI
  Artifacts
"#;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "K8S102",
        name: "trust-remote-code",
        severity: Severity::High,
        family: "ml-supply-chain",
        summary: "Model loaded with trust_remote_code (runs the model repo's code)",
        controls: &[],
        techniques: &["AML.T0010.003", "AML.T0011.000"],
        fix: "drop trust_remote_code; vendor reviewed model code and pin the revision",
        doc: DOC,
    },
    check: Check::Pod(check),
};

fn check(t: &PodTemplate, sink: &mut Sink) {
    for c in &t.containers {
        let cl = c.launch();
        if let Some(opt) = trust_remote_code(&cl.launch) {
            let via = opt
                .env
                .as_deref()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default();
            sink.container(
                t,
                c,
                cl.locate(&opt, c),
                format!("loads its model with {}{via}", opt.what),
            );
        }
    }
}
