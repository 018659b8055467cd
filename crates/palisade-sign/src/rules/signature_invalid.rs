//! MDL021: a model whose signature does not verify.

use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Verifies the signature beside a model file (`<file>.sig`, or `model.sig` for its directory)
against the keys and certificates trusted in `palisade.toml` (`[model.signing]`), and checks
every signed file against its digest. Flags a signature that does not verify (another key, an
untrusted certificate, an altered or truncated bundle) and a model that differs from what was
signed (files modified, added, removed or renamed, or a symlink), naming each difference.

## Why is this bad?
This is what a swapped or tampered model looks like: the weights on the volume are not the
ones that were approved. Serving them runs whatever the replacement does.

## Example
`models/iris/model.sig` verifies, but `model.joblib: modified (signed digest 5891…, now 037e…)`.

## Use instead
Restore the approved model (from the registry, by digest), or — if the change was intended —
review it and sign again.

## References
- OpenSSF Model Signing (sigstore/model-transparency)
- MITRE ATLAS AML.T0010 (ML supply chain compromise), mitigation AML.M0014 (verify ML artifacts)
"#;

pub static RULE: RuleMeta = RuleMeta {
    code: "MDL021",
    name: "model-signature-invalid",
    severity: Severity::Critical,
    family: "model",
    summary: "model signature does not verify, or the model differs from what was signed",
    controls: &["atlas:AML.M0014"],
    techniques: &["AML.T0010"],
    fix: "restore the approved model, or review the change and sign again",
    doc: DOC,
};
