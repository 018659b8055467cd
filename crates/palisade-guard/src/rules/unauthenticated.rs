//! GRD001: request without a valid tenant credential.

use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Checks every request for an API key (`Authorization: Bearer KEY` or `X-API-Key: KEY`) or, with mTLS, a verified client certificate, and looks the tenant up. A missing or unknown credential is answered 401 without touching the model server.

## Why is this bad?
Model servers answer anyone who can reach them. An open inference API is the entry point for extraction, evasion and cost-harvesting attacks, and without a tenant there is no one to rate-limit or to hold to account.

## Example
`curl -X POST http://guard:8080/v1/models/digits:predict -d '{"instances": [[0, …]]}'` (no key).

## Use instead
Give each client its own key and list only its hash: `palisade guard hash-key` → `[[tenants]] api_key_sha256 = "…"`.

## References
- MITRE ATLAS AML.T0040 (AI Model Inference API Access)
"#;

pub static RULE: RuleMeta = RuleMeta {
    code: "GRD001",
    name: "tenant-unauthenticated",
    severity: Severity::Medium,
    family: "guard",
    summary: "request without a valid tenant credential",
    controls: &[],
    techniques: &["AML.T0040"],
    fix: "give the caller a tenant key and send it as Authorization: Bearer KEY",
    doc: DOC,
};
