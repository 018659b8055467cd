//! The JSON report: DESIGN.md's output contract. Extend, never break.

use super::Report;
use crate::{TOOL_NAME, TOOL_VERSION};
use serde_json::{Value, json};

/// The report as one JSON object.
pub fn to_value(report: &Report) -> Value {
    json!({
        "tool": {"name": TOOL_NAME, "version": TOOL_VERSION},
        "findings": report.findings,
        "errors": report.errors,
        "skipped": report.skipped,
        "summary": report.summary(),
    })
}

pub fn render(report: &Report) -> String {
    let mut s = serde_json::to_string_pretty(&to_value(report)).expect("report serialises");
    s.push('\n');
    s
}
