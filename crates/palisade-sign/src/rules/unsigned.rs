//! MDL020: a model file with no signature beside it.

use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
For every model file `palisade scan` finds, looks for a signature beside it: `<file>.sig` (the
file signed alone) or `model.sig` in its directory (the directory signed as one model), in the
OpenSSF Model Signing format that `palisade model sign` and `model_signing` write. Flags the
model when there is none.

## Why is this bad?
Without a signature nobody can tell the model on the volume from one swapped in after it was
approved: a poisoned or backdoored model with the same name and the same accuracy passes every
other check. A signature made when the model was approved lets the deployment (and `palisade
scan`) verify, file by file, that nothing was added, removed or changed since.

## Example
`models/iris/model.joblib` with no `models/iris/model.sig` and no `model.joblib.sig`.

## Use instead
`palisade model sign key --private-key signer.pem --signature models/iris/model.sig models/iris`
(or `model_signing sign …`), and list the public key under `[model.signing] public_keys` in
`palisade.toml`.

## References
- OpenSSF Model Signing (sigstore/model-transparency)
- MITRE ATLAS AML.T0010 (ML supply chain compromise), mitigation AML.M0014 (verify ML artifacts)
"#;

pub static RULE: RuleMeta = RuleMeta {
    code: "MDL020",
    name: "model-unsigned",
    severity: Severity::Medium,
    family: "model",
    summary: "model file has no signature beside it",
    controls: &["atlas:AML.M0014"],
    techniques: &["AML.T0010"],
    fix: "sign the model (palisade model sign key …) and trust the key in palisade.toml [model.signing]",
    doc: DOC,
};
