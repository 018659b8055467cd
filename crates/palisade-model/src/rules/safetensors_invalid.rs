//! MDL008: a safetensors file whose header is invalid.

use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Validates safetensors headers the way the reference implementation does before it maps any
bytes: the header length within limits and within the file, valid JSON, known dtypes, offsets
in bounds, sizes matching shapes, no overlapping tensors and no unreferenced bytes.
A file that passes is reported as clean: safetensors stores only data.

## Why is this bad?
An invalid header crashes or confuses loaders (an oversized header length is a memory
exhaustion attack on the loader; overlapping tensors alias each other's weights), and bytes no
tensor covers are a place to hide a payload for another reader.

## Example
A header claiming 2 GB of JSON in a 10 MB file.

## Use instead
Re-export with the `safetensors` library from a trusted source.

## References
- huggingface/safetensors, format specification and `SafeTensorError` cases
- MITRE ATLAS AML.T0018.002 Embed Malware
"#;

pub static RULE: RuleMeta = RuleMeta {
    code: "MDL008",
    name: "safetensors-invalid",
    severity: Severity::High,
    family: "model",
    summary: "safetensors header is invalid (sizes, offsets, dtypes or limits)",
    controls: &[],
    techniques: &["AML.T0018.002"],
    fix: "re-export the tensors with the safetensors library from a trusted source",
    doc: DOC,
};
