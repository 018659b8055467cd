//! MDL022: a signed model whose signer nobody said to trust.

use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Flags a model whose signature is present and whose files match the signed digests, when
`palisade.toml` names no key or certificate to check the signature with (`[model.signing]`):
the content is intact, but who signed it is not established.

## Why is this bad?
Anyone can sign a model. A signature only means something when the signer is one you trust:
an attacker who swaps the model can sign the replacement with their own key.

## Example
`models/iris/model.sig` made with a key that `palisade.toml` does not list.

## Use instead
Add the signer's public key (`[model.signing] public_keys`) or your CA
(`[model.signing] certificates`) to `palisade.toml`.

## References
- OpenSSF Model Signing (sigstore/model-transparency)
- MITRE ATLAS AML.T0010, mitigation AML.M0014
"#;

pub static RULE: RuleMeta = RuleMeta {
    code: "MDL022",
    name: "model-signer-unknown",
    severity: Severity::Low,
    family: "model",
    summary: "model is signed, but palisade.toml trusts no key to check the signer",
    controls: &["atlas:AML.M0014"],
    techniques: &["AML.T0010"],
    fix: "list the signer's public key or CA under [model.signing] in palisade.toml",
    doc: DOC,
};
