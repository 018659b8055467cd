//! MDL004: a pickle references a global that is not on the allowlist, without calling it.

use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Flags a pickle that references (imports, but does not call) a global that is neither on the
model allowlist nor known to be dangerous.

## Why is this bad?
Importing a module runs its top-level code, and the reference can be called by what receives
it. It is usually harmless — a custom dtype, an enum — which is why this is `low`; it is
reported so that an allowlist can say what your models are allowed to contain.

## Example
A checkpoint whose metadata stores `mypackage.config.Mode.TRAIN`.

## Use instead
Store plain values (strings, numbers) instead of objects, or allow the reviewed name in
`palisade.toml` `[model] allow`.

## References
- Python docs, `pickle.Unpickler.find_class`
- MITRE ATLAS AML.T0011.000; CWE-502
"#;

pub static RULE: RuleMeta = RuleMeta {
    code: "MDL004",
    name: "pickle-unlisted-import",
    severity: Severity::Low,
    family: "model",
    summary: "Pickle references a global that is not on the model allowlist",
    controls: &["cwe:CWE-502"],
    techniques: &["AML.T0011.000"],
    fix: "store plain values instead of objects, or allow the reviewed name in palisade.toml",
    doc: DOC,
};
