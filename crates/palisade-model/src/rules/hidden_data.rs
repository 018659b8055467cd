//! MDL006: data hidden after a pickle, a second pickle stream, or a file that is two formats.

use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Flags bytes that a model file's loader never reads but another reader might: data after a
pickle's `STOP`, a second pickle stream directly after the first, a file that is at the same time
a pickle and a ZIP archive (a polyglot), and bytes in a safetensors file that no tensor covers.
Hidden pickle streams are analysed like the first one; their findings are reported too.

## Why is this bad?
Different loaders read different parts of the same file: `pickle.load` stops at the first
`STOP`, `torch.load` reads several streams, Python's `zipfile` finds an archive at the end of
any file. A payload placed where the scanner does not look runs in the loader that does.

## Example
A `model.pkl` made of a clean pickle followed by a ZIP whose `data.pkl` calls `os.system`.

## Use instead
Re-export the model from its source; a saved model has no bytes its format does not account for.

## References
- Trail of Bits, "Never a dill moment: Exploiting machine learning pickle files" (2021)
- MITRE ATLAS AML.T0018.002 Embed Malware
"#;

pub static RULE: RuleMeta = RuleMeta {
    code: "MDL006",
    name: "hidden-model-data",
    severity: Severity::Medium,
    family: "model",
    summary: "Bytes or streams in a model file that its loader skips (hiding places)",
    controls: &[],
    techniques: &["AML.T0018.002"],
    fix: "re-export the model from its source",
    doc: DOC,
};
