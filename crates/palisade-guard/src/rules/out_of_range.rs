//! GRD006: feature value outside the range seen in training.

use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Compares each feature with the training profile's minimum and maximum, widened by `range_margin` of the range on each side; `NaN` and infinities are always out of range. The action (`log`, `flag`, `reject`) is `screening.out_of_range`.

## Why is this bad?
A model's answer for values it never saw in training is undefined; adversarial and evasion inputs often push features past their natural range (a pixel above 16 in an 8×8 digit, a negative age).

## Example
`{"instances": [[0, 0, 40, …]]}` where feature 2 was 0–16 in training.

## Use instead
Clip or validate inputs at the client; retrain with the new range if it is legitimate.

## References
- MITRE ATLAS AML.T0043 (Craft Adversarial Data), AML.T0015 (Evade AI Model)
"#;

pub static RULE: RuleMeta = RuleMeta {
    code: "GRD006",
    name: "input-out-of-range",
    severity: Severity::Medium,
    family: "guard",
    summary: "feature value outside the range seen in training",
    controls: &[],
    techniques: &["AML.T0043", "AML.T0015"],
    fix: "validate inputs at the client or rebuild the profile if the new range is legitimate",
    doc: DOC,
};
