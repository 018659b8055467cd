//! `palisade scan` for Dockerfiles: read, parse, run every rule, fill a [`Report`].

use crate::load::{Dockerfiles, is_dockerfile_name};
use crate::rules::{self, Sink};
use palisade_core::Report;
use palisade_core::suppress::InlineIndex;
use palisade_core::walk::Input;

/// Read the Dockerfiles among `inputs` (by file name; other inputs are left to other analysers).
pub fn load(inputs: &[Input], max_file_size: u64) -> Dockerfiles {
    let mut d = Dockerfiles::default();
    for input in inputs {
        if let Input::File { path, display, .. } = input
            && is_dockerfile_name(path)
        {
            d.read(path, display, max_file_size);
        }
    }
    d
}

/// Run every Dockerfile rule. Stages count as the report's resources.
pub fn scan_dockerfiles(d: Dockerfiles) -> Report {
    let rules = rules::all();
    let mut report = Report {
        files: d.files.len(),
        errors: d.errors,
        skipped: d.skipped,
        rules: rules.iter().map(|r| &r.meta).collect(),
        ..Report::default()
    };
    for file in d.files {
        let index = InlineIndex::new(&file.text);
        for rule in &rules {
            let mut sink = Sink::new(&file.path, &index, &file.build, &rule.meta);
            (rule.check)(&file.build, &mut sink);
            report.findings.append(&mut sink.findings);
            report.suppressed += sink.suppressed;
        }
        report.resources += file.build.stages.len();
        report.sources.insert(file.path, file.text);
    }
    report
}

/// Scan one Dockerfile's text (tests, stdin).
pub fn scan_text(path: &str, text: &str) -> Report {
    let mut d = Dockerfiles::default();
    d.add_text(path.to_string(), text.to_string());
    let mut r = scan_dockerfiles(d);
    r.sort();
    r
}

#[cfg(test)]
mod tests {
    use super::scan_text;

    /// Every prefix of every rule fixture (a truncated upload, an editor mid-save) scans
    /// without a panic: unterminated quotes, heredocs, continuations and JSON arrays included.
    #[test]
    fn truncated_dockerfiles_never_panic() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "Dockerfile") {
                let text = std::fs::read_to_string(&path).unwrap();
                for (i, _) in text.char_indices() {
                    let _ = scan_text("Dockerfile", &text[..i]);
                }
            }
        }
        for hostile in [
            "FROM a\nRUN <<EOF <<EOF <<EOF\n",
            "FROM a\nRUN echo \"$(((((((\n",
            "FROM ${A:-${B:-${C}}}\n",
            "# escape=x\nFROM a\\\n",
            "FROM a\nCMD [\"unterminated\n",
            "\u{feff}FROM a\r\nUSER 0\r\n",
        ] {
            let _ = scan_text("Dockerfile", hostile);
        }
    }
}
