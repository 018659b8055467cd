//! The signed content: an in-toto v1 statement whose predicate
//! (`https://model_signing/signature/v1.0`) lists every file or shard with its digest and the
//! serialization that produced them, and whose one subject is the model's name with a SHA-256
//! over all the digests in order. This is the shape `model_signing` 1.x writes and reads.

use crate::error::{Error, Result};
use crate::serialize::{HashAlg, Method, Serialization, components};
use serde_json::{Value, json};
use sha2::Digest as _;
use std::collections::BTreeMap;

pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
pub const PREDICATE_TYPE: &str = "https://model_signing/signature/v1.0";
/// The pre-1.0 predicate `model_signing` still reads (subjects only, SHA-256, files).
pub const PREDICATE_TYPE_COMPAT: &str = "https://model_signing/Digests/v0.1";

/// One file (or shard) and its digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// The resource name as signed: `dir/file`, or `dir/file:start:end` for a shard.
    pub name: String,
    pub parts: Vec<String>,
    pub start: u64,
    pub end: u64,
    pub digest: Vec<u8>,
}

impl Item {
    /// The file's path without the shard range.
    pub fn file(&self) -> String {
        self.parts.join("/")
    }
}

#[derive(Debug, Clone)]
pub struct Manifest {
    pub model_name: String,
    pub serialization: Serialization,
    /// Sorted by path components, then shard range (the order digests are chained in).
    pub items: Vec<Item>,
}

/// Lower-case hex, as digests are written in the statement.
pub fn to_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// SHA-256 over digests in the order given: the statement's subject digest.
fn chain<'a>(digests: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut h = sha2::Sha256::new();
    for d in digests {
        h.update(d);
    }
    h.finalize().to_vec()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

impl Manifest {
    pub fn new(model_name: String, serialization: Serialization, mut items: Vec<Item>) -> Self {
        items.sort_by(|a, b| (&a.parts, a.start, a.end).cmp(&(&b.parts, b.start, b.end)));
        Manifest {
            model_name,
            serialization,
            items,
        }
    }

    /// SHA-256 over every digest in order: the statement's subject digest.
    pub fn root_digest(&self) -> Vec<u8> {
        chain(self.items.iter().map(|i| i.digest.as_slice()))
    }

    fn serialization_json(&self) -> Value {
        let s = &self.serialization;
        let mut m = serde_json::Map::new();
        m.insert(
            "method".into(),
            json!(match s.method {
                Method::Files => "files",
                Method::Shards(_) => "shards",
            }),
        );
        m.insert("hash_type".into(), json!(s.hash.name()));
        m.insert("allow_symlinks".into(), json!(s.allow_symlinks));
        m.insert("ignore_paths".into(), json!(s.ignore_paths));
        if let Method::Shards(n) = s.method {
            m.insert("shard_size".into(), json!(n));
        }
        Value::Object(m)
    }

    /// The in-toto statement, as the bytes that get signed.
    pub fn statement(&self) -> Vec<u8> {
        let algorithm = resource_algorithm(&self.serialization);
        let resources: Vec<Value> = self
            .items
            .iter()
            .map(|i| {
                json!({
                    "name": i.name,
                    "algorithm": algorithm,
                    "digest": to_hex(&i.digest),
                })
            })
            .collect();
        let st = json!({
            "_type": STATEMENT_TYPE,
            "subject": [{
                "name": self.model_name,
                "digest": {"sha256": to_hex(&self.root_digest())},
            }],
            "predicateType": PREDICATE_TYPE,
            "predicate": {
                "serialization": self.serialization_json(),
                "resources": resources,
            },
        });
        serde_json::to_vec_pretty(&st).unwrap_or_default()
    }

