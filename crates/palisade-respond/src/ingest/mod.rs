//! From received bytes to [`Signal`]s.
//!
//! Each source has its module: [`falco`] (Falco's JSON output and Falcosidekick's webhook),
//! [`audit`] (Kubernetes audit `Event`s and the webhook backend's `EventList` batches), [`guard`]
//! (`palisade guard` events) and [`generic`]. A body or file is one JSON value (an object, an
//! array of objects, an `EventList`) or JSON lines; [`parse`] reads either, and every object that
//! cannot be read becomes an [`IngestError`] naming where it was and what is wrong, while the rest
//! are kept.

pub mod audit;
pub mod falco;
pub mod generic;
pub mod guard;

use crate::signal::Signal;
use serde_json::Value;

/// The most events read from one body or file (each beyond is one error, and reading stops).
pub const MAX_EVENTS_PER_BODY: usize = 100_000;

/// What the sender says the body is; `Auto` recognises each object by its fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Auto,
    Falco,
    K8sAudit,
    Guard,
    Generic,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Auto => "auto",
            Format::Falco => "falco",
            Format::K8sAudit => "k8s-audit",
            Format::Guard => "guard",
            Format::Generic => "generic",
        }
    }

    pub fn parse(s: &str) -> Option<Format> {
        [
            Format::Auto,
            Format::Falco,
            Format::K8sAudit,
            Format::Guard,
            Format::Generic,
        ]
        .into_iter()
        .find(|f| f.name() == s)
    }
}

/// One object that could not be read, and where it was (`line 3`, `[2].items[0]`; empty when
/// the whole input was the one object).
#[derive(Debug, Clone, PartialEq)]
pub struct IngestError {
    pub at: String,
    pub message: String,
}

impl std::fmt::Display for IngestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.at.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.at, self.message)
        }
    }
}

/// What one body or file held.
#[derive(Debug, Default)]
pub struct Parsed {
    pub signals: Vec<Signal>,
    pub errors: Vec<IngestError>,
    /// Reading stopped at [`MAX_EVENTS_PER_BODY`].
    pub truncated: bool,
}

/// Reads a body: one JSON value, or JSON lines when the whole is not one value.
pub fn parse(text: &str, format: Format) -> Parsed {
    let mut out = Parsed::default();
    let trimmed = text.trim();
    if trimmed.is_empty() {
        out.errors.push(IngestError {
            at: String::new(),
            message: "empty: expected a JSON object, an array of them, or JSON lines".into(),
        });
        return out;
    }
    match serde_json::from_str::<Value>(trimmed) {
        Ok(v) => value(v, format, "", &mut out),
        Err(whole) => {
            let lines: Vec<(usize, &str)> = text
                .lines()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty())
                .collect();
            // JSON lines only when the first line is a value by itself; otherwise it is one
            // (pretty-printed) document with an error, reported once where it is.
            let first_alone = lines
                .first()
                .is_some_and(|(_, l)| serde_json::from_str::<serde::de::IgnoredAny>(l).is_ok());
            if lines.len() <= 1 || !first_alone {
                out.errors.push(IngestError {
                    at: format!("line {}, column {}", whole.line(), whole.column()),
                    message: format!("not JSON: {whole}"),
                });
                return out;
            }
            for (i, line) in lines {
                if out.truncated {
                    break;
                }
                match serde_json::from_str::<Value>(line) {
                    Ok(v) => value(v, format, &format!("line {}", i + 1), &mut out),
                    Err(e) => out.errors.push(IngestError {
                        at: format!("line {}, column {}", i + 1, e.column()),
                        message: format!("not JSON: {e}"),
                    }),
                }
            }
        }
    }
    out
}

fn value(v: Value, format: Format, at: &str, out: &mut Parsed) {
    match v {
        Value::Array(items) => {
            for (i, item) in items.into_iter().enumerate() {
                object(item, format, &format!("{at}[{i}]"), out);
            }
        }
        other => object(other, format, at, out),
    }
}

fn object(v: Value, format: Format, at: &str, out: &mut Parsed) {
    let err = |message: String| IngestError {
        at: at.to_string(),
        message,
    };
    if out.signals.len() + out.errors.len() >= MAX_EVENTS_PER_BODY {
        if !out.truncated {
            out.truncated = true;
            out.errors.push(err(format!(
                "more than {MAX_EVENTS_PER_BODY} events; this one and the rest were not read"
            )));
        }
        return;
    }
    if !v.is_object() {
        out.errors.push(err(format!(
            "expected a JSON object, found {}",
            kind_of(&v)
        )));
        return;
    }
    if audit::is_event_list(&v) && matches!(format, Format::Auto | Format::K8sAudit) {
        let Value::Object(mut o) = v else { return };
        let Some(Value::Array(items)) = o.remove("items") else {
            out.errors
                .push(err("an EventList needs an 'items' array".into()));
            return;
        };
        for (i, item) in items.into_iter().enumerate() {
            object(
                item,
                Format::K8sAudit,
                &if at.is_empty() {
                    format!("items[{i}]")
                } else {
                    format!("{at}.items[{i}]")
                },
                out,
            );
        }
        return;
    }
    let format = match format {
        Format::Auto => match recognise(&v) {
            Some(f) => f,
            None => {
                out.errors.push(err(
                    "not a recognised event: expected a Falco alert (rule, priority, output), a \
                     Kubernetes audit Event (auditID, verb, objectRef), a palisade guard event or a \
                     generic event (source, rule)"
                        .into(),
                ));
                return;
            }
        },
        f => f,
    };
    let result = match format {
        Format::Falco => falco::read(v),
        Format::K8sAudit => audit::read(v),
        Format::Guard => guard::read(v),
        _ => generic::read(v),
    };
    match result {
        Ok(s) => out.signals.push(s),
        Err(e) => out.errors.push(err(e)),
    }
}

