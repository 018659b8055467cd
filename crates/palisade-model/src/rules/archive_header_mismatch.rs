//! MDL007: a ZIP archive whose headers disagree.

use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Flags ZIP archives (PyTorch checkpoints, `.npz`, `.keras`, plain zips) whose central directory
and local headers disagree — names, compression methods, sizes, CRCs, flag bits (including the
encryption bit) — or that hold members missing from the central directory, duplicate names, or
CRCs that do not match the data.

## Why is this bad?
PyTorch's reader, Python's `zipfile` and streaming unzippers each trust different headers.
`zipfile` refuses a member with a wrong CRC that `torch.load` loads anyway (checked with torch
2.15), so a scanner built on `zipfile` skips the very pickle that runs; an encryption flag set
only in the local header is ignored by both loaders but stops readers that trust local headers.
Palisade reads every member by both headers and analyses it; this finding says the archive was
crafted.

## Example
A checkpoint whose `archive/data.pkl` has a CRC that does not match its bytes.

## Use instead
Re-save the model with `torch.save` (or re-zip it with a standard tool) from a trusted source.

## References
- JFrog, "Unveiling 3 zero-day vulnerabilities in picklescan" (2025)
- PKWARE APPNOTE.TXT, .ZIP File Format Specification
- MITRE ATLAS AML.T0018.002 Embed Malware
"#;

pub static RULE: RuleMeta = RuleMeta {
    code: "MDL007",
    name: "archive-header-mismatch",
    severity: Severity::Medium,
    family: "model",
    summary: "ZIP archive headers disagree (a trick to hide members from scanners)",
    controls: &[],
    techniques: &["AML.T0018.002"],
    fix: "re-save the model from a trusted source with a standard writer",
    doc: DOC,
};
