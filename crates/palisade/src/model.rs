//! Rendering for `palisade model scan`: the per-file verdict table (text) and the `models` list
//! that extends the JSON report.

use palisade_core::report::json;
use palisade_core::report::text::Paint;
use palisade_core::{Report, Severity};
use palisade_model::scan::Artifact;
use std::io::{self, Write};

/// One line per model file: its formats, verdict and what was analysed.
pub fn artifact_table(models: &[Artifact], report: &Report, color: bool) -> String {
    let mut out = String::new();
    if models.is_empty() {
        return out;
    }
    let p = Paint { on: color };
    out.push_str(&p.wrap("1", "Models:"));
    out.push('\n');
    for m in models {
        let verdict = match m.worst {
            None => p.wrap("32", "clean"),
            Some(s) if s <= Severity::Info => p.wrap("32", "clean (notes only)"),
            Some(s) => p.wrap(
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
    let mut extra = serde_json::Map::new();
    extra.insert(
        "models".into(),
        serde_json::to_value(models).map_err(io::Error::other)?,
    );
    json::write_with(report, extra, w)
}
