//! A static problem found in an input, and where it is.

use crate::{RuleMeta, Severity};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// Text that is usually a rule's static metadata, owned only when read back from a report.
pub type Text = Cow<'static, str>;

/// Where something is: a path as the user gave it (archive members as `outer!inner`), 1-based
/// line and column, and for binary inputs a byte offset.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Location {
    pub path: String,
    pub line: usize,
    pub column: usize,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub offset: Option<u64>,
}

impl Location {
    pub fn new(path: impl Into<String>, line: usize, column: usize) -> Self {
        Location {
            path: path.into(),
            line,
            column,
            offset: None,
        }
    }
}

/// One finding, serialised exactly as DESIGN.md's output contract says.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Finding {
    pub rule: Text,
    pub name: Text,
    pub severity: Severity,
    pub message: String,
    pub path: String,
    pub line: usize,
    pub column: usize,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub offset: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub resource: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub container: Option<String>,
    #[serde(default)]
    pub controls: Vec<Text>,
    #[serde(default)]
    pub techniques: Vec<Text>,
    #[serde(default)]
    pub fix: Text,
}

impl Finding {
    /// The one-line form rule snapshot tests compare:
    /// `line:column severity [resource] message`.
    pub fn snapshot_line(&self) -> String {
        format!(
            "{}:{} {} [{}] {}\n",
            self.line,
            self.column,
            self.severity,
            self.resource.as_deref().unwrap_or("-"),
            self.message
        )
    }

    /// A finding of `rule` at `loc`, with the rule's severity, controls, techniques and fix.
    pub fn new(rule: &RuleMeta, loc: Location, message: impl Into<String>) -> Self {
        Finding {
            rule: Cow::Borrowed(rule.code),
            name: Cow::Borrowed(rule.name),
            severity: rule.severity,
            message: message.into(),
            path: loc.path,
            line: loc.line,
            column: loc.column,
            offset: loc.offset,
            resource: None,
            container: None,
            controls: rule.controls.iter().map(|c| Cow::Borrowed(*c)).collect(),
            techniques: rule.techniques.iter().map(|t| Cow::Borrowed(*t)).collect(),
            fix: Cow::Borrowed(rule.fix),
        }
    }

    pub fn with_resource(mut self, resource: impl Into<String>) -> Self {
        self.resource = Some(resource.into());
        self
    }

    /// Identity of a finding that survives edits elsewhere in the file (no line numbers):
    /// used by `--baseline` and SARIF `partialFingerprints`.
    pub fn fingerprint(&self) -> String {
        format!(
            "{}|{}|{}|{}|{}",
            self.rule,
            self.path,
            self.resource.as_deref().unwrap_or(""),
            self.container.as_deref().unwrap_or(""),
            self.message
        )
    }
}