    /// The manifest a signed statement describes, after checking that its subject digest
    /// agrees with its resources.
    pub fn from_statement(payload: &[u8]) -> Result<Manifest> {
        let bad = |m: String| Error::Bundle(format!("signed statement: {m}"));
        let v: Value =
            serde_json::from_slice(payload).map_err(|e| bad(format!("not JSON ({e})")))?;
        let t = v["_type"].as_str().unwrap_or("");
        if t != STATEMENT_TYPE {
            return Err(bad(format!("_type is '{t}', expected {STATEMENT_TYPE}")));
        }
        let pt = v["predicateType"].as_str().unwrap_or("");
        if pt == PREDICATE_TYPE_COMPAT {
            return Self::from_compat(&v);
        }
        if pt != PREDICATE_TYPE {
            return Err(bad(format!(
                "predicateType is '{pt}', expected {PREDICATE_TYPE}"
            )));
        }
        let subjects = v["subject"].as_array().cloned().unwrap_or_default();
        if subjects.len() != 1 {
            return Err(bad(format!("{} subjects, expected one", subjects.len())));
        }
        let model_name = subjects[0]["name"].as_str().unwrap_or("").to_string();
        let root = subjects[0]["digest"]["sha256"].as_str().unwrap_or("");
        let ser = &v["predicate"]["serialization"];
        let serialization = parse_serialization(ser).map_err(bad)?;
        let mut items = Vec::new();
        let mut seen = BTreeMap::new();
        for r in v["predicate"]["resources"].as_array().into_iter().flatten() {
            let name = r["name"]
                .as_str()
                .ok_or_else(|| bad("a resource has no name".into()))?;
            let alg = r["algorithm"].as_str().unwrap_or("");
            let base = alg.split("-sharded-").next().unwrap_or(alg);
            if HashAlg::from_name(base) != Some(serialization.hash) {
                return Err(bad(format!(
                    "resource '{name}' uses algorithm '{alg}', the serialization says '{}'",
                    serialization.hash.name()
                )));
            }
            let digest = r["digest"]
                .as_str()
                .and_then(unhex)
                .ok_or_else(|| bad(format!("resource '{name}' has no hex digest")))?;
            let (parts, start, end) = match serialization.method {
                Method::Files => (file_parts(name), 0, 0),
                Method::Shards(_) => {
                    let mut it = name.rsplitn(3, ':');
                    let (e, s, p) = (it.next(), it.next(), it.next());
                    match (
                        p,
                        s.and_then(|s| s.parse().ok()),
                        e.and_then(|e| e.parse().ok()),
                    ) {
                        (Some(p), Some(s), Some(e)) if s < e => (file_parts(p), s, e),
                        _ => {
                            return Err(bad(format!("shard name '{name}' is not path:start:end")));
                        }
                    }
                }
            };
            if seen.insert(name.to_string(), ()).is_some() {
                return Err(bad(format!("resource '{name}' is listed twice")));
            }
            items.push(Item {
                name: name.to_string(),
                parts,
                start,
                end,
                digest,
            });
        }
        // the subject digest chains the resources in the order they are listed
        let got = to_hex(&chain(items.iter().map(|i| i.digest.as_slice())));
        if got != root {
            return Err(bad(format!(
                "subject digest is {root}, but the listed resources hash to {got} (the manifest was altered)"
            )));
        }
        Ok(Manifest::new(model_name, serialization, items))
    }

    /// The v0.1 predicate: one subject per file, SHA-256, files method.
    fn from_compat(v: &Value) -> Result<Manifest> {
        let mut items = Vec::new();
        for s in v["subject"].as_array().into_iter().flatten() {
            let name = s["name"].as_str().unwrap_or("").to_string();
            let digest = s["digest"]["sha256"]
                .as_str()
                .and_then(unhex)
                .ok_or_else(|| Error::Bundle(format!("subject '{name}' has no sha256 digest")))?;
            items.push(Item {
                parts: file_parts(&name),
                name,
                start: 0,
                end: 0,
                digest,
            });
        }
        let ser = Serialization {
            ignore_paths: Vec::new(),
            ..Serialization::default()
        };
        Ok(Manifest::new(
            "compat-undefined-not-present".into(),
            ser,
            items,
        ))
    }
}

/// The `algorithm` of each resource: the hash, and for shards `model_signing`'s
/// `sha256-sharded-<size>`.
fn resource_algorithm(s: &Serialization) -> String {
    match s.method {
        Method::Files => s.hash.name().to_string(),
        Method::Shards(n) => format!("{}-sharded-{n}", s.hash.name()),
    }
}

/// A file resource's components; a single-file model is named `.`.
fn file_parts(name: &str) -> Vec<String> {
    let p = components(name);
    if p.is_empty() { vec![".".into()] } else { p }
}

fn parse_serialization(s: &Value) -> std::result::Result<Serialization, String> {
    let hash_type = s["hash_type"].as_str().unwrap_or("");
    let hash = HashAlg::from_name(hash_type)
        .ok_or_else(|| format!("hash_type '{hash_type}' is not sha256, blake2b or blake3"))?;
    let allow_symlinks = match &s["allow_symlinks"] {
        Value::Bool(b) => *b,
        // model_signing's compat layer spells it as a string
        Value::String(t) => t == "true",
        _ => false,
    };
    let method = match s["method"].as_str().unwrap_or("") {
        "files" => Method::Files,
        "shards" => {
            // protobuf's Struct makes every number a double: 1000000000.0
            let n = s["shard_size"]
                .as_u64()
                .or_else(|| {
                    s["shard_size"]
                        .as_f64()
                        .filter(|f| f.fract() == 0.0 && *f >= 1.0 && *f < 1e18)
                        .map(|f| f as u64)
                })
                .filter(|&n| n > 0)
                .ok_or("shards serialization without a positive whole shard_size")?;
            Method::Shards(n)
        }
        other => {
            return Err(format!(
                "serialization method '{other}' is not files or shards"
            ));
        }
    };
    let ignore_paths = s["ignore_paths"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p.as_str().map(str::to_string))
        .collect();
    Ok(Serialization {
        method,
        hash,
        allow_symlinks,
        ignore_paths,
    })
}
