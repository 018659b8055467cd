//! The incident record: NIST SP 800-61's lifecycle as phases, and what the incident is about.
//!
//! Phases move forward only — detected → triaged → contained → eradicated → recovered → closed —
//! each change with its time, who or what made it and why. Skipping is allowed (a playbook may
//! contain before anyone triages); going back is not (a new incident is opened instead).
//!
//! Response times, all from the incident's record (docs/respond.md defines them):
//! - MTTD, time to detect: from the first signal to the incident being opened;
//! - MTTA, time to acknowledge: from opening to the first phase after `detected`;
//! - MTTC, time to contain: from opening to `contained`;
//! - MTTR, time to recover: from opening to `recovered`.

use crate::detect::Detection;
use palisade_core::Severity;
use palisade_core::time::Timestamp;
use serde_json::{Value, json};
use std::collections::BTreeSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    Detected,
    Triaged,
    Contained,
    Eradicated,
    Recovered,
    Closed,
}

impl Phase {
    pub const ALL: [Phase; 6] = [
        Phase::Detected,
        Phase::Triaged,
        Phase::Contained,
        Phase::Eradicated,
        Phase::Recovered,
        Phase::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Detected => "detected",
            Phase::Triaged => "triaged",
            Phase::Contained => "contained",
            Phase::Eradicated => "eradicated",
            Phase::Recovered => "recovered",
            Phase::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<Phase> {
        Phase::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct PhaseChange {
    pub phase: Phase,
    pub at: Timestamp,
    pub by: String,
    pub reason: String,
}

/// One rule's detections within the incident, folded.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub rule: String,
    pub code: String,
    pub severity: Severity,
    pub count: u64,
    pub first: Timestamp,
    pub last: Timestamp,
    pub message: String,
    /// Source ids already counted (bounded), so a re-sent alert is not counted twice.
    pub ids: Vec<String>,
}

const MAX_IDS: usize = 256;

/// The sets of things the incident touches.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Blast {
    pub namespaces: BTreeSet<String>,
    pub workloads: BTreeSet<String>,
    pub pods: BTreeSet<String>,
    /// Nodes the signals name (where something was seen).
    pub nodes: BTreeSet<String>,
    /// Nodes that ran the incident's pods, from the cluster inventory (at risk, not seen).
    pub hosts: BTreeSet<String>,
    pub services: BTreeSet<String>,
    pub tenants: BTreeSet<String>,
    pub models: BTreeSet<String>,
    pub users: BTreeSet<String>,
    pub images: BTreeSet<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Incident {
    pub id: String,
    pub title: String,
    pub severity: Severity,
    pub keys: BTreeSet<String>,
    pub techniques: BTreeSet<String>,
    /// Time of the earliest signal behind it, and of the latest.
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub history: Vec<PhaseChange>,
    pub findings: Vec<Finding>,
    pub blast: Blast,
    /// The playbook answering it, how far it got, and what it did.
    pub response: Response,
}

/// A playbook's progress on an incident.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Response {
    #[serde(default)]
    pub playbook: Option<String>,
    /// The index of the next step to run.
    #[serde(default)]
    pub next_step: usize,
    /// A step waiting for approval.
    #[serde(default)]
    pub pending: Option<Pending>,
    /// Steps approved (by index), with who approved.
    #[serde(default)]
    pub approved: Vec<Approval>,
    #[serde(default)]
    pub actions: Vec<ActionRecord>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Pending {
    pub step: usize,
    pub what: String,
    pub since: String,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Approval {
    pub step: usize,
    pub by: String,
    pub at: String,
}

/// One action taken, as recorded.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ActionRecord {
    /// The playbook step, or none for an action a person took (the dashboard's Roll back).
    #[serde(default)]
    pub step: Option<usize>,
    pub action: String,
    /// changed, unchanged, skipped, recorded or failed.
    pub status: String,
    pub summary: String,
    pub by: String,
    pub at: String,
    /// (what, SHA-256) of each piece of evidence it stored.
    #[serde(default)]
    pub evidence: Vec<(String, String)>,
}

impl ActionRecord {
    /// The step number as people count (from 1), or `-` for a person's own action.
    pub fn step_label(&self) -> String {
        self.step.map_or("-".into(), |s| (s + 1).to_string())
    }
}

impl Incident {
    pub fn open(id: String, d: &Detection, at: Timestamp) -> Incident {
        let mut inc = Incident {
            id,
            title: d.message.clone(),
            severity: d.severity,
            keys: BTreeSet::new(),
            techniques: BTreeSet::new(),
            first_seen: d.time,
            last_seen: d.time,
            history: vec![PhaseChange {
                phase: Phase::Detected,
                at,
                by: "palisade".into(),
                reason: format!("{} ({})", d.rule, d.code),
            }],
            findings: Vec::new(),
            blast: Blast::default(),
            response: Response::default(),
        };
        inc.add(d);
        inc
    }

    pub fn phase(&self) -> Phase {
        self.history
            .last()
            .map(|h| h.phase)
            .unwrap_or(Phase::Detected)
    }

    pub fn is_open(&self) -> bool {
        self.phase() != Phase::Closed
    }

    /// When the incident entered `phase` (the first time), if it did.
    pub fn entered(&self, phase: Phase) -> Option<Timestamp> {
        self.history.iter().find(|h| h.phase == phase).map(|h| h.at)
    }

    /// Folds a detection in. Returns false when it was a duplicate of one already counted.
    pub fn add(&mut self, d: &Detection) -> bool {
        if let Some(f) = self.findings.iter_mut().find(|f| f.code == d.code) {
            if let Some(id) = &d.signal_id {
                if f.ids.contains(id) {
                    return false;
                }
                if f.ids.len() < MAX_IDS {
                    f.ids.push(id.clone());
                }
            }
            f.count += d.occurrences;
            f.first = f.first.min(d.time);
            f.last = f.last.max(d.time);
            f.severity = f.severity.max(d.severity);
            f.message = d.message.clone();
        } else {
            self.findings.push(Finding {
                rule: d.rule.clone(),
                code: d.code.clone(),
                severity: d.severity,
                count: d.occurrences,
                first: d.time,
                last: d.time,
                message: d.message.clone(),
                ids: d.signal_id.iter().cloned().collect(),
            });
        }
        self.keys.extend(d.keys.iter().cloned());
        self.techniques.extend(d.techniques.iter().cloned());
        self.first_seen = self.first_seen.min(d.time);
        self.last_seen = self.last_seen.max(d.time);
        let s = &d.subject;
        let b = &mut self.blast;
        let put = |set: &mut BTreeSet<String>, v: &Option<String>| {
            if let Some(v) = v {
                set.insert(v.clone());
            }
        };
        put(&mut b.namespaces, &s.namespace);
        put(&mut b.nodes, &s.node);
        put(&mut b.tenants, &s.tenant);
        put(&mut b.models, &s.model);
        put(&mut b.users, &s.user);
        put(&mut b.images, &s.image);
        if let (Some(ns), Some(p)) = (&s.namespace, &s.pod) {
            b.pods.insert(format!("{ns}/{p}"));
        }
        if let Some(w) = &s.workload {
            b.workloads.insert(w.to_string());
        }
        true
    }

    /// The severity the evidence supports: the worst finding's, one level higher when three or
    /// more different rules agree. Returns the new severity when it changed.
    pub fn reassess(&mut self) -> Option<Severity> {
        let worst = self
            .findings
            .iter()
            .map(|f| f.severity)
            .max()
            .unwrap_or(self.severity);
        let rules = self
            .findings
            .iter()
            .filter(|f| f.severity > Severity::Info)
            .count();
        let level = if rules >= 3 { raise(worst) } else { worst };
        let new = level.max(self.severity);
        (new != self.severity).then(|| {
            self.severity = new;
            new
        })
    }

    /// Moves to `phase`; refused when it would go backwards or stay.
    pub fn advance(
        &mut self,
        phase: Phase,
        at: Timestamp,
        by: &str,
        reason: &str,
    ) -> Result<(), String> {
        let now = self.phase();
        if phase <= now {
            return Err(format!(
                "{} is {}; it can only move forward ({})",
                self.id,
                now.as_str(),
                Phase::ALL
                    .iter()
                    .filter(|p| **p > now)
                    .map(|p| p.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if phase == Phase::Closed && reason.trim().is_empty() {
            return Err(format!(
                "closing {} needs the lessons learned as its reason",
                self.id
            ));
        }
        self.history.push(PhaseChange {
            phase,
            at,
            by: by.to_string(),
            reason: reason.to_string(),
        });
        Ok(())
    }

    /// MTTD, MTTA, MTTC, MTTR in seconds (None where the incident has not got there).
    pub fn times(&self) -> Times {
        let detected = self.entered(Phase::Detected).unwrap_or(self.first_seen);
        let since = |t: Option<Timestamp>| t.map(|t| t.secs_since(detected).max(0.0));
        Times {
            detect: Some(detected.secs_since(self.first_seen).max(0.0)),
            acknowledge: since(
                self.history
                    .iter()
                    .find(|h| h.phase > Phase::Detected)
                    .map(|h| h.at),
            ),
            contain: since(self.entered(Phase::Contained)),
            recover: since(self.entered(Phase::Recovered)),
        }
    }

    pub fn to_json(&self) -> Value {
        let sets = |s: &BTreeSet<String>| s.iter().cloned().collect::<Vec<_>>();
        let b = &self.blast;
        let t = self.times();
        json!({
            "id": self.id,
            "title": self.title,
            "severity": self.severity.as_str(),
            "phase": self.phase().as_str(),
            "first_seen": self.first_seen.to_string(),
            "last_seen": self.last_seen.to_string(),
            "keys": sets(&self.keys),
            "techniques": sets(&self.techniques),
            "history": self.history.iter().map(|h| json!({
                "phase": h.phase.as_str(), "at": h.at.to_string(), "by": h.by, "reason": h.reason,
            })).collect::<Vec<_>>(),
            "findings": self.findings.iter().map(|f| json!({
                "rule": f.rule, "code": f.code, "severity": f.severity.as_str(), "count": f.count,
                "first": f.first.to_string(), "last": f.last.to_string(), "message": f.message,
                "ids": f.ids,
            })).collect::<Vec<_>>(),
            "blast_radius": {
                "namespaces": sets(&b.namespaces), "workloads": sets(&b.workloads),
                "pods": sets(&b.pods), "nodes": sets(&b.nodes), "hosts": sets(&b.hosts), "services": sets(&b.services),
                "tenants": sets(&b.tenants), "models": sets(&b.models), "users": sets(&b.users),
                "images": sets(&b.images),
            },
            "times": {
                "mttd_seconds": t.detect, "mtta_seconds": t.acknowledge,
                "mttc_seconds": t.contain, "mttr_seconds": t.recover,
            },
            "response": serde_json::to_value(&self.response).unwrap_or(Value::Null),
        })
    }

    pub fn from_json(v: &Value) -> Result<Incident, String> {
        let s = |k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or(format!("incident field '{k}' missing"))
        };
        let ts = |x: &Value, k: &str| {
            x.get(k)
                .and_then(Value::as_str)
                .ok_or(format!("incident field '{k}' missing"))
                .and_then(Timestamp::parse)
        };
        let sev = |x: &Value| {
            x.get("severity")
                .and_then(Value::as_str)
                .and_then(|t| t.parse().ok())
                .ok_or("incident severity missing".to_string())
        };
        let strings = |x: Option<&Value>| -> BTreeSet<String> {
            x.and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default()
        };
        let arr = |k: &str| {
            v.get(k)
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        };
        let history = arr("history")
            .iter()
            .map(|h| {
                Ok(PhaseChange {
                    phase: h
                        .get("phase")
                        .and_then(Value::as_str)
                        .and_then(Phase::parse)
                        .ok_or("bad phase")?,
                    at: ts(h, "at")?,
                    by: h.get("by").and_then(Value::as_str).unwrap_or("").into(),
                    reason: h.get("reason").and_then(Value::as_str).unwrap_or("").into(),
                })
            })
            .collect::<Result<_, String>>()?;
        let findings = arr("findings")
            .iter()
            .map(|f| {
                Ok(Finding {
                    rule: f.get("rule").and_then(Value::as_str).unwrap_or("").into(),
                    code: f.get("code").and_then(Value::as_str).unwrap_or("").into(),
                    severity: sev(f)?,
                    count: f.get("count").and_then(Value::as_u64).unwrap_or(1),
                    first: ts(f, "first")?,
                    last: ts(f, "last")?,
                    message: f
                        .get("message")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .into(),
                    ids: strings(f.get("ids")).into_iter().collect(),
                })
            })
            .collect::<Result<_, String>>()?;
        let b = v.get("blast_radius").cloned().unwrap_or(Value::Null);
        let set = |k: &str| strings(b.get(k));
        Ok(Incident {
            id: s("id")?,
            title: s("title")?,
            severity: sev(v)?,
            keys: strings(v.get("keys")),
            techniques: strings(v.get("techniques")),
            first_seen: ts(v, "first_seen")?,
            last_seen: ts(v, "last_seen")?,
            history,
            findings,
            blast: Blast {
                namespaces: set("namespaces"),
                workloads: set("workloads"),
                pods: set("pods"),
                nodes: set("nodes"),
                hosts: set("hosts"),
                services: set("services"),
                tenants: set("tenants"),
                models: set("models"),
                users: set("users"),
                images: set("images"),
            },
            response: match v.get("response") {
                None | Some(Value::Null) => Response::default(),
                Some(r) => serde_json::from_value(r.clone())
                    .map_err(|e| format!("incident response: {e}"))?,
            },
        })
    }
}

fn raise(s: Severity) -> Severity {
    match s {
        Severity::Info => Severity::Low,
        Severity::Low => Severity::Medium,
        Severity::Medium => Severity::High,
        _ => Severity::Critical,
    }
}

/// Response times in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Times {
    pub detect: Option<f64>,
    pub acknowledge: Option<f64>,
    pub contain: Option<f64>,
    pub recover: Option<f64>,
}
