//! MDL005: a pickle stream is broken.

use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Flags a pickle that the real unpickler would reject part-way: an unknown opcode, a truncated
argument, no `STOP`, a stack underflow, a missing memo entry, an unsupported protocol. The
message gives the opcode offset where loading fails. Everything before the break has been
analysed and is reported by the other rules.

## Why is this bad?
The unpickler executes opcodes as it reads them: a payload placed *before* a deliberate break
runs, then loading fails with an error users dismiss as "corrupt file". Scanners that give up on
a broken stream see nothing (ReversingLabs' "nullifAI" models on Hugging Face, 2025).

## Example
`\x80\x02cposix\nsystem\n(S'id'\ntR` followed by garbage instead of `.`.

## Use instead
Do not load the file. A model that was saved correctly ends cleanly; re-export it from the source.

## References
- ReversingLabs, "Malicious ML models discovered on Hugging Face platform" (nullifAI), 2025
- MITRE ATLAS AML.T0018.002 Embed Malware; CWE-502
"#;

pub static RULE: RuleMeta = RuleMeta {
    code: "MDL005",
    name: "pickle-malformed",
    severity: Severity::High,
    family: "model",
    summary: "Pickle stream is broken (what ran before the break is reported separately)",
    controls: &["cwe:CWE-502"],
    techniques: &["AML.T0018.002", "AML.T0011.000"],
    fix: "do not load the file; re-export the model from its source",
    doc: DOC,
};