/// Which source an object looks like it came from.
pub fn recognise(v: &Value) -> Option<Format> {
    let has = |k: &str| v.get(k).is_some();
    if has("auditID")
        || v.get("apiVersion")
            .and_then(Value::as_str)
            .is_some_and(|a| a.starts_with("audit.k8s.io/"))
    {
        Some(Format::K8sAudit)
    } else if has("priority") && has("rule") && (has("output") || has("output_fields")) {
        Some(Format::Falco)
    } else if has("action")
        && v.get("source")
            .and_then(Value::as_str)
            .is_some_and(|s| s.starts_with("palisade-"))
    {
        Some(Format::Guard)
    } else if has("rule") && has("source") {
        Some(Format::Generic)
    } else {
        None
    }
}

pub(crate) fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A required string field, or an error naming it.
pub(crate) fn required<'a>(v: &'a Value, key: &str, what: &str) -> Result<&'a str, String> {
    match v.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(Value::String(_)) => Err(format!("{what} field '{key}' is empty")),
        Some(other) => Err(format!(
            "{what} field '{key}' must be a string, found {}",
            kind_of(other)
        )),
        None => Err(format!("{what} field '{key}' is missing")),
    }
}

/// An optional string field: absent, null, empty and Falco's `<NA>` are all `None`.
pub(crate) fn optional(v: &Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty() && *s != "<NA>")
        .map(str::to_string)
}

/// A time field, or now when the source sent none; a present but unreadable time is an error.
pub(crate) fn time_field(
    v: &Value,
    keys: &[&str],
    what: &str,
) -> Result<palisade_core::time::Timestamp, String> {
    for k in keys {
        match v.get(*k) {
            Some(Value::String(s)) => {
                return palisade_core::time::Timestamp::parse(s)
                    .map_err(|e| format!("{what} field '{k}': {e}"));
            }
            Some(Value::Null) | None => continue,
            Some(other) => {
                return Err(format!(
                    "{what} field '{k}' must be a string, found {}",
                    kind_of(other)
                ));
            }
        }
    }
    Ok(palisade_core::time::Timestamp::now())
}

/// Technique IDs among free-form tags: ATT&CK `T1611`, `T1611.001`, ATLAS `AML.T0010.001`.
pub(crate) fn technique_ids<'a>(tags: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = tags
        .filter(|t| is_technique(t))
        .map(str::to_string)
        .collect();
    out.sort();
    out.dedup();
    out
}

pub(crate) fn is_technique(t: &str) -> bool {
    let t = t.strip_prefix("AML.").unwrap_or(t);
    let Some(rest) = t.strip_prefix('T') else {
        return false;
    };
    let mut parts = rest.split('.');
    let main = parts.next().unwrap_or("");
    let sub_ok = parts.all(|p| p.len() == 3 && p.bytes().all(|b| b.is_ascii_digit()));
    main.len() == 4 && main.bytes().all(|b| b.is_ascii_digit()) && sub_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_document_is_one_error_and_json_lines_are_read_line_by_line() {
        let pretty = "{\n  \"rule\": \"x\",\n  \"source\": \"y\"\n  \"oops\": 1\n}\n";
        let p = parse(pretty, Format::Auto);
        assert_eq!(p.errors.len(), 1, "{:?}", p.errors);
        assert!(p.errors[0].at.starts_with("line 4"), "{:?}", p.errors);
        let lines = "{\"source\": \"s\", \"rule\": \"a\"}\n{broken\n\n{\"source\": \"s\", \"rule\": \"b\"}\n";
        let p = parse(lines, Format::Generic);
        assert_eq!(p.signals.len(), 2);
        assert_eq!(p.errors[0].at, "line 2, column 2");
    }

    #[test]
    fn reading_stops_at_the_event_limit_with_one_error() {
        let one = "{\"source\": \"s\", \"rule\": \"a\"}\n";
        let p = parse(&one.repeat(MAX_EVENTS_PER_BODY + 5), Format::Generic);
        assert_eq!(p.signals.len(), MAX_EVENTS_PER_BODY);
        assert_eq!(p.errors.len(), 1);
        assert!(p.truncated && p.errors[0].at == format!("line {}", MAX_EVENTS_PER_BODY + 1));
    }
}
