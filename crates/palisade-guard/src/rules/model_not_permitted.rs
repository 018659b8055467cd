//! GRD012: tenant called a model it may not use or one the guard does not serve, wrote to a
//! path that is no inference call, or sent a body with a read-only call.

use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Refuses inference calls for models that are not in `[[models]]` (404) and calls by a tenant whose `models` list does not include the model (403). Also refuses a write to any path that is not an inference call of the protocol (404, reason `unknown_route`), and a read-only call (GET, HEAD: status, metadata) that carries a body (400, reason `body_on_read`): either would reach the model server without screening.

## Why is this bad?
A shared model server often hosts several tenants' models; without per-model authorisation any tenant can query, and extract, any other tenant's model.

## Example
Tenant `a` posts to `/v1/models/tenant-b-fraud:predict`.

## Use instead
List the model under the tenant's `models`, if it should have access.

## References
- MITRE ATLAS AML.T0040 (AI Model Inference API Access), AML.T0024 (Exfiltration via AI Inference API)
"#;

pub static RULE: RuleMeta = RuleMeta {
    code: "GRD012",
    name: "model-not-permitted",
    severity: Severity::Medium,
    family: "guard",
    summary: "tenant called a model it may not use, or one the guard does not serve",
    controls: &[],
    techniques: &["AML.T0040"],
    fix: "add the model to the tenant's models list if it should have access",
    doc: DOC,
};
