//! MDL017: a GGUF chat template that reaches Python internals.

use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Reads a GGUF file's metadata (never its tensors) and flags a `tokenizer.chat_template` (or
named variant) whose Jinja reaches Python internals: `__class__`, `__mro__`,
`__subclasses__`, `__globals__`, `__builtins__`, `__import__`, `|attr(…)`, `cycler`/`joiner`/
`lipsum` globals, `os.popen`.

## Why is this bad?
Serving stacks render the chat template for every request. With a non-sandboxed Jinja
environment (llama-cpp-python before 0.2.72, CVE-2024-34359, and any hand-rolled server) the
template runs Python: the model file executes code on the inference server. A chat template
only needs loops, conditions and string operations.

## Example
`{{ cycler.__init__.__globals__.os.popen('id').read() }}` inside the template.

## Use instead
Remove the template from the model (use the serving side's own), or render templates in a
sandboxed environment (`jinja2.sandbox.ImmutableSandboxedEnvironment`).

## References
- CVE-2024-34359 (llama-cpp-python Jinja2 SSTI via GGUF chat templates)
- MITRE ATLAS AML.T0011.000, AML.T0018.002
"#;

pub static RULE: RuleMeta = RuleMeta {
    code: "MDL017",
    name: "gguf-template-injection",
    severity: Severity::Critical,
    family: "model",
    summary: "GGUF chat template reaches Python internals (template injection on the server)",
    controls: &["cwe:CWE-1336"],
    techniques: &["AML.T0011.000", "AML.T0018.002"],
    fix: "drop the template or render it in a sandboxed Jinja environment",
    doc: DOC,
};
