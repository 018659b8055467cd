//! MDL011: a pickle sets attributes on a global object.

use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Flags a pickle whose `BUILD` opcode targets a global object itself — a class, function or
module fetched by `find_class` — instead of an instance it created.

## Why is this bad?
`BUILD` on a class or module sets its attributes: a pickle can replace a method of an allowed
class (`torch.nn.Module.__call__`, say) or a module function for the rest of the process, so code
runs later, outside the load, where no scanner looks. Real models build instances only.

## Example
`GLOBAL torch.nn.Linear` `(dict(forward=…))` `BUILD`.

## Use instead
Do not load the file; re-export the model from its source.

## References
- Python docs, `pickle` — `BUILD` and `__setstate__`
- MITRE ATLAS AML.T0018.002 Embed Malware; CWE-502
"#;

pub static RULE: RuleMeta = RuleMeta {
    code: "MDL011",
    name: "pickle-global-mutated",
    severity: Severity::High,
    family: "model",
    summary: "Pickle changes attributes of a class, function or module (BUILD on a global)",
    controls: &["cwe:CWE-502"],
    techniques: &["AML.T0018.002"],
    fix: "do not load the file; re-export the model from its source",
    doc: DOC,
};
