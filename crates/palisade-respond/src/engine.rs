//! The pipeline in one place: ingest → detect → correlate → record.
//!
//! [`Engine::ingest`] takes one parsed body or file and records all of it in one transaction:
//! every signal, every input error, every detection, every incident change, each as a chain
//! entry. When it returns `Ok`, the batch is committed and durable; the server answers 2xx only
//! then. Phase changes ([`Engine::advance`]) go through the same record.

use crate::correlate::{Correlator, Placed};
use crate::detect::Detector;
use crate::incident::{Incident, Phase};
use crate::ingest::{IngestError, Parsed};
use crate::rules::RuleSet;
use crate::signal::{Source, Workload};
use crate::store::{Kind, Store};
use palisade_core::Severity;
use palisade_core::time::Timestamp;
use serde_json::json;
use std::collections::{BTreeSet, HashMap};

/// Open incidents kept in memory before idle ones are let go (they stay in the store).
pub const MAX_IN_MEMORY: usize = 10_000;

/// Which clock stamps detections and automatic phase changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// The time of processing (a live server).
    Wall,
    /// The time of the signal being processed (replaying recorded events: the incident's times
    /// then are those of the original events).
    Event,
}

pub struct Options {
    /// How long an incident stays joinable after its last signal.
    pub window_secs: f64,
    /// The least severe detection that opens an incident by itself.
    pub open_at: Severity,
    pub clock: Clock,
    /// Guard models and the workloads serving them (`digits` → `ml/digits[Deployment]`).
    pub models: HashMap<String, Workload>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            window_secs: 1800.0,
            open_at: Severity::Low,
            clock: Clock::Wall,
            models: HashMap::new(),
        }
    }
}

/// What one batch did.
#[derive(Debug, Default)]
pub struct Outcome {
    pub accepted: usize,
    pub errors: Vec<IngestError>,
    pub detections: usize,
    pub duplicates: usize,
    pub opened: Vec<String>,
    pub updated: BTreeSet<String>,
}

pub struct Engine {
    store: Store,
    detector: Detector,
    correlator: Correlator,
    clock: Clock,
    models: HashMap<String, Workload>,
}

