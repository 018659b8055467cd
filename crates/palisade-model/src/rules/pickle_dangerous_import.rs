//! MDL003: a pickle references a dangerous global without calling it.

use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Flags a pickle that brings in a global known to be dangerous (`os.system`, `builtins.eval`,
`subprocess.Popen`, …) without calling it directly: it is stored, passed as an argument, or
put in a container.

## Why is this bad?
`find_class` imports the module to fetch the object, and a value handed to an allowed callable
can still be called by it later (a `defaultdict` factory, a hook, a callback). No real model
needs a reference to `os.system`.

## Example
A state dict whose `_metadata` holds `builtins.exec`.

## Use instead
Do not load the file; rebuild it from a trusted source in a data-only format.

## References
- Python docs, `pickle.Unpickler.find_class`
- MITRE ATLAS AML.T0018.002 Embed Malware; CWE-502
"#;

pub static RULE: RuleMeta = RuleMeta {
    code: "MDL003",
    name: "pickle-dangerous-import",
    severity: Severity::High,
    family: "model",
    summary: "Pickle references a dangerous global (imported, not called directly)",
    controls: &["cwe:CWE-502"],
    techniques: &["AML.T0018.002", "AML.T0011.000"],
    fix: "do not load this file; rebuild the model from a trusted source in a data-only format",
    doc: DOC,
};
