//! GRD002: tenant exceeded its request rate.

use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Applies each tenant's `requests_per_second` and `burst` (GCRA; shared across replicas through Redis when `[redis]` is set). Requests over the budget are answered 429 with `Retry-After`.

## Why is this bad?
A flood from one tenant — an attack, a retry storm or a scraping client — exhausts the GPU for everyone and runs up the bill (denial of service, cost harvesting).

## Example
Tenant `batch-jobs` sends 2,000 requests per second with a budget of 50.

## Use instead
Raise the tenant's limit if the traffic is legitimate; otherwise investigate the key.

## References
- MITRE ATLAS AML.T0029 (Denial of AI Service), AML.T0034 (Cost Harvesting)
"#;

pub static RULE: RuleMeta = RuleMeta {
    code: "GRD002",
    name: "tenant-rate-limited",
    severity: Severity::Medium,
    family: "guard",
    summary: "tenant exceeded its request rate",
    controls: &[],
    techniques: &["AML.T0029", "AML.T0034"],
    fix: "raise the tenant's requests_per_second if the load is legitimate, otherwise revoke the key",
    doc: DOC,
};
