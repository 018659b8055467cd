//! `palisade scan` for Kubernetes manifests: run every rule over loaded manifests and fill a
//! [`Report`] (the binary loads them with [`load::load`], beside the other analysers).

use crate::load::{self, Manifests};
use crate::rules;
use palisade_core::Report;

/// Scan already-loaded manifests with every Kubernetes rule.
pub fn scan_manifests(m: Manifests) -> Report {
    let rules = rules::all();
    let (findings, suppressed) = rules::run(&m, &rules);
    let mut report = Report {
        findings,
        suppressed,
        files: m.files.len(),
        resources: m.resources.len(),
        errors: m.errors,
        skipped: m.skipped,
        rules: rules.iter().map(|r| &r.meta).collect(),
        ..Report::default()
    };
    report.sources = m.files.into_iter().map(|f| (f.path, f.text)).collect();
    report
}

/// Scan one in-memory document set (tests, admission, stdin).
pub fn scan_text(path: &str, text: &str) -> Report {
    let mut m = Manifests::default();
    load::load_text(&mut m, path.to_string(), text.to_string());
    scan_manifests(m)
}
