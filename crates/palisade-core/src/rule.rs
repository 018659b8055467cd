//! Rule metadata: what every rule says about itself.
//!
//! A rule's code never changes meaning once released. Its `doc` is the user documentation that
//! `palisade explain CODE` prints, written in fixed sections (What it does / Why is this bad? /
//! Example / Use instead / References).

use crate::Severity;
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct RuleMeta {
    /// Stable code, e.g. `K8S001`.
    pub code: &'static str,
    /// Stable kebab-case name, e.g. `privileged-container`.
    pub name: &'static str,
    /// Default severity of its findings.
    pub severity: Severity,
    /// The family it belongs to (`pod-security`, `hardening`, `secrets`, …).
    pub family: &'static str,
    /// One line saying what it finds.
    pub summary: &'static str,
    /// Benchmark controls, e.g. `pss-baseline:privileged` (findings may narrow these).
    pub controls: &'static [&'static str],
    /// MITRE ATLAS (`AML.T…`) and ATT&CK (`T…`) techniques.
    pub techniques: &'static [&'static str],
    /// How to fix it, in one line.
    pub fix: &'static str,
    /// Full documentation in Markdown.
    #[serde(skip)]
    pub doc: &'static str,
}

impl RuleMeta {
    /// A help URI-free Markdown text: summary, then the doc.
    pub fn help_markdown(&self) -> String {
        format!("**{}** ({})\n\n{}", self.name, self.code, self.doc.trim())
    }
}
