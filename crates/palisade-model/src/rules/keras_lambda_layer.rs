//! MDL013: a Keras model with a Lambda layer.

use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Flags Keras models (`.keras` zips and legacy HDF5 `.h5` files) whose configuration holds a
`Lambda` layer. A `Lambda` layer stores its function as marshalled Python bytecode (base64 in
`config.json` or in the HDF5 `model_config` attribute).

## Why is this bad?
Loading the model rebuilds the function from that bytecode and runs it in your process
(CVE-2024-3660). Keras 3 refuses it unless `safe_mode=False`, but code that loads models with
`safe_mode=False` to "make the error go away" — and every `tf.keras` 2.x loader of `.h5` — runs it.

## Example
A `config.json` layer `{"class_name": "Lambda", "config": {"function": {"class_name": "__lambda__", "config": {"code": "4wEAAAAAAAAA…"}}}}`.

## Use instead
Replace `Lambda` layers with registered custom layers whose code ships with your application,
and keep `safe_mode=True`.

## References
- Keras docs, `keras.saving.load_model` `safe_mode`; CVE-2024-3660
- MITRE ATLAS AML.T0011.000 User Execution: Unsafe AI Artifacts, AML.T0018.002 Embed Malware
"#;

pub static RULE: RuleMeta = RuleMeta {
    code: "MDL013",
    name: "keras-lambda-layer",
    severity: Severity::High,
    family: "model",
    summary: "Keras model has a Lambda layer (marshalled Python bytecode run at load)",
    controls: &["cwe:CWE-502"],
    techniques: &["AML.T0011.000", "AML.T0018.002"],
    fix: "replace Lambda layers with registered custom layers; load with safe_mode=True",
    doc: DOC,
};
