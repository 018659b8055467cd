//! GRD011: model outputs on the control set differ from the recorded reference.

use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Compares the control set's outputs with the reference outputs recorded when the model was approved; raises the event when fewer than `probe.min_agreement` of them agree, even if the accuracy is unchanged.

## Why is this bad?
A backdoored or swapped model can keep the same accuracy while its answers change; the reference outputs are a fingerprint of the approved model's behaviour.

## Example
A model with a trigger-pattern backdoor answers 4 of 100 control inputs differently, at the same accuracy.

## Use instead
Verify the model's signature and roll back to the approved one.

## References
- MITRE ATLAS AML.T0018 (Manipulate AI Model), AML.T0010 (AI Supply Chain Compromise)
"#;

pub static RULE: RuleMeta = RuleMeta {
    code: "GRD011",
    name: "probe-output-changed",
    severity: Severity::Critical,
    family: "guard",
    summary: "model outputs on the control set differ from the recorded reference",
    controls: &[],
    techniques: &["AML.T0018", "AML.T0010"],
    fix: "verify the model's signature (palisade model verify) and roll back",
    doc: DOC,
};
