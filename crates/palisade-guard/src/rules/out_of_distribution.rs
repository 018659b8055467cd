//! GRD007: input far from the training distribution (Mahalanobis distance).

use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Scores each row's Mahalanobis distance to the training profile (shrunk covariance, built by `palisade guard profile`) and compares it with `flag_above` and `reject_above`, given as distances or quantiles of held-out training distances (`p99.9`).

## Why is this bad?
Adversarial perturbations and out-of-distribution inputs move features in combinations the training data never shows, even when each feature stays in range. A model answers them confidently and wrongly.

## Example
An FGSM-perturbed digit whose pixels each moved by 2: in range, but at distance 40 where 99.9% of real digits are under 12.

## Use instead
Investigate the tenant; if the traffic is legitimate, rebuild the profile from data that includes it.

## References
- MITRE ATLAS AML.T0043 (Craft Adversarial Data), AML.T0015 (Evade AI Model)
"#;

pub static RULE: RuleMeta = RuleMeta {
    code: "GRD007",
    name: "input-out-of-distribution",
    severity: Severity::High,
    family: "guard",
    summary: "input far from the training distribution (Mahalanobis distance)",
    controls: &[],
    techniques: &["AML.T0043", "AML.T0015"],
    fix: "investigate the tenant's traffic; rebuild the profile if the new inputs are legitimate",
    doc: DOC,
};
