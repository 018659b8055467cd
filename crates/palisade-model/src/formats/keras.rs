//! Keras model configurations: the `config.json` of a `.keras` zip and the `model_config`
//! JSON of a legacy HDF5 `.h5` file. What matters is what loading makes Keras run: `Lambda`
//! layers (marshalled Python bytecode) and objects whose `module` is not Keras's own (Keras
//! imports that module to build them).

use serde_json::Value;

/// Something in a Keras config that runs code or imports a module when the model loads.
#[derive(Debug, PartialEq, Eq)]
pub enum Concern {
    /// A `Lambda` layer (its name), with whether its function is marshalled bytecode.
    Lambda { layer: String, bytecode: bool },
    /// An object built from a module outside Keras (module, class or function name).
    Module { module: String, name: String },
}

/// Modules whose objects Keras deserialises as its own.
fn keras_module(m: &str) -> bool {
    let head = m.split('.').next().unwrap_or("");
    matches!(head, "keras" | "tf_keras" | "builtins") && !m.contains("..")
        || m.starts_with("tensorflow.keras")
        || m.starts_with("tensorflow.python.keras")
}

/// Walk a config (any depth, bounded) for the concerns.
pub fn concerns(config: &Value) -> Vec<Concern> {
    let mut out = Vec::new();
    walk(config, 0, &mut out);
    out
}

fn walk(v: &Value, depth: usize, out: &mut Vec<Concern>) {
    if depth > 200 {
        return;
    }
    match v {
        Value::Object(m) => {
            let class = m.get("class_name").and_then(Value::as_str).unwrap_or("");
            if class == "Lambda" {
                let cfg = m.get("config");
                let layer = cfg
                    .and_then(|c| c.get("name"))
                    .and_then(Value::as_str)
                    .unwrap_or("?")
                    .to_string();
                let f = cfg.and_then(|c| c.get("function"));
                // Keras 3: {"class_name": "__lambda__", "config": {"code": …}}; legacy: a list
                // [base64 bytecode, defaults, closure] or a string
                let bytecode = f.is_some_and(|f| {
                    f.get("class_name").and_then(Value::as_str) == Some("__lambda__")
                        || f.is_array()
                        || f.as_str().is_some_and(|s| s.len() > 16)
                });
                out.push(Concern::Lambda { layer, bytecode });
            }
            if let Some(module) = m.get("module").and_then(Value::as_str)
                && !keras_module(module)
            {
                out.push(Concern::Module {
                    module: module.to_string(),
                    name: class.to_string(),
                });
            }
            for (_, x) in m {
                walk(x, depth + 1, out);
            }
        }
        Value::Array(a) => {
            for x in a {
                walk(x, depth + 1, out);
            }
        }
        _ => {}
    }
}

/// The `model_config` JSON inside a legacy HDF5 file: the first `{"class_name": …}` object
/// found in the bytes (h5py stores the attribute as one contiguous string).
pub fn find_h5_config(bytes: &[u8]) -> Option<Value> {
    let pat = b"{\"class_name\":";
    let mut from = 0;
    while let Some(i) = find(&bytes[from..], pat) {
        let start = from + i;
        let mut it = serde_json::Deserializer::from_slice(&bytes[start..]).into_iter::<Value>();
        if let Some(Ok(v)) = it.next()
            && v.get("config").is_some()
        {
            return Some(v);
        }
        from = start + 1;
    }
    None
}

fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn foreign_modules_and_lambdas_are_found_keras_modules_are_not() {
        let cfg: Value = serde_json::from_str(
            r#"{"class_name": "Sequential", "module": "keras", "config": {"layers": [
                {"class_name": "Dense", "module": "keras.layers", "config": {"name": "d"}},
                {"class_name": "Popen", "module": "subprocess", "config": {}},
                {"class_name": "Lambda", "module": "keras.layers",
                 "config": {"name": "l", "function": {"class_name": "__lambda__", "config": {"code": "4wEAAAAAAAAAAAAAAAEAAAAD"}}}}
            ]}}"#,
        )
        .unwrap();
        let c = concerns(&cfg);
        assert_eq!(
            c,
            vec![
                Concern::Module {
                    module: "subprocess".into(),
                    name: "Popen".into()
                },
                Concern::Lambda {
                    layer: "l".into(),
                    bytecode: true
                },
            ]
        );
    }
}
