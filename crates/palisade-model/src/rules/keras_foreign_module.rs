//! MDL014: a Keras config that makes Keras import a module outside Keras.

use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Flags objects in a Keras model configuration whose `module` is not Keras's own
(`"module": "os"`, `"module": "subprocess"`, any third-party package): to rebuild them Keras
imports that module and looks the named object up in it.

## Why is this bad?
Importing runs the module's code, and the object built can be any callable of it: CVE-2025-1550
used exactly this to run code from `config.json` even with `safe_mode=True`. Models built from
Keras layers only reference `keras.*` modules.

## Example
`{"module": "subprocess", "class_name": "Popen", "config": {…}}` inside `config.json`.

## Use instead
Use Keras's own layers, or register your custom objects in the loading application
(`custom_objects=`) instead of shipping module paths in the model.

## References
- CVE-2025-1550 (Keras `Model.load_model` arbitrary code execution with safe_mode)
- MITRE ATLAS AML.T0011.000, AML.T0018.002
"#;

pub static RULE: RuleMeta = RuleMeta {
    code: "MDL014",
    name: "keras-foreign-module",
    severity: Severity::High,
    family: "model",
    summary: "Keras config names a module outside Keras (imported and called at load)",
    controls: &["cwe:CWE-502"],
    techniques: &["AML.T0011.000", "AML.T0018.002"],
    fix: "use Keras layers only, or pass reviewed custom_objects in the loading code",
    doc: DOC,
};
