//! What the model-server protocols look like on the wire: which requests are inference calls
//! for which model, where the features are in a request body, where the predictions are in a
//! response, and how to write a request (for the control-set probes).
//!
//! - TF Serving REST: `POST /v1/models/NAME[/versions/N|/labels/L]:predict` with
//!   `{"instances": [...]}` (row format) or `{"inputs": ...}` (columnar), answered with
//!   `{"predictions": [...]}`; `:classify` and `:regress` with `{"examples": [{FEATURE: value,
//!   ...}], "context": {...}}` (tf.Example features by name, read in the order of the profile's
//!   feature names), answered with `{"results": [...]}`.
//! - KServe / Open Inference Protocol v2: `POST /v2/models/NAME[/versions/V]/infer` with
//!   `{"inputs": [{"name", "shape", "datatype", "data"}]}`; answers `{"outputs": [...]}`. The
//!   model's input schema comes from `GET /v2/models/NAME` ([`V2Schema`]).
//! - Generic JSON (Flask, FastAPI): a configured route per model and JSON pointers to the
//!   features and the predictions.

use crate::config::{Model, Protocol};
use crate::json::{Array, Value};
use crate::profile::Profile;
use std::borrow::Cow;

/// What a request is, as far as the guard is concerned; a model's name is borrowed from the
/// request's path or the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route<'a> {
    /// An inference call for this model: screened, then forwarded.
    Infer(&'a str),
    /// A read-only call about this model (status, metadata): forwarded after authorisation.
    ModelInfo(&'a str),
    /// A read-only call about the server (health, server metadata).
    ServerInfo,
    /// Anything else: refused (an unscreened write path would be a bypass).
    Unknown,
}

pub fn route<'a>(
    protocol: Protocol,
    method: &hyper::Method,
    path: &'a str,
    models: &'a [Model],
) -> Route<'a> {
    let read = method == hyper::Method::GET || method == hyper::Method::HEAD;
    match protocol {
        Protocol::Tfserving => {
            let Some(rest) = path.strip_prefix("/v1/models/") else {
                return Route::Unknown;
            };
            if let Some((base, verb)) = rest.rsplit_once(':') {
                let name = model_of(base, "/versions/", "/labels/");
                if !read && matches!(verb, "predict" | "classify" | "regress") && !name.is_empty() {
                    return Route::Infer(name);
                }
                return Route::Unknown;
            }
            let base = rest.strip_suffix("/metadata").unwrap_or(rest);
            let name = model_of(base, "/versions/", "/labels/");
            if read && !name.is_empty() && !name.contains('/') {
                Route::ModelInfo(name)
            } else {
                Route::Unknown
            }
        }
        Protocol::KserveV2 => {
            if read && matches!(path, "/v2" | "/v2/health/live" | "/v2/health/ready") {
                return Route::ServerInfo;
            }
            let Some(rest) = path.strip_prefix("/v2/models/") else {
                return Route::Unknown;
            };
            if let Some(base) = rest.strip_suffix("/infer") {
                let name = model_of(base, "/versions/", "/versions/");
                return if !read && !name.is_empty() && !name.contains('/') {
                    Route::Infer(name)
                } else {
                    Route::Unknown
                };
            }
            let base = rest.strip_suffix("/ready").unwrap_or(rest);
            let name = model_of(base, "/versions/", "/versions/");
            if read && !name.is_empty() && !name.contains('/') {
                Route::ModelInfo(name)
            } else {
                Route::Unknown
            }
        }
        Protocol::Json => {
            if let Some(m) = models.iter().find(|m| m.route.as_deref() == Some(path)) {
                return if read {
                    Route::ModelInfo(&m.name)
                } else {
                    Route::Infer(&m.name)
                };
            }
            if read {
                Route::ServerInfo
            } else {
                Route::Unknown
            }
        }
    }
}

/// `NAME` from `NAME`, `NAME/versions/N` or `NAME/labels/L`.
fn model_of<'a>(base: &'a str, versions: &str, labels: &str) -> &'a str {
    base.split_once(versions)
        .or_else(|| base.split_once(labels))
        .map_or(base, |(n, _)| n)
}

/// The numeric features of one request: `rows` rows of `cols` values.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    pub rows: usize,
    pub cols: usize,
    pub data: Vec<f64>,
}

