//! MDL019: TorchScript code in a model archive that reads or writes files.

use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Reads the TorchScript source in a TorchScript archive (`code/**/*.py`, the code
`torch.jit.load` compiles) and flags calls of the builtins that reach the file system:
`torch.from_file` (`aten::from_file`: maps any file into a tensor; with `shared=True` it creates
the file and every write to the tensor lands in it) and `torch.save` (`aten::save`: writes a
file).

## Why is this bad?
TorchScript is not pickle, so pickle scanners do not look at it, and `weights_only` does not
apply to it. The code is compiled and run by the loader: a `__setstate__` method runs during
`torch.jit.load` itself, `forward` on every request. With these builtins the model reads the
server's secrets into its outputs or writes files (a cron entry, an SSH key) where it is
loaded. Trained and scripted models do not call them; editing `code/__torch__.py` inside the
zip is enough to add them.

## Example
`_0 = torch.fill_(torch.from_file("/root/.ssh/authorized_keys", True, 512, dtype=0), 65)` in
`__setstate__`.

## Use instead
Re-export the model (`torch.jit.script` from reviewed code, or `torch.export`); ship weights
as safetensors.

## References
- PyTorch docs, `torch.from_file` and `torch.jit.load`
- MITRE ATLAS AML.T0011.000, AML.T0018.002
"#;

pub static RULE: RuleMeta = RuleMeta {
    code: "MDL019",
    name: "torchscript-file-access",
    severity: Severity::Critical,
    family: "model",
    summary: "TorchScript code in the model reads or writes files",
    controls: &[],
    techniques: &["AML.T0011.000", "AML.T0018.002"],
    fix: "do not load this model; re-export it from reviewed code",
    doc: DOC,
};
