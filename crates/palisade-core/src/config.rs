//! `palisade.toml`: project settings and accepted risks.
//!
//! ```toml
//! fail_on = "medium"            # default for --fail-on
//! exclude = ["vendor/**"]       # paths never scanned (globs)
//!
//! [[ignore]]
//! rules = ["K8S020"]            # codes or names; "*" for all
//! paths = ["deploy/legacy/**"]  # optional: only these files
//! resources = ["Deployment/ml/*"] # optional: only these resources
//! reason = "legacy image writes to /tmp; replaced in Q3"
//! expires = "2027-03-31"        # optional: after this date the entry stops applying
//!
//! [[reach.assert]]              # connectivity that must hold (see `palisade reach`)
//! name = "only the frontend reaches the model server"
//! to = "app=model-server"
//! only_from = ["app=frontend"]
//! ports = "TCP 8501"
//!
//! [model]                       # `palisade model scan` and model files in `palisade scan`
//! allow = ["mypackage.models.<Class>"]  # globals your pickles may use (see MDL002)
//!
//! [model.signing]               # whose model signatures `palisade scan` accepts (MDL020-022)
//! public_keys = ["keys/model-signer.pub.pem"]   # relative to this file
//! certificates = ["pki/root.pem"]               # trusted roots for certificate signatures
//! ```

use crate::{Finding, Severity};
use globset::{Glob, GlobMatcher, GlobSet, GlobSetBuilder};
use serde::Deserialize;
use std::path::Path;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    fail_on: Option<String>,
    #[serde(default)]
    exclude: Vec<String>,
    max_file_size: Option<u64>,
    #[serde(default)]
    ignore: Vec<RawIgnore>,
    #[serde(default)]
    reach: RawReach,
    #[serde(default)]
    model: RawModel,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawModel {
    #[serde(default)]
    allow: Vec<String>,
    #[serde(default)]
    signing: ModelSigning,
}

/// `[model.signing]`: the keys and certificates whose model signatures are trusted. Paths are
/// relative to the `palisade.toml` they appear in (made absolute by [`Config::load`]).
#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct ModelSigning {
    #[serde(default)]
    pub public_keys: Vec<std::path::PathBuf>,
    #[serde(default)]
    pub certificates: Vec<std::path::PathBuf>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawReach {
    #[serde(default, rename = "assert")]
    assertions: Vec<ReachAssertion>,
}

/// A connectivity assertion (`[[reach.assert]]`), checked by `palisade scan` through
/// `palisade-reach`, which reads the selectors. Between the sources (`from`, default: anything,
/// the outside included) and the destinations (`to`, default: anything), nothing may flow
/// unless a clause allows it: `only_from`/`only_to` name who may, `not_from`/`not_to` who may
/// not, `ports` what the allowed ones may use.
#[derive(Debug, Deserialize, Clone, Default, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ReachAssertion {
    pub name: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub only_from: Option<Vec<String>>,
    pub only_to: Option<Vec<String>>,
    #[serde(default)]
    pub not_from: Vec<String>,
    #[serde(default)]
    pub not_to: Vec<String>,
    pub ports: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIgnore {
    rules: Vec<String>,
    #[serde(default)]
    paths: Vec<String>,
    #[serde(default)]
    resources: Vec<String>,
    reason: String,
    expires: Option<toml::value::Datetime>,
}

/// One accepted risk from `palisade.toml`.
#[derive(Debug)]
pub struct IgnoreEntry {
    pub rules: Vec<String>,
    paths: Option<GlobSet>,
    resources: Vec<GlobMatcher>,
    pub reason: String,
    /// `YYYY-MM-DD`
    pub expires: Option<String>,
}