impl Batch {
    pub fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// Rows given as JSON values (arrays, nested arrays or single numbers), all one length.
    fn from_rows<'a>(
        rows: impl ExactSizeIterator<Item = Cow<'a, Value>>,
        what: &str,
    ) -> Result<Batch, String> {
        let count = rows.len();
        let mut rows = rows.peekable();
        // Room for the first row when it is a flat array, the common case.
        let mut data = Vec::with_capacity(match rows.peek().map(|r| &**r) {
            Some(Value::Array(a)) => a.len(),
            _ => 0,
        });
        let mut cols = None;
        for (i, r) in rows.enumerate() {
            let before = data.len();
            flatten(&r, &mut data).map_err(|e| format!("{what}[{i}]: {e}"))?;
            let n = data.len() - before;
            match cols {
                // Nothing is set aside for the rows to come: they are as long only if the
                // request is valid, and room for `count` copies of a long first row is more
                // memory than the whole body held (the vector grows as they are read).
                None => cols = Some(n),
                Some(c) if c != n => {
                    return Err(format!(
                        "{what}[{i}] has {n} values where {what}[0] has {c}"
                    ));
                }
                _ => {}
            }
        }
        Ok(Batch {
            rows: count,
            cols: cols.unwrap_or(0),
            data,
        })
    }
}

/// A number as it is, a boolean as 0 or 1; `None` for anything else.
fn scalar(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => Some(*n),
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        _ => None,
    }
}

/// Numbers (and booleans as 0/1) from nested arrays, in row-major order.
fn flatten(v: &Value, out: &mut Vec<f64>) -> Result<(), String> {
    if let Some(x) = scalar(v) {
        out.push(x);
        return Ok(());
    }
    match v {
        Value::Array(Array::Numbers(n)) => out.extend_from_slice(n),
        Value::Array(Array::Values(a)) => {
            for x in a {
                flatten(x, out)?;
            }
        }
        other => {
            return Err(format!(
                "{} where numbers were expected (the guard screens numeric features)",
                other.kind()
            ));
        }
    }
    Ok(())
}

/// The input schema a KServe v2 server declares for a model (`GET /v2/models/NAME`).
#[derive(Debug, Clone, PartialEq)]
pub struct V2Schema {
    pub inputs: Vec<V2Tensor>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct V2Tensor {
    pub name: String,
    pub datatype: String,
    /// `-1` is any size.
    pub shape: Vec<i64>,
}

impl V2Schema {
    pub fn parse(v: &Value) -> Result<V2Schema, String> {
        let inputs = v
            .get("inputs")
            .and_then(Value::as_array)
            .ok_or("model metadata has no 'inputs' array")?;
        let inputs = inputs
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let field = |k: &str| {
                    t.get(k)
                        .and_then(Value::as_str)
                        .map(str::to_string)
                        .ok_or_else(|| format!("model metadata inputs[{i}].{k} is missing"))
                };
                let shape = t
                    .get("shape")
                    .and_then(Value::as_array)
                    .ok_or_else(|| format!("model metadata inputs[{i}].shape is missing"))?
                    .iter()
                    .map(|d| d.as_f64().map(|d| d as i64))
                    .collect::<Option<Vec<i64>>>()
                    .ok_or_else(|| format!("model metadata inputs[{i}].shape is not integers"))?;
                Ok(V2Tensor {
                    name: field("name")?,
                    datatype: field("datatype")?,
                    shape,
                })
            })
            .collect::<Result<_, String>>()?;
        Ok(V2Schema { inputs })
    }
}

/// The features of an inference request body. A TF Serving `examples` body is read by the
/// feature names of the model's `profile`.
pub fn features(
    protocol: Protocol,
    model: &Model,
    body: &Value,
    schema: Option<&V2Schema>,
    profile: Option<&Profile>,
) -> Result<Batch, String> {
    match protocol {
        Protocol::Tfserving => tfserving_features(model, body, profile),
        Protocol::KserveV2 => v2_features(model, body, schema),
        Protocol::Json => {
            let pointer = model.input.as_deref().unwrap_or("");
            let v = body
                .pointer(pointer)
                .ok_or_else(|| format!("the request has nothing at '{pointer}'"))?;
            match &*v {
                Value::Array(Array::Values(a))
                    if a.iter().any(|x| matches!(x, Value::Array(_))) =>
                {
                    Batch::from_rows(a.iter().map(Cow::Borrowed), pointer)
                }
                Value::Array(_) => Batch::from_rows(std::iter::once(v), pointer),
                other => Err(format!(
                    "'{pointer}' is {}, expected an array",
                    other.kind()
                )),
            }
        }
    }
}

