//! Field paths: where a condition looks in a signal's JSON.
//!
//! `objectRef.subresource`, `requestObject.spec.containers[*].image`, `items[0]`. Keys that
//! themselves contain dots, as Falco's `output_fields` do (`"k8s.ns.name"`), are found by trying
//! the longest run of segments as one key first, so `output_fields.k8s.ns.name` just works.
//! JSON `null` and Falco's `<NA>` placeholder count as absent.

use serde_json::Value;
use std::borrow::Cow;

#[derive(Debug, Clone, PartialEq)]
pub enum Seg {
    Key(String),
    Any,
    Index(usize),
}

pub type Path = Vec<Seg>;

pub fn parse_path(text: &str) -> Result<Path, String> {
    let mut out = Vec::new();
    for part in text.split('.') {
        let (name, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if name.is_empty() && (out.is_empty() || rest.is_empty()) {
            return Err(format!("'{text}' has an empty segment"));
        }
        if !name.is_empty() {
            out.push(Seg::Key(name.to_string()));
        }
        while !rest.is_empty() {
            let close = rest
                .find(']')
                .ok_or_else(|| format!("'{text}' has a '[' without ']'"))?;
            let inner = &rest[1..close];
            out.push(match inner {
                "*" => Seg::Any,
                n => Seg::Index(
                    n.parse()
                        .map_err(|_| format!("'{text}': [{n}] is neither [*] nor an index"))?,
                ),
            });
            rest = &rest[close + 1..];
            if !rest.is_empty() && !rest.starts_with('[') {
                return Err(format!("'{text}': unexpected '{rest}' after ']'"));
            }
        }
    }
    Ok(out)
}

/// What conditions read: the event as received, and the fields Palisade adds (`signal.*`,
/// `subject.*`) kept beside it, so the received object is never copied to add them.
#[derive(Clone, Copy)]
pub struct Doc<'a> {
    pub raw: &'a Value,
    /// An object whose top-level keys take precedence over the same keys in `raw`.
    pub added: &'a Value,
}

impl<'a> Doc<'a> {
    /// A document with nothing added.
    pub fn plain(raw: &'a Value) -> Doc<'a> {
        Doc {
            raw,
            added: &Value::Null,
        }
    }

    /// Every value the path reaches; arrays at the end are spread into their elements.
    pub fn resolve(&self, path: &[Seg]) -> Vec<&'a Value> {
        let root = match path.first() {
            Some(Seg::Key(k)) if self.added.get(k).is_some() => self.added,
            _ => self.raw,
        };
        let mut out = Vec::new();
        walk(root, path, &mut out);
        out
    }
}

fn walk<'a>(v: &'a Value, path: &[Seg], out: &mut Vec<&'a Value>) {
    let Some(first) = path.first() else {
        match v {
            Value::Array(items) => out.extend(items.iter().filter(|x| present(x))),
            _ if present(v) => out.push(v),
            _ => {}
        }
        return;
    };
    match (first, v) {
        (Seg::Any, Value::Array(items)) => items.iter().for_each(|x| walk(x, &path[1..], out)),
        (Seg::Index(i), Value::Array(items)) => {
            if let Some(x) = items.get(*i) {
                walk(x, &path[1..], out)
            }
        }
        (Seg::Key(_), Value::Object(map)) => {
            // The longest run of key segments that names one key wins.
            let keys = path.iter().take_while(|s| matches!(s, Seg::Key(_))).count();
            for n in (1..=keys).rev() {
                let key = if n == 1 {
                    Cow::Borrowed(key_of(&path[0]))
                } else {
                    Cow::Owned(path[..n].iter().map(key_of).collect::<Vec<_>>().join("."))
                };
                if let Some(x) = map.get(key.as_ref()) {
                    walk(x, &path[n..], out);
                    return;
                }
            }
        }
        _ => {}
    }
}

fn key_of(s: &Seg) -> &str {
    match s {
        Seg::Key(k) => k,
        _ => "",
    }
}

fn present(v: &Value) -> bool {
    !matches!(v, Value::Null) && v.as_str() != Some("<NA>")
}

/// A scalar's text (`true`, `12`, the string itself); `None` for objects and arrays.
pub fn text(v: &Value) -> Option<Cow<'_, str>> {
    match v {
        Value::String(s) => Some(Cow::Borrowed(s)),
        Value::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_reach_nested_values_and_indices() {
        let doc = json!({"a": {"b": [{"c": 1}, {"c": 2}, {"d": 3}]}, "x.y": {"z": "w"}});
        let get = |p: &str| Doc::plain(&doc).resolve(&parse_path(p).unwrap());
        assert_eq!(get("a.b[*].c"), vec![&json!(1), &json!(2)]);
        assert_eq!(get("a.b[2].d"), vec![&json!(3)]);
        assert_eq!(
            get("x.y.z"),
            vec![&json!("w")],
            "a dotted key wins over nesting"
        );
        let added = json!({"a": {"b": "mine"}});
        let d = Doc {
            raw: &doc,
            added: &added,
        };
        assert_eq!(d.resolve(&parse_path("a.b").unwrap()), vec![&json!("mine")]);
        assert_eq!(d.resolve(&parse_path("x.y.z").unwrap()), vec![&json!("w")]);
        assert!(parse_path("a[x]").is_err());
        assert!(parse_path("a[*]b").is_err());
    }
}
