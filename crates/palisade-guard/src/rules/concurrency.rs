//! GRD003: tenant has too many requests in flight.

use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Counts each tenant's requests in flight and answers 429 at once when `max_concurrent` are already running, instead of queueing them.

## Why is this bad?
Slow or large requests hold model-server workers; a tenant that opens many at once delays every other tenant's requests queued behind them. Shedding the excess keeps other tenants' latency flat.

## Example
Tenant `b` keeps 200 requests open against a limit of 16.

## Use instead
Raise `max_concurrent` for the tenant or make its client wait for answers.

## References
- MITRE ATLAS AML.T0029 (Denial of AI Service)
"#;

pub static RULE: RuleMeta = RuleMeta {
    code: "GRD003",
    name: "tenant-concurrency-exceeded",
    severity: Severity::Medium,
    family: "guard",
    summary: "tenant has too many requests in flight",
    controls: &[],
    techniques: &["AML.T0029"],
    fix: "lower the client's parallelism or raise the tenant's max_concurrent",
    doc: DOC,
};