fn tfserving_features<'a>(
    model: &Model,
    body: &'a Value,
    profile: Option<&Profile>,
) -> Result<Batch, String> {
    // A named-input object is read through to the input being screened.
    let pick = |v: Cow<'a, Value>, what: &dyn Fn() -> String| -> Result<Cow<'a, Value>, String> {
        let (object, members) = match v {
            Cow::Borrowed(o @ Value::Object(m)) => (o, m),
            other => return Ok(other),
        };
        let found = match &model.input {
            Some(name) => object.get(name),
            None if members.len() == 1 => Some(&members[0].1),
            None => None,
        };
        let found = found.map(Cow::Borrowed);
        found.ok_or_else(|| match &model.input {
            Some(name) => format!("{} has no input named '{name}'", what()),
            None => format!(
                "{} has several named inputs; set the model's `input` to the one to screen",
                what()
            ),
        })
    };
    // One of the three: TF Serving refuses `instances` with `inputs`, and reads `examples`
    // only on `:classify` / `:regress`, the others only on `:predict` — screening one of two
    // would forward the other to the method that reads it, unscreened.
    let given = ["instances", "inputs", "examples"].map(|k| (k, body.get(k)));
    let mut present = given.iter().filter(|(_, v)| v.is_some());
    if let (Some((first, _)), Some((second, _))) = (present.next(), present.next()) {
        return Err(format!(
            "the request has both '{first}' and '{second}'; TF Serving reads one"
        ));
    }
    let [(_, instances), (_, inputs), (_, examples)] = given;
    if let Some(examples) = examples {
        return examples_features(body, examples, profile);
    }
    if let Some(instances) = instances {
        let a = instances
            .as_array()
            .ok_or("'instances' must be an array (one entry per instance)")?;
        let rows = a
            .iter()
            .enumerate()
            .map(|(i, r)| pick(r, &|| format!("instances[{i}]")))
            .collect::<Result<Vec<_>, _>>()?;
        return Batch::from_rows(rows.into_iter(), "instances");
    }
    if let Some(inputs) = inputs {
        return match pick(Cow::Borrowed(inputs), &|| "inputs".to_string())? {
            Cow::Borrowed(Value::Array(a)) => Batch::from_rows(a.iter(), "inputs"),
            other => Batch::from_rows(std::iter::once(other), "inputs"),
        };
    }
    Err(
        "the request has none of 'instances', 'inputs' (:predict) and 'examples' (:classify, \
         :regress)"
            .into(),
    )
}

/// The rows of a `:classify` / `:regress` body: each example's features, with those in
/// `context` shared by all, in the order of the profile's feature names. Features the
/// profile does not name are the model's business and not screened; without a profile only
/// the examples are counted (for `limits.max_batch`).
fn examples_features<'a>(
    body: &'a Value,
    examples: &'a Value,
    profile: Option<&Profile>,
) -> Result<Batch, String> {
    let list = examples
        .as_array()
        .ok_or("'examples' must be an array (one object per example)")?;
    let Some(profile) = profile else {
        return Ok(Batch {
            rows: list.len(),
            cols: 0,
            data: Vec::new(),
        });
    };
    let names = profile.names.as_deref().ok_or(
        "'examples' name their features, and the model's profile has no feature names to read \
         them by (build it from a CSV with a header row)",
    )?;
    // Each member placed in its feature's column, in one pass over an example's members
    // (looking each name up in each example would be features × members comparisons). The
    // parser refuses a repeated key, so a member fills its column once.
    let place = |members: &'a [(Box<str>, Value)], row: &mut [Option<&'a Value>]| {
        for (k, v) in members {
            if let Some(c) = profile.column(k) {
                row[c] = Some(v);
            }
        }
    };
    let mut shared = vec![None; names.len()];
    match body.get("context") {
        None => {}
        Some(Value::Object(members)) => place(members, &mut shared),
        Some(other) => return Err(format!("'context' is {}, expected an object", other.kind())),
    }
    // Nothing set aside: the list's length is the client's to choose.
    let mut data = Vec::new();
    let mut row = vec![None; names.len()];
    for (i, example) in list.iter().enumerate() {
        let Cow::Borrowed(Value::Object(members)) = example else {
            return Err(format!(
                "examples[{i}] is {}, expected an object of features",
                example.kind()
            ));
        };
        row.fill(None);
        place(members, &mut row);
        for ((name, own), context) in names.iter().zip(&row).zip(&shared) {
            let value = match (own, context) {
                (Some(v), None) | (None, Some(v)) => v,
                (Some(_), Some(_)) => {
                    return Err(format!(
                        "'{name}' is in both examples[{i}] and 'context'; give it once"
                    ));
                }
                (None, None) => {
                    return Err(format!("examples[{i}] has no feature '{name}'"));
                }
            };
            data.push(one_number(value).ok_or_else(|| {
                format!(
                    "examples[{i}].{name} is {}, expected a number (or a list of one)",
                    value.kind()
                )
            })?);
        }
    }
    Ok(Batch {
        rows: list.len(),
        cols: names.len(),
        data,
    })
}

