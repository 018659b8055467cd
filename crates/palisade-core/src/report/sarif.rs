//! SARIF 2.1.0, as GitHub code scanning and other SARIF consumers read it.
//!
//! Severities map to `level` (critical/high → error, medium → warning, low/info → note) and each
//! rule carries a `security-severity` score so GitHub ranks alerts the same way Palisade does.

use super::Report;
use crate::{Finding, TOOL_NAME, TOOL_VERSION};
use serde::{Serialize, Serializer};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::io::{self, Write};

const SCHEMA: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/// The results array, serialised one finding at a time.
struct Results<'a> {
    findings: &'a [Finding],
    index: &'a HashMap<&'static str, usize>,
}

impl Serialize for Results<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.findings.iter().map(|f| result(f, self.index)))
    }
}

fn result(f: &Finding, index: &HashMap<&'static str, usize>) -> Value {
    let mut result = json!({
        "ruleId": f.rule,
        "level": f.severity.sarif_level(),
        "message": {"text": f.message},
        "locations": [{
            "physicalLocation": {
                "artifactLocation": {"uri": uri(&f.path)},
                "region": {"startLine": f.line.max(1), "startColumn": f.column.max(1)}
            }
        }],
        "partialFingerprints": {"palisade/v1": fingerprint_hash(&f.fingerprint())},
        "properties": {
            "severity": f.severity.as_str(),
            "security-severity": f.severity.security_severity(),
            "controls": f.controls,
            "techniques": f.techniques,
            "fix": f.fix,
        }
    });
    if let Some(o) = f.offset {
        // a byte offset in a binary artifact (archive members are `outer!inner` in the URI)
        result["locations"][0]["physicalLocation"]["region"] = json!({"byteOffset": o});
    }
    if let Some(i) = index.get(&*f.rule) {
        result["ruleIndex"] = json!(i);
    }
    if let Some(r) = &f.resource {
        result["locations"][0]["logicalLocations"] =
            json!([{"fullyQualifiedName": r, "kind": "resource"}]);
    }
    result
}

/// Write the SARIF log, streaming the results.
pub fn write(report: &Report, w: &mut dyn Write) -> io::Result<()> {
    let mut rules = report.rules.clone();
    rules.sort_by_key(|r| r.code);
    let index: HashMap<&'static str, usize> =
        rules.iter().enumerate().map(|(i, r)| (r.code, i)).collect();
    let log = log(report, &rules, &index);
    serde_json::to_writer_pretty(&mut *w, &log).map_err(io::Error::other)?;
    w.write_all(b"\n")
}

/// The log, with `results` serialised lazily.
fn log<'a>(
    report: &'a Report,
    rules: &[&'static crate::RuleMeta],
    index: &'a HashMap<&'static str, usize>,
) -> LogValue<'a> {
    let rule_objs: Vec<Value> = rules
        .iter()
        .map(|r| {
            let mut tags = vec!["security".to_string(), r.family.to_string()];
            tags.extend(r.controls.iter().map(|c| c.to_string()));
            tags.extend(r.techniques.iter().map(|t| t.to_string()));
            json!({
                "id": r.code,
                "name": r.name,
                "shortDescription": {"text": r.summary},
                "fullDescription": {"text": r.summary},
                "help": {"text": r.doc.trim(), "markdown": r.help_markdown()},
                "defaultConfiguration": {"level": r.severity.sarif_level()},
                "properties": {
                    "security-severity": r.severity.security_severity(),
                    "problem.severity": r.severity.problem_severity(),
                    "tags": tags,
                }
            })
        })
        .collect();

    let results = Results {
        findings: &report.findings,
        index,
    };

    let notifications: Vec<Value> = report
        .errors
        .iter()
        .map(|e| {
            let mut n = json!({
                "level": "error",
                "message": {"text": e.message},
                "locations": [{"physicalLocation": {"artifactLocation": {"uri": uri(&e.path)}}}]
            });
            if let Some(line) = e.line {
                n["locations"][0]["physicalLocation"]["region"] =
                    json!({"startLine": line.max(1), "startColumn": e.column.unwrap_or(1).max(1)});
            }
            n
        })
        .collect();

    LogValue {
        schema: SCHEMA,
        version: "2.1.0",
        runs: [Run {
            tool: json!({"driver": {
                "name": TOOL_NAME,
                "version": TOOL_VERSION,
                "semanticVersion": TOOL_VERSION,
                "rules": rule_objs,
            }}),
            results,
            invocations: json!([{
                "executionSuccessful": report.errors.is_empty(),
                "toolExecutionNotifications": notifications,
            }]),
            column_kind: "unicodeCodePoints",
        }],
    }
}

#[derive(Serialize)]
struct LogValue<'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: [Run<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Run<'a> {
    tool: Value,
    results: Results<'a>,
    invocations: Value,
    column_kind: &'static str,
}

/// A relative URI for a path: forward slashes, percent-encoding what a URI may not hold.
fn uri(path: &str) -> String {
    let path = path.replace('\\', "/");
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// FNV-1a, hex: a stable, dependency-free fingerprint (not a security boundary).
fn fingerprint_hash(s: &str) -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in s.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    format!("{h:016x}")
}

/// The SARIF log as a string (tests, small reports).
pub fn render(report: &Report) -> String {
    let mut buf = Vec::new();
    write(report, &mut buf).expect("writing to memory");
    String::from_utf8(buf).expect("SARIF is UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_are_escaped() {
        assert_eq!(uri("a b/c.yaml"), "a%20b/c.yaml");
        assert_eq!(
            uri("model.pt!archive/data.pkl"),
            "model.pt%21archive/data.pkl"
        );
    }
}
