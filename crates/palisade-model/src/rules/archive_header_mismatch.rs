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
Scanners built on `zipfile` skip a member it rejects (a wrong CRC, the encryption flag) while
`torch.load` loads it anyway: the 2025 picklescan bypasses used exactly this. Palisade reads
every member by both headers and analyses it; this finding says the archive was crafted.

## Example
A checkpoint whose `archive/data.pkl` has the encryption flag set in its local header.

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