/// A tf.Example feature's one value, and a one-output prediction: a number or boolean, alone
/// or as a list of one.
fn one_number(v: &Value) -> Option<f64> {
    match v {
        Value::Array(a) if a.len() == 1 => one_number(&*a.first()?),
        other => scalar(other),
    }
}

fn v2_features(model: &Model, body: &Value, schema: Option<&V2Schema>) -> Result<Batch, String> {
    let inputs = body
        .get("inputs")
        .and_then(Value::as_array)
        .ok_or("the request has no 'inputs' array")?;
    // A name given twice is read one way here and maybe another by the server (the first,
    // the last, an error); several tensors with none chosen leave the server's pick unknown.
    if let Array::Values(tensors) = inputs
        && tensors.len() > 1
    {
        let mut names = std::collections::HashSet::new();
        for (i, t) in tensors.iter().enumerate() {
            if let Some(name) = t.get("name").and_then(Value::as_str)
                && !names.insert(name)
            {
                return Err(format!(
                    "inputs[{i}]: the tensor name '{name}' is given twice"
                ));
            }
        }
    }
    if model.input.is_none() && inputs.len() > 1 {
        return Err(format!(
            "the request has {} input tensors; set the model's `input` to the one to screen",
            inputs.len()
        ));
    }
    let (index, tensor) = match &model.input {
        Some(name) => inputs
            .iter()
            .enumerate()
            .find(|(_, t)| t.get("name").and_then(Value::as_str) == Some(name))
            .ok_or_else(|| format!("the request has no input tensor named '{name}'"))?,
        None => (0, inputs.first().ok_or("'inputs' is empty")?),
    };
    let at = format!("inputs[{index}]");
    let name = tensor
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{at}.name is missing"))?;
    let datatype = tensor
        .get("datatype")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{at}.datatype is missing"))?;
    let shape: Vec<usize> = tensor
        .get("shape")
        .and_then(Value::as_array)
        .ok_or_else(|| format!("{at}.shape is missing"))?
        .iter()
        .map(|d| {
            d.as_f64()
                .filter(|d| *d >= 0.0 && d.fract() == 0.0)
                .map(|d| d as usize)
        })
        .collect::<Option<_>>()
        .ok_or_else(|| format!("{at}.shape must be non-negative integers"))?;
    if shape.is_empty() {
        return Err(format!(
            "{at}.shape is empty; the first dimension is the batch"
        ));
    }
    if let Some(schema) = schema {
        let declared = schema
            .inputs
            .iter()
            .find(|t| t.name == name)
            .ok_or_else(|| format!("{at}: the model declares no input named '{name}'"))?;
        if declared.datatype != datatype {
            return Err(format!(
                "{at}.datatype is {datatype}; the model declares {}",
                declared.datatype
            ));
        }
        let fits = declared.shape.len() == shape.len()
            && declared
                .shape
                .iter()
                .zip(&shape)
                .all(|(d, s)| *d < 0 || *d as usize == *s);
        if !fits {
            return Err(format!(
                "{at}.shape is {shape:?}; the model declares {:?} (-1 is any size)",
                declared.shape
            ));
        }
    }
    if datatype == "BYTES" {
        return Err(format!("{at} is BYTES; the guard screens numeric tensors"));
    }
    let mut data = Vec::new();
    flatten(
        tensor
            .get("data")
            .ok_or_else(|| format!("{at}.data is missing"))?,
        &mut data,
    )
    .map_err(|e| format!("{at}.data: {e}"))?;
    let want = shape.iter().try_fold(1usize, |a, b| a.checked_mul(*b));
    if want != Some(data.len()) {
        return Err(format!(
            "{at}.data has {} values; shape {shape:?} needs {}",
            data.len(),
            want.map_or("more than fit in memory".into(), |w| w.to_string())
        ));
    }
    let cols = shape[1..].iter().product::<usize>();
    Ok(Batch {
        rows: shape[0],
        cols,
        data,
    })
}

