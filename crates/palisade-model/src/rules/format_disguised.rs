//! MDL009: a model file whose content is not what its name says.

use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Flags model files whose extension names a data-only format while the content is something
that runs code: a pickle named `.safetensors`, `.npy`, `.onnx` or `.gguf`; a ZIP or compressed
stream named `.safetensors`. Formats are always detected by content; this finding reports the
mismatch itself.

## Why is this bad?
Tools and people decide how much to trust a file by its name: a "safetensors" file is assumed
safe to load. Loaders that sniff content (`torch.load`, `joblib.load`, `numpy.load` with
`allow_pickle=True`) load the pickle anyway.

## Example
`model.safetensors` starting with `\x80\x04`.

## Use instead
Do not load the file; obtain the model from its source in the format its name claims.

## References
- MITRE ATLAS AML.T0010.003 AI Supply Chain Compromise: Model, AML.T0011.000
"#;

pub static RULE: RuleMeta = RuleMeta {
    code: "MDL009",
    name: "model-format-disguised",
    severity: Severity::Medium,
    family: "model",
    summary: "Model file's content is not the format its extension claims",
    controls: &[],
    techniques: &["AML.T0010.003", "AML.T0011.000"],
    fix: "do not load the file; obtain the model in the format its name claims",
    doc: DOC,
};
