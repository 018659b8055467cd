//! Silencing findings the user has accepted, everywhere the peers' users ask for it:
//!
//! * inline comments — `# palisade:ignore K8S001,K8S016 -- reason` at the end of the offending line,
//!   in the comment block directly above it, or in the comment block directly above the resource
//!   (then it covers the whole resource). Without codes it covers every rule.
//! * resource annotations — parsed by the analysers with [`parse_rule_list`].
//! * `palisade.toml` `[[ignore]]` entries — see [`crate::config`].
//! * a baseline — an earlier JSON report; findings already in it are not reported again.

use crate::Finding;
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// The marker that starts an inline suppression inside a `#` comment.
pub const INLINE_MARKER: &str = "palisade:ignore";

/// One inline directive: which rules (None = all) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    pub rules: Option<Vec<String>>,
    pub reason: Option<String>,
}

impl Directive {
    pub fn covers(&self, rule: &str, name: &str) -> bool {
        match &self.rules {
            None => true,
            Some(list) => list
                .iter()
                .any(|r| r.eq_ignore_ascii_case(rule) || r == name || r == "*" || r == "all"),
        }
    }
}

/// Parse `K8S001, K8S002 -- reason` (the text after the marker or an annotation value).
pub fn parse_rule_list(text: &str) -> Directive {
    let (codes, reason) = match text.split_once("--") {
        Some((c, r)) => (c, Some(r.trim().to_string()).filter(|r| !r.is_empty())),
        None => (text, None),
    };
    let rules: Vec<String> = codes
        .split(|c: char| c == ',' || c.is_whitespace())
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    Directive {
        rules: if rules.is_empty() { None } else { Some(rules) },
        reason,
    }
}

/// The inline directives of one file, by 1-based line, and the file's lines to tell comment
/// blocks apart from content.
pub struct InlineIndex<'a> {
    lines: Vec<&'a str>,
    directives: HashMap<usize, Directive>,
}

impl<'a> InlineIndex<'a> {
    pub fn new(text: &'a str) -> Self {
        if !text.contains(INLINE_MARKER) {
            // Most files have no directive: don't index their lines.
            return InlineIndex {
                lines: Vec::new(),
                directives: HashMap::new(),
            };
        }
        let lines: Vec<&str> = text.lines().collect();
        let mut directives = HashMap::new();
        for (i, line) in lines.iter().enumerate() {
            if let Some(pos) = line.find(INLINE_MARKER) {
                let before = &line[..pos];
                if let Some(hash) = before.rfind('#')
                    && before[hash + 1..].trim().is_empty()
                {
                    let rest = &line[pos + INLINE_MARKER.len()..];
                    directives.insert(i + 1, parse_rule_list(rest));
                }
            }
        }
        InlineIndex { lines, directives }
    }

    pub fn is_empty(&self) -> bool {
        self.directives.is_empty()
    }

    fn line(&self, n: usize) -> Option<&str> {
        self.lines.get(n.checked_sub(1)?).map(|l| l.trim())
    }

    /// Directives in the comment block that ends right above `line`; when `skip_blank` also
    /// looks past blank lines and document separators (for the block above a resource).
    fn block_above(&self, line: usize, skip_blank: bool) -> impl Iterator<Item = &Directive> {
        let mut found = Vec::new();
        let mut n = line.saturating_sub(1);
        while n >= 1 {
            let Some(text) = self.line(n) else { break };
            if text.starts_with('#') {
                if let Some(d) = self.directives.get(&n) {
                    found.push(d);
                }
            } else if !(skip_blank && (text.is_empty() || text == "---")) {
                break;
            }
            n -= 1;
        }
        found.into_iter()
    }

    /// Whether a finding of `rule`/`name` at `line`, inside a resource starting at
    /// `resource_line`, is silenced; returns the directive that silences it.
    pub fn suppresses(
        &self,
        rule: &str,
        name: &str,
        line: usize,
        resource_line: Option<usize>,
    ) -> bool {
        if self.directives.is_empty() {
            return false;
        }
        if self
            .directives
            .get(&line)
            .is_some_and(|d| d.covers(rule, name))
        {
            return true;
        }
        if self.block_above(line, false).any(|d| d.covers(rule, name)) {
            return true;
        }
        match resource_line {
            Some(r) => self.block_above(r, true).any(|d| d.covers(rule, name)),
            None => false,
        }
    }
}

/// Findings from an earlier JSON report, by fingerprint.
#[derive(Debug, Default)]
pub struct Baseline {
    known: HashSet<String>,
}

impl Baseline {
    /// Read an earlier `--format json` report.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read baseline {}: {e}", path.display()))?;
        let value: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| format!("baseline {} is not JSON: {e}", path.display()))?;
        let findings = value
            .get("findings")
            .and_then(|f| f.as_array())
            .ok_or_else(|| {
                format!(
                    "baseline {} has no \"findings\" array (expected a palisade --format json report)",
                    path.display()
                )
            })?;
        let mut known = HashSet::new();
        for (i, f) in findings.iter().enumerate() {
            let f: Finding = serde_json::from_value(f.clone()).map_err(|e| {
                format!(
                    "baseline {}: finding #{i} is malformed: {e}",
                    path.display()
                )
            })?;
            known.insert(f.fingerprint());
        }
        Ok(Baseline { known })
    }

    pub fn contains(&self, f: &Finding) -> bool {
        self.known.contains(&f.fingerprint())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_codes_and_reason() {
        let d = parse_rule_list(" K8S001,K8S002 -- accepted: GPU driver needs it");
        assert_eq!(
            d.rules,
            Some(vec!["K8S001".to_string(), "K8S002".to_string()])
        );
        assert_eq!(d.reason.as_deref(), Some("accepted: GPU driver needs it"));
        assert_eq!(parse_rule_list("").rules, None);
    }

    #[test]
    fn inline_on_line_above_and_above_resource() {
        let text = "# palisade:ignore K8S028 -- legacy namespace\n---\napiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: a\n    # palisade:ignore K8S001\n    securityContext: {privileged: true} # palisade:ignore K8S020\n";
        let idx = InlineIndex::new(text);
        assert!(idx.suppresses("K8S001", "privileged-container", 9, Some(3)));
        assert!(idx.suppresses("K8S020", "x", 9, Some(3)));
        assert!(idx.suppresses("K8S028", "x", 4, Some(3)));
        assert!(!idx.suppresses("K8S016", "x", 9, Some(3)));
        assert!(!idx.suppresses("K8S001", "x", 6, None));
    }

    #[test]
    fn marker_inside_a_string_is_not_a_directive() {
        let idx = InlineIndex::new("value: \"palisade:ignore K8S001\"\n");
        assert!(idx.is_empty());
    }
}
