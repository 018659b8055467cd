//! Rendering for `palisade model scan`: the per-file verdict table (text) and the `models` list
//! that extends the JSON report.

use palisade_core::Report;
use palisade_core::report::json;
use palisade_model::scan::Artifact;
use std::io::{self, Write};

/// One line per model file: its formats, verdict and what was analysed.
pub fn artifact_table(models: &[Artifact], report: &Report, color: bool) -> String {
    let mut out = String::new();
    if models.is_empty() {
        return out;
    }
    let paint = |code: &str, s: &str| {
        if color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    };
    out.push_str(&paint("1", "Models:"));
    out.push('\n');
    for m in models {
        let verdict = match m.worst {
            None => paint("32", "clean"),
            Some(s) if s <= palisade_core::Severity::Info => paint("32", "clean (notes only)"),
            Some(s) => paint(
                "1;31",
                &format!(
                    "{} finding{} (worst: {s})",
                    m.findings,
                    if m.findings == 1 { "" } else { "s" }
                ),
            ),
        };
        out.push_str(&format!("  {}  [{}]  {verdict}\n", m.path, m.format));
        out.push_str(&format!("      {}\n", m.summary));
    }
    if !report.findings.is_empty() || !report.errors.is_empty() || !report.skipped.is_empty() {
        out.push('\n');
    }
    out
}

/// The JSON report with a `models` list added (the output contract is extended, not changed).
pub fn write_json(report: &Report, models: &[Artifact], w: &mut dyn Write) -> io::Result<()> {
    let mut doc: serde_json::Value =
        serde_json::from_str(&json::render(report)).map_err(io::Error::other)?;
    doc["models"] = serde_json::to_value(models).map_err(io::Error::other)?;
    serde_json::to_writer_pretty(&mut *w, &doc).map_err(io::Error::other)?;
    w.write_all(b"\n")
}
