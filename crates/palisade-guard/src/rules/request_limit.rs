//! GRD004: request body, JSON nesting, value count or batch over the limit.

use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Reads the body as a stream and stops at `max_body_bytes` (413); parses the JSON with `max_json_depth` and `max_json_elements` counted while parsing; refuses batches over `max_batch` rows; refuses `NaN`/`Infinity` unless `allow_non_finite`.

## Why is this bad?
Oversized, deeply nested or huge-batch requests exhaust the memory and CPU of Python model servers before any model code runs.

## Example
`{"instances": [[[[[[…]]]]]]}` 10,000 levels deep, or a 2 GB body.

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
    summary: "request body, JSON nesting, value count or batch over the limit",
    controls: &[],
    techniques: &["AML.T0029"],
    fix: "send smaller requests or raise the limit in [limits]",
    doc: DOC,
};
