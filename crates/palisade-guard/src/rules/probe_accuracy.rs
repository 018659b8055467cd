//! GRD010: control-set accuracy fell below its minimum.

use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
On a schedule, sends the model's labelled control set (shipped with the model) through the model server and computes the accuracy; raises the event when it is under `probe.min_accuracy`.

## Why is this bad?
A model replaced, poisoned or degraded in place keeps answering; only a known labelled set shows that its answers went wrong.

## Example
A retrained model with a poisoned class scores 0.62 on a control set where the approved one scored 0.97.

## Use instead
Roll back to the last verified model (`palisade respond` does it from the event).

## References
- MITRE ATLAS AML.T0031 (Erode AI Model Integrity), AML.T0018 (Manipulate AI Model)
"#;

pub static RULE: RuleMeta = RuleMeta {
    code: "GRD010",
    name: "probe-accuracy-drop",
    severity: Severity::Critical,
    family: "guard",
    summary: "control-set accuracy fell below its minimum",
    controls: &[],
    techniques: &["AML.T0031", "AML.T0018"],
    fix: "roll back to the last verified model",
    doc: DOC,
};