impl IgnoreEntry {
    pub fn matches(&self, f: &Finding) -> bool {
        let rule_ok = self
            .rules
            .iter()
            .any(|r| r == "*" || r.eq_ignore_ascii_case(&f.rule) || *r == f.name);
        if !rule_ok {
            return false;
        }
        if let Some(set) = &self.paths {
            let p = f.path.trim_start_matches("./");
            if !set.is_match(p) {
                return false;
            }
        }
        if !self.resources.is_empty() {
            let Some(res) = &f.resource else { return false };
            if !self.resources.iter().any(|g| g.is_match(res)) {
                return false;
            }
        }
        true
    }
}

/// The settings read from `palisade.toml` (all optional).
#[derive(Debug, Default)]
pub struct Config {
    pub fail_on: Option<Severity>,
    pub exclude: Option<GlobSet>,
    pub max_file_size: Option<u64>,
    /// Entries in force today.
    pub ignores: Vec<IgnoreEntry>,
    /// Problems worth telling the user (expired entries) that do not stop the scan.
    pub warnings: Vec<String>,
    /// `[[reach.assert]]` entries, in file order.
    pub reach_assertions: Vec<ReachAssertion>,
    /// `[model] allow`: dotted-path patterns added to the model-scan allowlist.
    pub model_allow: Vec<String>,
    /// `[model.signing]`: whose signatures on model files are trusted.
    pub model_signing: ModelSigning,
}

/// A glob that matches the pattern anywhere below the scanned roots, too: `deploy/**` matches
/// `deploy/a.yaml` and `repo/deploy/a.yaml`.
fn add_glob(b: &mut GlobSetBuilder, pattern: &str, origin: &str) -> Result<(), String> {
    let pattern = pattern.trim_start_matches("./");
    let mut add = |p: &str| -> Result<(), String> {
        b.add(Glob::new(p).map_err(|e| format!("{origin}: bad glob '{pattern}': {e}"))?);
        Ok(())
    };
    add(pattern)?;
    if !pattern.starts_with("**") && !pattern.starts_with('/') {
        add(&format!("**/{pattern}"))?;
    }
    Ok(())
}

fn glob_set(patterns: &[String], origin: &str) -> Result<Option<GlobSet>, String> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        add_glob(&mut b, p, origin)?;
    }
    b.build()
        .map(Some)
        .map_err(|e| format!("{origin}: bad globs: {e}"))
}

