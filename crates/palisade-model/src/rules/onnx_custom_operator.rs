//! MDL016: an ONNX model that needs custom operators.

use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Flags ONNX models that use operator domains other than the standard ones (`ai.onnx`,
`ai.onnx.ml`, the training domains): custom operators, which the runtime can only execute by
loading a native library registered for that domain.

## Why is this bad?
A model that needs a custom-op library makes its users load native code that ships with it
(`SessionOptions.register_custom_ops_library`): the model file is safe only if that library is.
It also pins the model to one runtime build.

## Example
A node `{domain: "com.example.ops", op_type: "FastGelu"}`.

## Use instead
Export with standard operators (a newer opset usually has them), or review and pin the custom
operator library as part of your serving image.

## References
- ONNX Runtime docs, "Custom operators"
- MITRE ATLAS AML.T0010.003 AI Supply Chain Compromise: Model
"#;

pub static RULE: RuleMeta = RuleMeta {
    code: "MDL016",
    name: "onnx-custom-operator",
    severity: Severity::Medium,
    family: "model",
    summary: "ONNX model uses custom operator domains (needs a native op library)",
    controls: &[],
    techniques: &["AML.T0010.003"],
    fix: "export with standard operators, or review and pin the custom op library",
    doc: DOC,
};
