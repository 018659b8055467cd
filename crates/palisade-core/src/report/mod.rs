//! The result of a scan and the reporters that render it.
//!
//! [`Report`] is what every analyser fills in; [`json`], [`sarif`] and [`text`] render it.

pub mod json;
pub mod sarif;
pub mod text;

use crate::{Finding, RuleMeta, Severity};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;

/// An input that could not be analysed (or was deliberately skipped), with where and why.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct InputError {
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
    pub message: String,
}

impl InputError {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        InputError {
            path: path.into(),
            line: None,
            column: None,
            message: message.into(),
        }
    }

    pub fn at(mut self, line: usize, column: usize) -> Self {
        self.line = Some(line);
        self.column = Some(column);
        self
    }
}

/// Findings per severity, most severe first.
#[derive(Debug, Clone, Serialize, Default, PartialEq, Eq)]
pub struct BySeverity {
    pub critical: usize,
    pub high: usize,
    pub medium: usize,
    pub low: usize,
    pub info: usize,
}

impl BySeverity {
    pub fn get(&self, s: Severity) -> usize {
        match s {
            Severity::Critical => self.critical,
            Severity::High => self.high,
            Severity::Medium => self.medium,
            Severity::Low => self.low,
            Severity::Info => self.info,
        }
    }

    fn add(&mut self, s: Severity) {
        match s {
            Severity::Critical => self.critical += 1,
            Severity::High => self.high += 1,
            Severity::Medium => self.medium += 1,
            Severity::Low => self.low += 1,
            Severity::Info => self.info += 1,
        }
    }
}

/// Counts that close every report.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Summary {
    pub files: usize,
    pub resources: usize,
    pub by_severity: BySeverity,
    pub suppressed: usize,
    pub skipped: usize,
}

/// Everything one scan produced.
#[derive(Debug, Default)]
pub struct Report {
    pub findings: Vec<Finding>,
    /// Inputs that could not be analysed: these make the exit code 2.
    pub errors: Vec<InputError>,
    /// Inputs deliberately not analysed (Helm chart sources), each reported once with a hint.
    pub skipped: Vec<InputError>,
    pub files: usize,
    pub resources: usize,
    pub suppressed: usize,
    /// Source text by path, for the text reporter's source excerpts.
    pub sources: HashMap<String, Arc<str>>,
    /// The rules that ran (for SARIF's rule table).
    pub rules: Vec<&'static RuleMeta>,
}

impl Report {
    /// Order findings by path, line, column, rule (reports are deterministic) and keep one of
    /// identical findings. Identical findings arise when a scanned tree holds two copies of the
    /// same object (one InferenceService name in two files, resolved to one runtime line; one
    /// ClusterRoleBinding defined twice): the copies add nothing.
    pub fn sort(&mut self) {
        self.findings.sort_by(|a, b| {
            (&a.path, a.line, a.column, &a.rule, &a.message)
                .cmp(&(&b.path, b.line, b.column, &b.rule, &b.message))
        });
        self.findings.dedup_by(|a, b| {
            (
                &a.rule,
                &a.path,
                a.line,
                a.column,
                &a.message,
                &a.resource,
                &a.container,
            ) == (
                &b.rule,
                &b.path,
                b.line,
                b.column,
                &b.message,
                &b.resource,
                &b.container,
            )
        });
        self.errors
            .sort_by(|a, b| (&a.path, a.line).cmp(&(&b.path, b.line)));
        self.skipped.sort_by(|a, b| a.path.cmp(&b.path));
    }

    pub fn summary(&self) -> Summary {
        let mut by_severity = BySeverity::default();
        for f in &self.findings {
            by_severity.add(f.severity);
        }
        Summary {
            files: self.files,
            resources: self.resources,
            by_severity,
            suppressed: self.suppressed,
            skipped: self.skipped.len(),
        }
    }

    /// Whether any finding is at or above `threshold`.
    pub fn fails_at(&self, threshold: Severity) -> bool {
        self.findings.iter().any(|f| f.severity >= threshold)
    }

    /// Add another analyser's report to this one (findings, errors, counts, sources, rules).
    pub fn merge(&mut self, other: Report) {
        self.findings.extend(other.findings);
        self.errors.extend(other.errors);
        self.skipped.extend(other.skipped);
        self.files += other.files;
        self.resources += other.resources;
        self.suppressed += other.suppressed;
        self.sources.extend(other.sources);
        for r in other.rules {
            if !self.rules.iter().any(|x| x.code == r.code) {
                self.rules.push(r);
            }
        }
    }
}
