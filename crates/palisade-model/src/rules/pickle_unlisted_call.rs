//! MDL002: a pickle calls something that is not on the allowlist.

use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Flags a pickle that calls (or instantiates) a global that is not on the model-scan allowlist
and not known to be dangerous either: a class of your own (`__main__.Net`), a library function
nobody needs to rebuild a model, anything unexpected.

The allowlist (`crates/palisade-model/src/policy.toml`, documented there) holds what real models
use: torch's tensor and storage rebuild functions and
`torch.nn` classes, NumPy array reconstruction and dtypes, scikit-learn estimator classes,
`collections.OrderedDict`, `copyreg` helpers. Extend it for your own classes in `palisade.toml`:

```toml
[model]
allow = ["mypackage.models.<Class>"]
```

## Why is this bad?
Denylists are bypassed every year (picklescan CVE-2025-1716 and its successors, ModelScan and
fickling gaps): a function nobody thought of runs code. An allowlist fails closed: what it does
not know is reported.

## Example
`torch.save(model)` of a whole `nn.Module` subclass defined in `train.py` references
`__main__.Net`, which loading imports and instantiates.

## Use instead
Save and ship state dicts (`torch.save(model.state_dict())`) or safetensors, and rebuild the
module in code. If the callable is yours and reviewed, allow it in `palisade.toml`.

## References
- PyTorch docs, `torch.load` `weights_only` and `torch.serialization.add_safe_globals`
- MITRE ATLAS AML.T0011.000 User Execution: Unsafe AI Artifacts; CWE-502
"#;

pub static RULE: RuleMeta = RuleMeta {
    code: "MDL002",
    name: "pickle-unlisted-call",
    severity: Severity::High,
    family: "model",
    summary: "Pickle calls a callable that is not on the model allowlist",
    controls: &["cwe:CWE-502"],
    techniques: &["AML.T0011.000", "AML.T0010.003"],
    fix: "ship weights as safetensors or a state_dict; allow reviewed classes in palisade.toml [model] allow",
    doc: DOC,
};
