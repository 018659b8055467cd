//! The JSON report: DESIGN.md's output contract. Extend, never break.
//!
//! Written straight to the output (no intermediate JSON tree), so memory stays flat however many
//! findings there are.

use super::{InputError, Report, Summary};
use crate::{Finding, TOOL_NAME, TOOL_VERSION};
use serde::Serialize;
use std::io::{self, Write};

#[derive(Serialize)]
struct Tool {
    name: &'static str,
    version: &'static str,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    tool: Tool,
    findings: &'a [Finding],
    errors: &'a [InputError],
    skipped: &'a [InputError],
    summary: Summary,
    /// Fields a command adds after the contract's (e.g. `models` from `palisade model scan`).
    #[serde(flatten)]
    extra: serde_json::Map<String, serde_json::Value>,
}

/// Write the report as one pretty-printed JSON object followed by a newline.
pub fn write(report: &Report, w: &mut dyn Write) -> io::Result<()> {
    write_with(report, serde_json::Map::new(), w)
}

/// [`write`] with extra top-level fields after the contract's own (extend, never break).
pub fn write_with(
    report: &Report,
    extra: serde_json::Map<String, serde_json::Value>,
    w: &mut dyn Write,
) -> io::Result<()> {
    let doc = JsonReport {
        tool: Tool {
            name: TOOL_NAME,
            version: TOOL_VERSION,
        },
        findings: &report.findings,
        errors: &report.errors,
        skipped: &report.skipped,
        summary: report.summary(),
        extra,
    };
    serde_json::to_writer_pretty(&mut *w, &doc).map_err(io::Error::other)?;
    w.write_all(b"\n")
}

/// The report as a string (tests, small reports).
pub fn render(report: &Report) -> String {
    let mut buf = Vec::new();
    write(report, &mut buf).expect("writing to memory");
    String::from_utf8(buf).expect("JSON is UTF-8")
}
