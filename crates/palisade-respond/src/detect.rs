//! Signals → detections: which rules fire.
//!
//! Each rule of the signal's source is tested in order; `fallback` rules only when no other rule
//! of that source held. A rule with a `threshold` counts the signals it holds for (per group of
//! its `by` fields) in a sliding window and fires on the Nth, then starts counting again. The
//! detection carries the rule's techniques and the signal's own, with the ATLAS techniques the
//! ATT&CK ones map to, and the correlation keys its rule names.

use crate::crosswalk;
use crate::rules::field::{self, Doc};
use crate::rules::{KeyKind, Rule, RuleSet, RuleSeverity};
use crate::signal::{Signal, Subject};
use palisade_core::Severity;
use palisade_core::time::Timestamp;
use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};

/// Most (rule, group) windows kept; the least recently used are dropped beyond it.
pub const MAX_WINDOWS: usize = 100_000;

/// A rule that fired.
#[derive(Debug, Clone)]
pub struct Detection {
    pub rule: String,
    pub code: String,
    pub severity: Severity,
    pub techniques: Vec<String>,
    pub message: String,
    pub time: Timestamp,
    pub subject: Subject,
    /// `kind:value` keys incidents join on (`workload:ml/digits[Deployment]`, `tenant:team-b`).
    pub keys: Vec<String>,
    /// Occurrences behind it (a threshold's count; a folded event's repeats).
    pub occurrences: u64,
    /// The source's id for this occurrence, when it has one (duplicates fold on it).
    pub signal_id: Option<String>,
}

impl Detection {
    pub fn to_json(&self) -> Value {
        json!({
            "rule": self.rule,
            "code": self.code,
            "severity": self.severity.as_str(),
            "techniques": self.techniques,
            "message": self.message,
            "time": self.time.to_string(),
            "subject": self.subject.to_json(),
            "keys": self.keys,
            "occurrences": self.occurrences,
        })
    }
}

pub struct Detector {
    pub rules: RuleSet,
    windows: HashMap<(usize, String), Window>,
    tick: u64,
}

struct Window {
    hits: VecDeque<(Timestamp, u64)>,
    total: u64,
    used: u64,
}

impl Detector {
    pub fn new(rules: RuleSet) -> Detector {
        Detector {
            rules,
            windows: HashMap::new(),
            tick: 0,
        }
    }

    pub fn detect(&mut self, signal: &Signal) -> Vec<Detection> {
        let added = signal.added_fields();
        let doc = Doc {
            raw: &signal.raw,
            added: &added,
        };
        let mut out = Vec::new();
        let mut matched = false;
        for pass in [false, true] {
            if pass && matched {
                break;
            }
            for i in 0..self.rules.rules.len() {
                let rule = &self.rules.rules[i];
                if rule.fallback != pass || rule.source.is_some_and(|s| s != signal.source) {
                    continue;
                }
                if !rule.condition.eval(&doc) {
                    continue;
                }
                matched = true;
                let occurrences = match &rule.threshold {
                    None => signal.count,
                    Some(_) => match self.count(i, &doc, signal) {
                        Some(n) => n,
                        None => continue,
                    },
                };
                let rule = &self.rules.rules[i];
                out.push(detection(rule, signal, &doc, occurrences));
            }
        }
        out
    }

    /// Adds the signal to its window; the count when the threshold is reached.
    fn count(&mut self, rule: usize, doc: &Doc, signal: &Signal) -> Option<u64> {
        let t = self.rules.rules[rule].threshold.as_ref()?;
        let group =
            t.by.iter()
                .map(|p| {
                    doc.resolve(p)
                        .first()
                        .and_then(|v| field::text(v))
                        .map(|s| s.into_owned())
                        .unwrap_or_default()
                })
                .collect::<Vec<_>>()
                .join("\u{1f}");
        let (need, within) = (t.count, t.within_secs);
        self.tick += 1;
        if self.windows.len() >= MAX_WINDOWS && !self.windows.contains_key(&(rule, group.clone())) {
            let oldest = self
                .windows
                .iter()
                .min_by_key(|(_, w)| w.used)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                self.windows.remove(&k);
            }
        }
        let w = self.windows.entry((rule, group)).or_insert(Window {
            hits: VecDeque::new(),
            total: 0,
            used: 0,
        });
        w.used = self.tick;
        w.hits.push_back((signal.time, signal.count));
        w.total += signal.count;
        let horizon = signal.time.plus_secs(-within);
        while let Some(&(when, n)) = w.hits.front() {
            if when >= horizon {
                break;
            }
            w.hits.pop_front();
            w.total -= n;
        }
        (w.total >= need).then(|| {
            let n = w.total;
            w.hits.clear();
            w.total = 0;
            n
        })
    }
}

fn detection(rule: &Rule, signal: &Signal, doc: &Doc, occurrences: u64) -> Detection {
    let severity = match rule.severity {
        RuleSeverity::Fixed(s) => s,
        RuleSeverity::FromSource => signal.severity,
    };
    let techniques = crosswalk::enrich(rule.techniques.iter().chain(&signal.techniques).cloned());
    let mut message = match &rule.output {
        Some(template) => render(template, doc),
        None => signal.message.clone(),
    };
    if occurrences > 1 && rule.threshold.is_some() {
        message = format!("{message} ({occurrences} times)");
    }
    Detection {
        rule: rule.name.clone(),
        code: rule.code.clone().unwrap_or_else(|| rule.name.clone()),
        severity,
        techniques,
        message,
        time: signal.time,
        subject: signal.subject.clone(),
        keys: keys(&rule.correlate, &signal.subject),
        occurrences,
        signal_id: signal.id.clone(),
    }
}

/// The correlation keys a subject has, of the kinds a rule asks for.
pub fn keys(kinds: &[KeyKind], s: &Subject) -> Vec<String> {
    let mut out = Vec::new();
    for k in kinds {
        let v = match k {
            KeyKind::Workload => s.workload.as_ref().map(|w| w.to_string()),
            KeyKind::Node => s.node.clone(),
            KeyKind::Tenant => s.tenant.clone(),
            KeyKind::Model => s.model.clone(),
            KeyKind::Namespace => s.namespace.clone(),
            KeyKind::Pod => match (&s.namespace, &s.pod) {
                (Some(ns), Some(p)) => Some(format!("{ns}/{p}")),
                _ => None,
            },
            KeyKind::User => s.user.clone(),
        };
        if let Some(v) = v {
            out.push(format!("{}:{v}", k.as_str()));
        }
    }
    out
}

/// `%{path}` placeholders filled from the signal's JSON (`?` when absent).
pub fn render(template: &str, doc: &Doc) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(i) = rest.find("%{") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[i..]);
            return out;
        };
        let values: Vec<String> = field::parse_path(&after[..end])
            .map(|p| {
                doc.resolve(&p)
                    .into_iter()
                    .filter_map(|v| field::text(v).map(|t| t.into_owned()))
                    .collect()
            })
            .unwrap_or_default();
        out.push_str(&if values.is_empty() {
            "?".to_string()
        } else {
            values.join(",")
        });
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}
