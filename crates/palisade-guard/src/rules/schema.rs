//! GRD005: request does not match the model's input schema.

use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Extracts the features (TF Serving `instances`/`inputs`, KServe v2 tensors, a JSON pointer) and checks them against the model: the datatype and shape the v2 server declares, and the feature count of the training profile. Answers 400 naming the field. A body that is not JSON, holds NaN or Infinity where they are not allowed, or repeats a key within an object is refused the same way (reasons `invalid_json`, `non_finite`, `duplicate_key`).

## Why is this bad?
Malformed inputs probe the model server's error paths and sometimes crash it; mismatched shapes are a common step in crafting adversarial inputs. A repeated key is a way around screening: `{"features": [[benign]], "features": [[crafted]]}` is read differently by different servers — Python's `json` (Flask, FastAPI) and serde_json keep the last value, RapidJSON (TF Serving) the first — so a gateway that screened one would forward the other unscreened.

## Example
A KServe v2 request with `shape [1, 63]` for a model that declares `[-1, 64]`.

## Use instead
Send inputs of the declared datatype and shape.

## References
- MITRE ATLAS AML.T0043 (Craft Adversarial Data)
"#;

pub static RULE: RuleMeta = RuleMeta {
    code: "GRD005",
    name: "input-schema-mismatch",
    severity: Severity::Low,
    family: "guard",
    summary: "request does not match the model's input schema",
    controls: &[],
    techniques: &["AML.T0043"],
    fix: "send inputs of the shape and datatype the model declares",
    doc: DOC,
};
