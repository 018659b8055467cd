//! MDL015: an ONNX model whose external data lies outside its directory.

use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Flags ONNX tensors whose `external_data` location is an absolute path, starts at a home
directory or drive, or climbs out of the model's directory with `..`.

## Why is this bad?
Runtimes read external data relative to the model file. A location such as
`../../../../etc/shadow` or `/proc/self/environ` makes the loader read an arbitrary file into
a tensor (CVE-2022-25882, CVE-2024-27318): its bytes then flow into outputs an attacker can
query, or the load hangs on a device file.

## Example
`external_data { key: "location" value: "../../../home/app/.aws/credentials" }`

## Use instead
Keep external data files beside the model and reference them by plain file name
(`onnx.save_model(..., save_as_external_data=True, location="weights.bin")`).

## References
- ONNX external data format; CVE-2022-25882, CVE-2024-27318
- MITRE ATLAS AML.T0010.003; CWE-22
"#;

pub static RULE: RuleMeta = RuleMeta {
    code: "MDL015",
    name: "onnx-external-data-escape",
    severity: Severity::High,
    family: "model",
    summary: "ONNX external data path leaves the model directory (arbitrary file read)",
    controls: &["cwe:CWE-22"],
    techniques: &["AML.T0010.003"],
    fix: "reference external data by plain file names beside the model",
    doc: DOC,
};