impl Engine {
    pub fn new(store: Store, rules: RuleSet, opts: Options) -> Result<Engine, String> {
        let open = load_open(&store)?;
        Ok(Engine {
            store,
            detector: Detector::new(rules),
            correlator: Correlator {
                window_secs: opts.window_secs,
                open_at: opts.open_at,
                open,
            },
            clock: opts.clock,
            models: opts.models,
        })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn rules(&self) -> &RuleSet {
        &self.detector.rules
    }

    /// Records a batch; `origin` says where it came from (`POST /ingest/falco`, a file name).
    pub fn ingest(&mut self, parsed: Parsed, origin: &str) -> Result<Outcome, String> {
        let mut outs = self.ingest_many(vec![(parsed, origin.to_string())])?;
        Ok(outs.pop().unwrap_or_default())
    }

    /// Records several batches in one transaction (the server's group commit: the batches of
    /// requests that arrived together share one write to disk). All are committed or none;
    /// one outcome per batch, in order.
    pub fn ingest_many(&mut self, batches: Vec<(Parsed, String)>) -> Result<Vec<Outcome>, String> {
        let Engine {
            store,
            detector,
            correlator,
            clock,
            models,
        } = self;
        let result = store.transaction(|store| {
            let mut outs = Vec::with_capacity(batches.len());
            let mut updated = BTreeSet::new();
            for (parsed, origin) in batches {
                let out =
                    record_batch(store, detector, correlator, *clock, models, parsed, &origin)?;
                updated.extend(out.updated.iter().cloned());
                outs.push(out);
            }
            for inc in correlator.open.iter().filter(|i| updated.contains(&i.id)) {
                store.save_incident(inc)?;
            }
            if correlator.open.len() > MAX_IN_MEMORY {
                let newest = correlator
                    .open
                    .iter()
                    .map(|i| i.last_seen)
                    .max()
                    .unwrap_or_default();
                correlator.prune(newest);
            }
            Ok(outs)
        });
        if result.is_err() {
            // The in-memory incidents ran ahead of a batch that was rolled back: read them back
            // from the record. (Threshold windows keep the counts; a sender retrying the batch
            // may reach a threshold a little early.)
            if let Ok(open) = load_open(store) {
                correlator.open = open;
            }
        }
        result
    }

    /// An incident by id, from memory when open, else from the store.
    pub fn incident(&self, id: &str) -> Result<Option<Incident>, String> {
        if let Some(i) = self.correlator.open.iter().find(|i| i.id == id) {
            return Ok(Some(i.clone()));
        }
        self.store
            .incident(id)?
            .map(|v| Incident::from_json(&v))
            .transpose()
    }

    /// Moves an incident to `phase`, recording who and why.
    pub fn advance(
        &mut self,
        id: &str,
        phase: Phase,
        by: &str,
        reason: &str,
        at: Option<Timestamp>,
    ) -> Result<Incident, String> {
        let at = at.unwrap_or_else(Timestamp::now);
        self.update(id, |s, inc| change_phase(s, inc, phase, at, by, reason))
            .map(|(inc, ())| inc)
    }

    /// Changes an incident and records the change, with whatever `change` appends to the
    /// chain, in one transaction; nothing is kept if it fails.
    pub fn update<T>(
        &mut self,
        id: &str,
        change: impl FnOnce(&mut Store, &mut Incident) -> Result<T, String>,
    ) -> Result<(Incident, T), String> {
        let mut inc = self
            .incident(id)?
            .ok_or_else(|| format!("no incident {id}"))?;
        let out = self.store.transaction(|s| {
            let out = change(s, &mut inc)?;
            s.save_incident(&inc)?;
            Ok(out)
        })?;
        self.correlator.open.retain(|i| i.id != id);
        if inc.is_open() {
            self.correlator.open.push(inc.clone());
        }
        Ok((inc, out))
    }
}

/// Moves an incident to a phase and appends the change to the chain (inside the caller's
/// transaction).
pub fn change_phase(
    s: &mut Store,
    inc: &mut Incident,
    phase: Phase,
    at: Timestamp,
    by: &str,
    reason: &str,
) -> Result<(), String> {
    inc.advance(phase, at, by, reason)?;
    let change = json!({"phase": phase.as_str(), "at": at.to_string(), "by": by, "reason": reason});
    s.append(Kind::Phase, Some(&inc.id), &change)?;
    Ok(())
}

/// One batch's signals, errors, detections and incident changes, appended inside the caller's
/// transaction (incidents are saved by the caller, once per transaction).
fn record_batch(
    store: &mut Store,
    detector: &mut Detector,
    correlator: &mut Correlator,
    clock: Clock,
    models: &HashMap<String, Workload>,
    parsed: Parsed,
    origin: &str,
) -> Result<Outcome, String> {
    let Parsed {
        signals, errors, ..
    } = parsed;
    let mut out = Outcome::default();
    for e in &errors {
        store.append(
            Kind::IngestError,
            None,
            &json!({"origin": origin, "at": e.at, "message": e.message}),
        )?;
    }
    if !errors.is_empty() {
        store.bump("ingest_errors", errors.len() as i64)?;
    }
    if !signals.is_empty() {
        store.bump("signals", signals.len() as i64)?;
    }
    out.errors = errors;
    for mut signal in signals {
        if signal.source == Source::Guard
            && let Some(w) = signal.subject.model.as_ref().and_then(|m| models.get(m))
        {
            signal.subject.namespace = Some(w.namespace.clone());
            signal.subject.workload = Some(w.clone());
        }
        store.append(Kind::Signal, None, &signal.to_record())?;
        out.accepted += 1;
        let now = match clock {
            Clock::Wall => Timestamp::now(),
            Clock::Event => signal.time,
        };
        for d in detector.detect(&signal) {
            let record = d.to_json();
            let det_time = d.time;
            let placed = correlator.place(d, || next_id(store), now)?;
            let n = match placed {
                Placed::Dropped => {
                    store.append(Kind::Detection, None, &record)?;
                    out.detections += 1;
                    continue;
                }
                Placed::Duplicate(_) => {
                    out.duplicates += 1;
                    continue;
                }
                Placed::Opened(n) | Placed::Joined(n) => n,
            };
            out.detections += 1;
            let inc = &mut correlator.open[n];
            let id = inc.id.clone();
            // Replaying: the incident was detected when its earliest detection fired.
            if clock == Clock::Event
                && let Some(first) = inc.history.first_mut()
                && first.phase == Phase::Detected
                && det_time < first.at
            {
                first.at = det_time;
            }
            if let Placed::Opened(_) = placed {
                store.append(
                    Kind::Opened,
                    Some(&id),
                    &json!({"title": inc.title, "severity": inc.severity.as_str(), "at": now.to_string()}),
                )?;
                out.opened.push(id.clone());
            }
            store.append(Kind::Detection, Some(&id), &record)?;
            if let Some(s) = inc.reassess() {
                store.append(
                    Kind::Severity,
                    Some(&id),
                    &json!({"severity": s.as_str(), "reason": format!("{} rules agree", inc.findings.len())}),
                )?;
            }
            out.updated.insert(id);
        }
    }
    Ok(out)
}

fn load_open(store: &Store) -> Result<Vec<Incident>, String> {
    store
        .incidents(true)?
        .iter()
        .map(Incident::from_json)
        .collect()
}

fn next_id(store: &mut Store) -> Result<String, String> {
    // The counter lives in the same transaction, so ids are never reused across crashes.
    Ok(format!("INC-{:04}", store.bump("incident", 1)?))
}
