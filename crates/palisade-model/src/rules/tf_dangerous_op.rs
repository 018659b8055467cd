//! MDL018: a TensorFlow SavedModel whose graph reads or writes files or calls Python.

use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Reads `saved_model.pb` (every node of every meta graph and of every function in the graph
library, without TensorFlow) and flags ops that reach outside the model when it runs:
`ReadFile`, `WriteFile`, `MatchingFiles`, `ImmutableConst`, and the Python callbacks `PyFunc`,
`PyFuncStateless`, `EagerPyFunc`.

## Why is this bad?
A SavedModel is a program: TF Serving, `tf.saved_model.load` and KServe run its graph for every
request. File ops in a model read the server's secrets (`ReadFile('/var/run/secrets/…')`) or
plant files; Python callbacks run whatever the loading process registered. Inference graphs do
not need them (vocabulary files are read by the table-initialiser ops, which are not flagged).

## Example
A `serving_default` signature that calls `tf.io.write_file(...)` before returning its output.

## Use instead
Re-export the model from reviewed code; read assets through `tf.saved_model.Asset`.

## References
- TensorFlow security guide, "Running untrusted models"
- MITRE ATLAS AML.T0011.000, AML.T0018.002
"#;

pub static RULE: RuleMeta = RuleMeta {
    code: "MDL018",
    name: "tf-dangerous-op",
    severity: Severity::High,
    family: "model",
    summary: "TensorFlow SavedModel graph reads/writes files or calls Python",
    controls: &[],
    techniques: &["AML.T0011.000", "AML.T0018.002"],
    fix: "re-export the model from reviewed code without file or Python-callback ops",
    doc: DOC,
};
