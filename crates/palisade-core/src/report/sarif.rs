//! SARIF 2.1.0, as GitHub code scanning and other SARIF consumers read it.
//!
//! Severities map to `level` (critical/high → error, medium → warning, low/info → note) and each
//! rule carries a `security-severity` score so GitHub ranks alerts the same way Palisade does.

use super::Report;
use crate::{TOOL_NAME, TOOL_VERSION};
use serde_json::{Value, json};
use std::collections::HashMap;

const SCHEMA: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

pub fn to_value(report: &Report) -> Value {
    let mut rules = report.rules.clone();
    rules.sort_by_key(|r| r.code);
    let index: HashMap<&str, usize> = rules.iter().enumerate().map(|(i, r)| (r.code, i)).collect();
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
                    "problem.severity": r.severity.sarif_level(),
                    "tags": tags,
                }
            })
        })
        .collect();

    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
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
            if let Some(i) = index.get(f.rule.as_str()) {
                result["ruleIndex"] = json!(i);
            }
            if let Some(r) = &f.resource {
                result["locations"][0]["logicalLocations"] =
                    json!([{"fullyQualifiedName": r, "kind": "resource"}]);
            }
            result
        })
        .collect();

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

    json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": TOOL_NAME,
                "version": TOOL_VERSION,
                "semanticVersion": TOOL_VERSION,
                "informationUri": "https://github.com/palisade-security/palisade",
                "rules": rule_objs,
            }},
            "results": results,
            "invocations": [{
                "executionSuccessful": report.errors.is_empty(),
                "toolExecutionNotifications": notifications,
            }],
            "columnKind": "unicodeCodePoints",
        }]
    })
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

pub fn render(report: &Report) -> String {
    let mut s = serde_json::to_string_pretty(&to_value(report)).expect("sarif serialises");
    s.push('\n');
    s
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