impl Config {
    /// Parse a `palisade.toml`; `today` is `YYYY-MM-DD` and decides which entries expired.
    pub fn parse(text: &str, origin: &str, today: &str) -> Result<Self, String> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| format!("{origin}: {e}"))?;
        let fail_on = raw
            .fail_on
            .as_deref()
            .map(|s| {
                s.parse::<Severity>()
                    .map_err(|e| format!("{origin}: fail_on: {e}"))
            })
            .transpose()?;
        let mut cfg = Config {
            fail_on,
            exclude: glob_set(&raw.exclude, origin)?,
            max_file_size: raw.max_file_size,
            ignores: Vec::new(),
            warnings: Vec::new(),
            reach_assertions: raw.reach.assertions,
            model_allow: raw.model.allow,
            model_signing: raw.model.signing,
        };
        for (i, ig) in raw.ignore.into_iter().enumerate() {
            let what = format!("{origin}: [[ignore]] #{} ({})", i + 1, ig.rules.join(","));
            if ig.rules.is_empty() {
                return Err(format!("{what}: `rules` is empty"));
            }
            if ig.reason.trim().is_empty() {
                return Err(format!(
                    "{what}: `reason` is empty; say why the risk is accepted"
                ));
            }
            let expires = match ig.expires {
                Some(d) => match d.date {
                    Some(date) if d.time.is_none() => Some(date.to_string()),
                    _ => return Err(format!("{what}: `expires` must be a date like 2027-01-31")),
                },
                None => None,
            };
            if let Some(e) = &expires
                && e.as_str() < today
            {
                cfg.warnings.push(format!(
                    "{what} expired on {e} and no longer suppresses anything"
                ));
                continue;
            }
            let resources = ig
                .resources
                .iter()
                .map(|r| {
                    Glob::new(r)
                        .map(|g| g.compile_matcher())
                        .map_err(|e| format!("{what}: bad resource glob '{r}': {e}"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            cfg.ignores.push(IgnoreEntry {
                rules: ig.rules,
                paths: glob_set(&ig.paths, &what)?,
                resources,
                reason: ig.reason,
                expires,
            });
        }
        Ok(cfg)
    }

    pub fn load(path: &Path, today: &str) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let mut cfg = Self::parse(&text, &path.display().to_string(), today)?;
        let base = path.parent().unwrap_or(Path::new("."));
        let s = &mut cfg.model_signing;
        for p in s.public_keys.iter_mut().chain(s.certificates.iter_mut()) {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        Ok(cfg)
    }

    pub fn is_excluded(&self, path: &str) -> bool {
        self.exclude
            .as_ref()
            .is_some_and(|s| s.is_match(path.trim_start_matches("./")))
    }

    pub fn ignored(&self, f: &Finding) -> bool {
        self.ignores.iter().any(|i| i.matches(f))
    }
}

/// Reads a configuration file and parses it with `parse`; errors start with the file's name.
/// Also returns the directory that relative paths in the file are relative to.
pub fn load_with<T>(
    path: &std::path::Path,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Result<(T, &std::path::Path), String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    let value = parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((value, path.parent().unwrap_or(std::path::Path::new("."))))
}

/// Makes a path from a configuration file relative to that file's directory (absolute paths
/// stay as they are).
pub fn resolve_relative(base: &std::path::Path, p: &mut std::path::PathBuf) {
    if p.is_relative() {
        *p = base.join(&*p);
    }
}

/// Today's date (UTC) as `YYYY-MM-DD`.
pub fn today_utc() -> String {
    crate::time::Timestamp::now().date()
}

/// Now (UTC) as an RFC 3339 timestamp, `YYYY-MM-DDTHH:MM:SSZ`.
pub fn now_utc_rfc3339() -> String {
    let now = crate::time::Timestamp::now();
    crate::time::Timestamp::from_secs(now.micros().div_euclid(1_000_000)).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Location, RuleMeta};

    static R: RuleMeta = RuleMeta {
        code: "K8S020",
        name: "writable-root-filesystem",
        severity: Severity::Low,
        family: "hardening",
        summary: "",
        controls: &[],
        techniques: &[],
        fix: "",
        doc: "",
    };

    #[test]
    fn civil_dates() {
        use crate::time::Timestamp;
        assert_eq!(Timestamp(0).date(), "1970-01-01");
        assert_eq!(Timestamp::from_secs(20_779 * 86_400).date(), "2026-11-22");
    }

    #[test]
    fn ignore_entries_match_and_expire() {
        let text = r#"
fail_on = "high"
[[ignore]]
rules = ["K8S020"]
paths = ["deploy/legacy/**"]
reason = "legacy"
[[ignore]]
rules = ["writable-root-filesystem"]
reason = "old"
expires = 2020-01-01
"#;
        let cfg = Config::parse(text, "palisade.toml", "2026-11-22").unwrap();
        assert_eq!(cfg.fail_on, Some(Severity::High));
        assert_eq!(cfg.ignores.len(), 1);
        assert_eq!(cfg.warnings.len(), 1, "{:?}", cfg.warnings);
        let inside = Finding::new(&R, Location::new("repo/deploy/legacy/a.yaml", 1, 1), "m");
        let outside = Finding::new(&R, Location::new("deploy/new/a.yaml", 1, 1), "m");
        assert!(cfg.ignored(&inside));
        assert!(!cfg.ignored(&outside));
    }

    #[test]
    fn missing_reason_is_an_error() {
        let err = Config::parse(
            "[[ignore]]\nrules=[\"K8S001\"]\nreason=\"\"\n",
            "p.toml",
            "2026-01-01",
        )
        .unwrap_err();
        assert!(err.contains("reason"), "{err}");
        let err = Config::parse("bogus = 1\n", "p.toml", "2026-01-01").unwrap_err();
        assert!(err.contains("bogus"), "{err}");
    }
}
