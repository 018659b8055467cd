//! Response times over a period (`palisade respond report`).
//!
//! For the incidents opened in the period: how many, by severity and phase, and for each of
//! MTTD, MTTA, MTTC and MTTR the mean, median and worst over the incidents that reached that
//! point (an incident not yet contained does not count towards MTTC: the count says how many did).

use crate::incident::{Incident, Phase};
use palisade_core::Severity;
use palisade_core::time::Timestamp;
use serde_json::{Value, json};

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Stat {
    pub count: usize,
    pub mean: Option<f64>,
    pub median: Option<f64>,
    pub max: Option<f64>,
}

fn stat(mut xs: Vec<f64>) -> Stat {
    if xs.is_empty() {
        return Stat::default();
    }
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    let median = if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    };
    Stat {
        count: n,
        mean: Some(xs.iter().sum::<f64>() / n as f64),
        median: Some(median),
        max: xs.last().copied(),
    }
}

pub struct Report {
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    pub incidents: usize,
    pub by_severity: Vec<(Severity, usize)>,
    pub by_phase: Vec<(Phase, usize)>,
    pub mttd: Stat,
    pub mtta: Stat,
    pub mttc: Stat,
    pub mttr: Stat,
    /// Per incident: id, severity, phase, opened, and its four times.
    pub rows: Vec<Value>,
}

/// The report over incidents opened in [since, until).
pub fn build(all: &[Incident], since: Option<Timestamp>, until: Option<Timestamp>) -> Report {
    let chosen: Vec<&Incident> = all
        .iter()
        .filter(|i| {
            let opened = i.entered(Phase::Detected).unwrap_or(i.first_seen);
            since.is_none_or(|s| opened >= s) && until.is_none_or(|u| opened < u)
        })
        .collect();
    let times: Vec<_> = chosen.iter().map(|i| i.times()).collect();
    let pick =
        |f: fn(&crate::incident::Times) -> Option<f64>| stat(times.iter().filter_map(f).collect());
    Report {
        since,
        until,
        incidents: chosen.len(),
        by_severity: Severity::ALL
            .iter()
            .map(|s| (*s, chosen.iter().filter(|i| i.severity == *s).count()))
            .filter(|(_, n)| *n > 0)
            .collect(),
        by_phase: Phase::ALL
            .iter()
            .map(|p| (*p, chosen.iter().filter(|i| i.phase() == *p).count()))
            .filter(|(_, n)| *n > 0)
            .collect(),
        mttd: pick(|t| t.detect),
        mtta: pick(|t| t.acknowledge),
        mttc: pick(|t| t.contain),
        mttr: pick(|t| t.recover),
        rows: chosen
            .iter()
            .zip(&times)
            .map(|(i, t)| {
                json!({
                    "id": i.id, "severity": i.severity.as_str(), "phase": i.phase().as_str(),
                    "opened": i.entered(Phase::Detected).unwrap_or(i.first_seen).to_string(),
                    "title": i.title,
                    "mttd_seconds": t.detect, "mtta_seconds": t.acknowledge,
                    "mttc_seconds": t.contain, "mttr_seconds": t.recover,
                })
            })
            .collect(),
    }
}

/// `1h 02m`, `3m 05s`, `12.4s`, `—` for none.
pub fn duration(secs: Option<f64>) -> String {
    match secs {
        None => "—".into(),
        Some(s) if s < 1.0 => format!("{:.0}ms", s * 1000.0),
        Some(s) if s < 60.0 => format!("{s:.1}s"),
        Some(s) if s < 3600.0 => format!("{}m {:02}s", (s / 60.0) as u64, (s % 60.0) as u64),
        Some(s) if s < 86_400.0 => format!(
            "{}h {:02}m",
            (s / 3600.0) as u64,
            (s % 3600.0 / 60.0) as u64
        ),
        Some(s) => format!(
            "{}d {:02}h",
            (s / 86_400.0) as u64,
            (s % 86_400.0 / 3600.0) as u64
        ),
    }
}

impl Report {
    pub fn to_json(&self) -> Value {
        let st = |s: &Stat| json!({"incidents": s.count, "mean_seconds": s.mean, "median_seconds": s.median, "max_seconds": s.max});
        json!({
            "since": self.since.map(|t| t.to_string()),
            "until": self.until.map(|t| t.to_string()),
            "incidents": self.incidents,
            "by_severity": self.by_severity.iter().map(|(s, n)| (s.as_str().to_string(), json!(n))).collect::<serde_json::Map<_, _>>(),
            "by_phase": self.by_phase.iter().map(|(p, n)| (p.as_str().to_string(), json!(n))).collect::<serde_json::Map<_, _>>(),
            "mttd": st(&self.mttd), "mtta": st(&self.mtta), "mttc": st(&self.mttc), "mttr": st(&self.mttr),
            "per_incident": self.rows,
        })
    }

    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let period = match (self.since, self.until) {
            (None, None) => "all time".to_string(),
            (s, u) => format!(
                "{} to {}",
                s.map(|t| t.to_string()).unwrap_or("the beginning".into()),
                u.map(|t| t.to_string()).unwrap_or("now".into())
            ),
        };
        out.push_str(&format!("Incidents opened, {period}: {}\n", self.incidents));
        if self.incidents == 0 {
            return out;
        }
        let list = |xs: Vec<String>| xs.join(", ");
        out.push_str(&format!(
            "  by severity: {}\n  by phase:    {}\n\n",
            list(
                self.by_severity
                    .iter()
                    .map(|(s, n)| format!("{n} {}", s.as_str()))
                    .collect()
            ),
            list(
                self.by_phase
                    .iter()
                    .map(|(p, n)| format!("{n} {}", p.as_str()))
                    .collect()
            )
        ));
        out.push_str(&format!(
            "  {:<32} {:>9} {:>10} {:>10} {:>10}\n",
            "", "incidents", "mean", "median", "worst"
        ));
        for (name, s) in [
            ("MTTD  time to detect", &self.mttd),
            ("MTTA  time to acknowledge", &self.mtta),
            ("MTTC  time to contain", &self.mttc),
            ("MTTR  time to recover", &self.mttr),
        ] {
            out.push_str(&format!(
                "  {name:<32} {:>9} {:>10} {:>10} {:>10}\n",
                s.count,
                duration(s.mean),
                duration(s.median),
                duration(s.max)
            ));
        }
        out
    }
}
