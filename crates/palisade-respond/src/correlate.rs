//! Detections → incidents.
//!
//! A detection joins the open incident that shares one of its keys (same workload, node, tenant,
//! model… as its rule's `correlate` list says) and whose signals span to within the window of it; when
//! several qualify, the most recently active one. Otherwise it opens a new incident, if it is at
//! least as severe as `open_at` (info detections only ever add evidence). A detection without
//! keys is keyed by its rule, so repeats still fold.

use crate::detect::Detection;
use crate::incident::Incident;
use palisade_core::Severity;
use palisade_core::time::Timestamp;

pub struct Correlator {
    pub window_secs: f64,
    pub open_at: Severity,
    /// Open incidents, in memory; the store has them all.
    pub open: Vec<Incident>,
}

/// What happened to one detection.
#[derive(Debug, PartialEq)]
pub enum Placed {
    /// It opened the incident at this index of `open`.
    Opened(usize),
    /// It joined the incident at this index.
    Joined(usize),
    /// It repeated an occurrence already counted there.
    Duplicate(usize),
    /// Too minor to open an incident, and none to join.
    Dropped,
}

impl Correlator {
    pub fn place(
        &mut self,
        mut d: Detection,
        new_id: impl FnOnce() -> Result<String, String>,
        now: Timestamp,
    ) -> Result<Placed, String> {
        if d.keys.is_empty() {
            d.keys.push(format!("rule:{}", d.code));
        }
        let w = self.window_secs;
        // Within the window of the incident's span, on either side: replayed events may arrive
        // out of order.
        let best = self
            .open
            .iter()
            .enumerate()
            .filter(|(_, i)| {
                i.is_open()
                    && d.time >= i.first_seen.plus_secs(-w)
                    && d.time <= i.last_seen.plus_secs(w)
                    && d.keys.iter().any(|k| i.keys.contains(k))
            })
            .max_by_key(|(_, i)| i.last_seen)
            .map(|(n, _)| n);
        Ok(match best {
            Some(n) => {
                if self.open[n].add(&d) {
                    Placed::Joined(n)
                } else {
                    Placed::Duplicate(n)
                }
            }
            None if d.severity >= self.open_at && d.severity > Severity::Info => {
                self.open.push(Incident::open(new_id()?, &d, now));
                Placed::Opened(self.open.len() - 1)
            }
            None => Placed::Dropped,
        })
    }

    /// Forgets (from memory only) incidents idle for longer than the window before `now`: no
    /// detection can join them any more; the store keeps them.
    pub fn prune(&mut self, now: Timestamp) {
        let horizon = now.plus_secs(-self.window_secs);
        self.open.retain(|i| i.last_seen >= horizon);
    }
}
