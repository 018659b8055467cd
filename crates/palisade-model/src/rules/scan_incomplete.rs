//! MDL010: part of a model file could not be analysed.

use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Reports what the scanner did not analyse and why: a safety limit reached (decompressed size or
ratio, nesting depth, members, opcodes, stack or memo size, time per file — each named), a
compression method or container it does not read, a corrupt container, or joblib array data it
cannot size.

## Why is this bad?
A file that cannot be fully analysed cannot be called clean. Decompression bombs and
pathological pickles are built to exhaust scanners so that their payload goes unseen.

## Example
A 40 KB gzip that expands past the 4 GiB `max_decompressed` limit.

## Use instead
Inspect the file by other means before loading it, or re-export it from its source.

## References
- CWE-409 Improper Handling of Highly Compressed Data (Data Amplification)
- MITRE ATLAS AML.T0018.002 Embed Malware
"#;

pub static RULE: RuleMeta = RuleMeta {
    code: "MDL010",
    name: "model-scan-incomplete",
    severity: Severity::Medium,
    family: "model",
    summary: "Part of a model file could not be analysed (limit, unsupported or corrupt)",
    controls: &["cwe:CWE-409"],
    techniques: &["AML.T0018.002"],
    fix: "inspect the file by other means or re-export it from its source",
    doc: DOC,
};
