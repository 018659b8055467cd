//! GRD004: request body, JSON nesting, value count or batch over the limit, or a body too slow.

use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Reads the body as a stream and stops at `max_body_bytes` (413), or when it is not in full `body_timeout_ms` after the head (408); parses the JSON with `max_json_depth` and `max_json_elements` counted while parsing; refuses batches over `max_batch` rows; refuses `NaN`/`Infinity` unless `allow_non_finite`.

## Why is this bad?
Oversized, deeply nested or huge-batch requests exhaust the memory and CPU of Python model servers before any model code runs. A body sent a byte at a time holds a connection, a request slot and its bytes for as long as the client likes (slowloris); many of them hold the gateway.

## Example
`{"instances": [[[[[[…]]]]]]}` 10,000 levels deep, a 2 GB body, or a head announcing 1 MB followed by a byte a minute.

## Use instead
Keep client batches within `max_batch`; raise the limits in `[limits]` only as far as the model needs.

## References
- MITRE ATLAS AML.T0029 (Denial of AI Service); CWE-400
"#;

pub static RULE: RuleMeta = RuleMeta {
    code: "GRD004",
    name: "request-limit-exceeded",
    severity: Severity::Medium,
    family: "guard",
    summary: "request body, JSON nesting, value count or batch over the limit, or a body too slow",
    controls: &[],
    techniques: &["AML.T0029"],
    fix: "send smaller requests or raise the limit in [limits]",
    doc: DOC,
};
