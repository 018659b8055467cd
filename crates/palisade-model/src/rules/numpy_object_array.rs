//! MDL012: a NumPy file holds Python objects (a pickle).

use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Notes `.npy` files (also inside `.npz`) whose dtype holds Python objects. Their data is a
pickle; it is analysed, and anything it calls is reported by MDL001–MDL004. This note says that
loading the file needs `allow_pickle=True`.

## Why is this bad?
`numpy.load` refuses object arrays unless `allow_pickle=True`, and code that sets it to load
one file loads every file it is given that way. Numeric arrays never need it.

## Example
`np.save("labels.npy", np.array(["cat", "dog"], dtype=object))`

## Use instead
Store strings as fixed-width (`dtype="U16"`) arrays and load with `allow_pickle=False`.

## References
- NumPy docs, `numpy.load` `allow_pickle`
- CWE-502
"#;

pub static RULE: RuleMeta = RuleMeta {
    code: "MDL012",
    name: "numpy-object-array",
    severity: Severity::Info,
    family: "model",
    summary: "NumPy array holds Python objects (loading needs allow_pickle=True)",
    controls: &["cwe:CWE-502"],
    techniques: &["AML.T0011.000"],
    fix: "store fixed-width arrays and load with allow_pickle=False",
    doc: DOC,
};
