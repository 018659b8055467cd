//! GRD008: model server failed, timed out or the circuit breaker is open.

use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Forwards within `connect_timeout_ms` and `timeout_ms`, through at most `max_connections` at once, and opens a circuit breaker after `breaker_failures` consecutive failures. Answers 502 (connection failed, or an answer that is not valid HTTP/1.1 or is larger than 64 MiB), 504 (timeout) or 503 (breaker open, queue full) with a JSON reason.

## Why is this bad?
A model server that hangs or crashes under load takes every client with it; without timeouts and a breaker the gateway itself piles up connections until it falls over.

## Example
The model server stops answering; the guard answers 504, then 503 while the breaker is open.

## Use instead
Check the model server's health and capacity.

## References
- MITRE ATLAS AML.T0029 (Denial of AI Service)
"#;

pub static RULE: RuleMeta = RuleMeta {
    code: "GRD008",
    name: "upstream-unavailable",
    severity: Severity::High,
    family: "guard",
    summary: "model server failed, timed out or the circuit breaker is open",
    controls: &[],
    techniques: &["AML.T0029"],
    fix: "check the model server's health, logs and capacity",
    doc: DOC,
};