/// Each row's prediction: a number (or boolean) as it is, a one-item array's item, the index
/// of the largest score of a longer array (a class), or the place of the highest-scored
/// class in TF Serving's `:classify` list of `[label, score]` pairs.
fn per_row<'a>(rows: impl Iterator<Item = Cow<'a, Value>>) -> Option<Vec<f64>> {
    rows.map(|r| {
        one_number(&r).or_else(|| match &*r {
            Value::Array(Array::Numbers(scores)) => argmax(scores.iter().copied().map(Some)),
            Value::Array(Array::Values(pairs)) => argmax(pairs.iter().map(class_score)),
            _ => None,
        })
    })
    .collect()
}

/// The score of one class in a `:classify` result, `["label", score]`; `None` for anything
/// else.
fn class_score(pair: &Value) -> Option<f64> {
    match pair {
        Value::Array(Array::Values(pair)) => match &pair[..] {
            [Value::String(_), Value::Number(score)] => Some(*score),
            _ => None,
        },
        _ => None,
    }
}

/// One prediction per row: the value, or the index of the largest score for a vector output
/// (a class). `None` when the response does not hold predictions in the expected place.
pub fn predictions(protocol: Protocol, model: &Model, response: &Value) -> Option<Vec<f64>> {
    match protocol {
        Protocol::Tfserving => per_row(
            response
                .get("predictions")
                .or_else(|| response.get("results"))?
                .as_array()?
                .iter(),
        ),
        Protocol::Json => {
            let v = match &model.output {
                Some(p) => response.pointer(p)?,
                None => Cow::Borrowed(
                    response
                        .get("predictions")
                        .or_else(|| response.get("prediction"))?,
                ),
            };
            match &*v {
                Value::Array(a) => per_row(a.iter()),
                _ => per_row(std::iter::once(v.clone())),
            }
        }
        Protocol::KserveV2 => {
            let out = response.get("outputs")?.as_array()?.first()?;
            let shape: Vec<usize> = out
                .get("shape")?
                .as_array()?
                .iter()
                .map(|d| d.as_f64().map(|d| d as usize))
                .collect::<Option<_>>()?;
            let mut data = Vec::new();
            flatten(out.get("data")?, &mut data).ok()?;
            let rows = *shape.first()?;
            let width = shape[1..].iter().product::<usize>();
            if rows == 0 || width == 0 || rows * width != data.len() {
                return None;
            }
            data.chunks(width)
                .map(|c| {
                    if width == 1 {
                        Some(c[0])
                    } else {
                        argmax(c.iter().copied().map(Some))
                    }
                })
                .collect()
        }
    }
}

/// The index of the largest of `v`'s scores; `None` when there are none, or when any item is
/// `None` (not a score), read in one pass.
fn argmax(v: impl IntoIterator<Item = Option<f64>>) -> Option<f64> {
    let mut best: Option<(usize, f64)> = None;
    for (i, x) in v.into_iter().enumerate() {
        let x = x?;
        if best.is_none_or(|(_, b)| x > b) {
            best = Some((i, x));
        }
    }
    best.map(|(i, _)| i as f64)
}

