//! GRD009: distribution of predictions drifted from the reference.

use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Keeps each model's recent predictions in windows of `drift.window` and compares every full window with the reference (the profile's recorded predictions, or the first window): the population stability index for classes, and a two-sample Kolmogorov–Smirnov test.

## Why is this bad?
A poisoned or swapped model, a shift in the input population or a sustained evasion campaign shows up as predictions that no longer look like the ones the model was approved with.

## Example
A digits classifier that used to answer each class about 10% of the time answers `1` for 60% of a window.

## Use instead
Compare the current model with the approved one (`palisade model verify`), run the probes, look at the inputs of the window.

## References
- MITRE ATLAS AML.T0031 (Erode AI Model Integrity)
"#;

pub static RULE: RuleMeta = RuleMeta {
    code: "GRD009",
    name: "prediction-drift",
    severity: Severity::High,
    family: "guard",
    summary: "distribution of predictions drifted from the reference",
    controls: &[],
    techniques: &["AML.T0031"],
    fix: "verify the served model and investigate recent inputs",
    doc: DOC,
};