/// A request body asking for predictions on `rows` (for the probes), in the model's protocol.
pub fn request_body(
    protocol: Protocol,
    model: &Model,
    rows: &[Vec<f64>],
    schema: Option<&V2Schema>,
) -> serde_json::Value {
    use serde_json::json;
    match protocol {
        Protocol::Tfserving => match &model.input {
            Some(name) => {
                json!({ "instances": rows.iter().map(|r| json!({ name: r })).collect::<Vec<_>>() })
            }
            None => json!({ "instances": rows }),
        },
        Protocol::KserveV2 => {
            let declared = schema.and_then(|s| match &model.input {
                Some(n) => s.inputs.iter().find(|t| &t.name == n),
                None => s.inputs.first(),
            });
            let name = model
                .input
                .clone()
                .or_else(|| declared.map(|t| t.name.clone()))
                .unwrap_or_else(|| "input-0".into());
            let datatype = declared.map_or("FP64".to_string(), |t| t.datatype.clone());
            let cols = rows.first().map_or(0, Vec::len);
            let data: Vec<f64> = rows.iter().flatten().copied().collect();
            json!({ "inputs": [{ "name": name, "shape": [rows.len(), cols], "datatype": datatype, "data": data }] })
        }
        Protocol::Json => {
            let pointer = model.input.as_deref().unwrap_or("");
            let mut v = json!(rows);
            for key in pointer.rsplit('/').filter(|k| !k.is_empty()) {
                let key = key.replace("~1", "/").replace("~0", "~");
                v = json!({ key: v });
            }
            v
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::{Limits, parse};
    use hyper::Method;

    fn j(text: &str) -> Value {
        parse(
            text.as_bytes(),
            Limits {
                max_depth: 32,
                max_elements: 10_000,
                allow_non_finite: true,
            },
        )
        .unwrap()
    }

    fn model(input: Option<&str>, route: Option<&str>) -> Model {
        Model {
            name: "m".into(),
            route: route.map(str::to_string),
            input: input.map(str::to_string),
            output: None,
            profile: None,
            screening: Default::default(),
            drift: None,
            probe: None,
        }
    }

    #[test]
    fn tfserving_routes() {
        let r = |m: Method, p: &'static str| route(Protocol::Tfserving, &m, p, &[]);
        assert_eq!(
            r(Method::POST, "/v1/models/digits:predict"),
            Route::Infer("digits")
        );
        assert_eq!(
            r(Method::POST, "/v1/models/digits/versions/3:classify"),
            Route::Infer("digits")
        );
        assert_eq!(
            r(Method::POST, "/v1/models/digits/labels/stable:predict"),
            Route::Infer("digits")
        );
        assert_eq!(
            r(Method::GET, "/v1/models/digits/metadata"),
            Route::ModelInfo("digits")
        );
        assert_eq!(r(Method::POST, "/v1/models/digits:explode"), Route::Unknown);
        assert_eq!(r(Method::POST, "/admin"), Route::Unknown);
    }

    #[test]
    fn v2_and_json_routes() {
        let r = |m: Method, p: &'static str| route(Protocol::KserveV2, &m, p, &[]);
        assert_eq!(
            r(Method::POST, "/v2/models/d/versions/2/infer"),
            Route::Infer("d")
        );
        assert_eq!(r(Method::GET, "/v2/models/d"), Route::ModelInfo("d"));
        assert_eq!(r(Method::GET, "/v2/health/ready"), Route::ServerInfo);
        assert_eq!(
            r(Method::POST, "/v2/repository/models/d/load"),
            Route::Unknown
        );
        let models = [model(Some("/features"), Some("/predict"))];
        assert_eq!(
            route(Protocol::Json, &Method::POST, "/predict", &models),
            Route::Infer("m")
        );
        assert_eq!(
            route(Protocol::Json, &Method::POST, "/train", &models),
            Route::Unknown
        );
        assert_eq!(
            route(Protocol::Json, &Method::GET, "/health", &models),
            Route::ServerInfo
        );
    }

    #[test]
    fn tfserving_row_and_columnar_bodies() {
        let m = model(None, None);
        let named = model(Some("x"), None);
        let tf = |m: &Model, body: &str| features(Protocol::Tfserving, m, &j(body), None, None);
        let b = tf(&m, r#"{"instances": [[1,2],[3,4]]}"#).unwrap();
        assert_eq!((b.rows, b.cols, b.row(1)), (2, 2, &[3.0, 4.0][..]));
        let b = tf(&m, r#"{"inputs": {"x": [[1,2]]}}"#).unwrap();
        assert_eq!((b.rows, b.cols), (1, 2));
        let b = tf(
            &named,
            r#"{"instances": [{"x": [[1,2],[3,4]], "y": "tag"}]}"#,
        )
        .unwrap();
        assert_eq!((b.rows, b.cols), (1, 4));
        let err = tf(&m, r#"{"instances": [[1,2],[3]]}"#).unwrap_err();
        assert_eq!(err, "instances[1] has 1 values where instances[0] has 2");
        let err = tf(&m, r#"{"instances": [["a"]]}"#).unwrap_err();
        assert!(err.starts_with("instances[0]: a string"), "{err}");
        let err = tf(&m, r#"{"instances": [[1,2]], "inputs": [[16,16]]}"#).unwrap_err();
        assert!(err.contains("both 'instances' and 'inputs'"), "{err}");
    }

    fn profile(names: Option<&[&str]>) -> Profile {
        // Two loosely related features over a few rows: enough for a profile.
        let data: Vec<f64> = (0..40)
            .flat_map(|i| [f64::from(i), f64::from(i % 7)])
            .collect();
        let m = crate::data::Matrix {
            cols: 2,
            data,
            names: names.map(|n| n.iter().map(|s| s.to_string()).collect()),
        };
        Profile::build(&m, None).unwrap()
    }

    /// `:classify` / `:regress` bodies name their features: read in the profile's order,
    /// with `context` shared by every example; a feature given twice (example and context)
    /// or not at all is refused, and so is a body that also holds `instances`.
    #[test]
    fn tfserving_examples_are_read_by_the_profiles_feature_names() {
        let m = model(None, None);
        let named = profile(Some(&["width", "height"]));
        let read =
            |body: &str, p: Option<&Profile>| features(Protocol::Tfserving, &m, &j(body), None, p);
        let b = read(
            r#"{"examples": [{"height": 2, "width": 1.5, "colour": "red"}, {"height": [4], "width": true}]}"#,
            Some(&named),
        )
        .unwrap();
        assert_eq!((b.rows, b.cols), (2, 2));
        assert_eq!(b.data, [1.5, 2.0, 1.0, 4.0]);
        let b = read(
            r#"{"context": {"height": 9}, "examples": [{"width": 1}, {"width": 2}]}"#,
            Some(&named),
        )
        .unwrap();
        assert_eq!(b.data, [1.0, 9.0, 2.0, 9.0]);
        let refused = [
            (
                r#"{"context": {"height": 9}, "examples": [{"width": 1, "height": 3}]}"#,
                "'height' is in both examples[0] and 'context'",
            ),
            (
                r#"{"examples": [{"width": 1}]}"#,
                "examples[0] has no feature 'height'",
            ),
            (
                r#"{"examples": [{"width": [1, 2], "height": 1}]}"#,
                "examples[0].width is an array",
            ),
            (r#"{"examples": [[1, 2]]}"#, "examples[0] is an array"),
            (
                r#"{"examples": [{"width": 1, "height": 1}], "instances": [[1, 2]]}"#,
                "both 'instances' and 'examples'",
            ),
        ];
        for (body, want) in refused {
            let err = read(body, Some(&named)).unwrap_err();
            assert!(err.contains(want), "{body}: {err}");
        }
        let err = read(r#"{"examples": [{"a": 1}]}"#, Some(&profile(None))).unwrap_err();
        assert!(err.contains("no feature names"), "{err}");
        // No profile: nothing to screen, the examples counted for the batch limit.
        let b = read(r#"{"examples": [{"a": 1}, {"b": 2}, {}]}"#, None).unwrap();
        assert_eq!((b.rows, b.cols), (3, 0));
    }

    #[test]
    fn classify_and_regress_results_are_predictions() {
        let m = model(None, None);
        assert_eq!(
            predictions(
                Protocol::Tfserving,
                &m,
                &j(
                    r#"{"results": [[["a", 0.1], ["b", 0.7], ["c", 0.2]], [["a", 0.9], ["b", 0.1], ["c", 0.0]]]}"#
                )
            ),
            Some(vec![1.0, 0.0])
        );
        assert_eq!(
            predictions(Protocol::Tfserving, &m, &j(r#"{"results": [3.5, -1]}"#)),
            Some(vec![3.5, -1.0])
        );
        // A list that is not all [label, score] pairs is no prediction.
        for odd in [
            r#"{"results": [[["a", 0.1], ["b"]]]}"#,
            r#"{"results": [[["a", 0.1], [0.9, "b"]]]}"#,
            r#"{"results": [[["a", 0.1], 0.9]]}"#,
        ] {
            assert_eq!(predictions(Protocol::Tfserving, &m, &j(odd)), None, "{odd}");
        }
    }

    #[test]
    fn v2_bodies_against_the_declared_schema() {
        let schema = V2Schema::parse(&j(
            r#"{"name":"d","inputs":[{"name":"x","datatype":"FP32","shape":[-1,4]}]}"#,
        ))
        .unwrap();
        let m = model(None, None);
        let ok = j(
            r#"{"inputs":[{"name":"x","shape":[2,4],"datatype":"FP32","data":[1,2,3,4,5,6,7,8]}]}"#,
        );
        let b = features(Protocol::KserveV2, &m, &ok, Some(&schema), None).unwrap();
        assert_eq!((b.rows, b.cols), (2, 4));
        let cases = [
            (
                r#"{"inputs":[{"name":"x","shape":[2,4],"datatype":"FP64","data":[1,2,3,4,5,6,7,8]}]}"#,
                "datatype is FP64",
            ),
            (
                r#"{"inputs":[{"name":"x","shape":[2,3],"datatype":"FP32","data":[1,2,3,4,5,6]}]}"#,
                "declares [-1, 4]",
            ),
            (
                r#"{"inputs":[{"name":"x","shape":[2,4],"datatype":"FP32","data":[1,2,3]}]}"#,
                "needs 8",
            ),
            (
                r#"{"inputs":[{"name":"z","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]}"#,
                "no input named 'z'",
            ),
        ];
        for (body, want) in cases {
            let err = features(Protocol::KserveV2, &m, &j(body), Some(&schema), None).unwrap_err();
            assert!(err.contains(want), "{body}: {err}");
        }
        // Two tensors: only with the one to screen named, and never two of one name.
        let two = r#"{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]},
                                {"name":"y","shape":[1,1],"datatype":"FP32","data":[9]}]}"#;
        let err = features(Protocol::KserveV2, &m, &j(two), Some(&schema), None).unwrap_err();
        assert!(
            err.contains("2 input tensors; set the model's `input`"),
            "{err}"
        );
        let x = model(Some("x"), None);
        let b = features(Protocol::KserveV2, &x, &j(two), Some(&schema), None).unwrap();
        assert_eq!((b.rows, b.cols), (1, 4));
        let twice = two.replace(r#""name":"y""#, r#""name":"x""#);
        let err = features(Protocol::KserveV2, &x, &j(&twice), Some(&schema), None).unwrap_err();
        assert!(
            err.contains("inputs[1]: the tensor name 'x' is given twice"),
            "{err}"
        );
    }

    #[test]
    fn json_pointer_features_and_predictions() {
        let m = model(Some("/data/features"), Some("/predict"));
        let b = features(
            Protocol::Json,
            &m,
            &j(r#"{"data": {"features": [1, 2, 3]}}"#),
            None,
            None,
        )
        .unwrap();
        assert_eq!((b.rows, b.cols), (1, 3));
        let b = features(
            Protocol::Json,
            &m,
            &j(r#"{"data": {"features": [[1,2],[3,4]]}}"#),
            None,
            None,
        )
        .unwrap();
        assert_eq!((b.rows, b.cols), (2, 2));
        let body = request_body(Protocol::Json, &m, &[vec![1.0, 2.0]], None);
        assert_eq!(
            body,
            serde_json::json!({"data": {"features": [[1.0, 2.0]]}})
        );
        assert_eq!(
            predictions(
                Protocol::Json,
                &m,
                &j(r#"{"predictions": [3, [0.1, 0.7, 0.2]]}"#)
            ),
            Some(vec![3.0, 1.0])
        );
        assert_eq!(
            predictions(
                Protocol::KserveV2,
                &m,
                &j(r#"{"outputs":[{"name":"p","shape":[2,1],"datatype":"INT64","data":[4,7]}]}"#)
            ),
            Some(vec![4.0, 7.0])
        );
    }

    /// A long first row followed by many short ones, as a body within the JSON limits can
    /// be: the rows' lengths are checked, and nothing is set aside for rows not yet seen
    /// (100,000 × 100,000 values would be 80 GB).
    #[test]
    fn a_long_first_row_reserves_nothing_for_the_rows_after_it() {
        let mut rows = vec![Value::Array(Array::Numbers(vec![1.0; 100_000]))];
        rows.extend((0..100_000).map(|_| Value::Array(Array::Values(Vec::new()))));
        let err = Batch::from_rows(rows.iter().map(Cow::Borrowed), "/features").unwrap_err();
        assert_eq!(
            err,
            "/features[1] has 0 values where /features[0] has 100000"
        );
    }
}
