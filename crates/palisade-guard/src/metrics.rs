//! `/metrics` in the Prometheus text format, under conventional names (`palisade_guard_…`,
//! `_total` counters, `_seconds` histograms). Label values are only ever configured names
//! (tenants, models) or fixed words (reasons, outcomes), never request data, so a hostile
//! client cannot grow the number of series.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::exponential_buckets;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

pub mod histogram;
use histogram::{Histogram, Shape};

type L1 = [(&'static str, String); 1];
type L2 = [(&'static str, String); 2];
type L3 = [(&'static str, String); 3];
type Hist<L> = Family<L, Histogram, Shape>;
type FloatGauge = Gauge<f64, AtomicU64>;

pub struct Metrics {
    registry: Registry,
    names: Vec<&'static str>,
    pub requests: Family<L3, Counter>,
    pub duration: Hist<L1>,
    pub upstream_duration: Hist<L1>,
    pub rejections: Family<L2, Counter>,
    pub rate_limited: Family<L1, Counter>,
    pub flagged: Family<L3, Counter>,
    pub ood_distance: Hist<L1>,
    pub drift_psi: Family<L1, FloatGauge>,
    pub drift_ks: Family<L1, FloatGauge>,
    pub drift_ks_p: Family<L1, FloatGauge>,
    pub probe_accuracy: Family<L1, FloatGauge>,
    pub probe_agreement: Family<L1, FloatGauge>,
    pub probe_runs: Family<L2, Counter>,
    pub upstream_errors: Family<L1, Counter>,
    pub circuit_open: Gauge,
    pub events: Family<L2, Counter>,
    pub events_dropped: Counter,
    pub redis_fallbacks: Counter,
    pub refusals_held: Gauge,
    pub reloads: Family<L1, Counter>,
}

/// A request's outcome, as `requests_total{outcome}` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Forwarded,
    Flagged,
    Rejected,
    Failed,
}

impl Outcome {
    const ALL: [Outcome; 4] = [
        Outcome::Forwarded,
        Outcome::Flagged,
        Outcome::Rejected,
        Outcome::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Forwarded => "forwarded",
            Outcome::Flagged => "flagged",
            Outcome::Rejected => "rejected",
            Outcome::Failed => "failed",
        }
    }
}

/// One model's series, found once per configuration instead of by label on every request.
pub struct ModelSeries {
    pub duration: Histogram,
    pub upstream_duration: Histogram,
    pub ood_distance: Histogram,
    /// `requests_total` by tenant (in the configuration's order) and [`Outcome`].
    requests: Vec<[Counter; 4]>,
}

impl ModelSeries {
    /// Counts a request of tenant number `tenant`.
    pub fn request(&self, tenant: usize, outcome: Outcome) {
        if let Some(by_outcome) = self.requests.get(tenant) {
            by_outcome[outcome as usize].inc();
        }
    }
}

/// Histograms of `bounds`, with a shard for each of `serving_threads` and one for every
/// other thread.
fn shape(bounds: impl Iterator<Item = f64>, serving_threads: usize) -> Shape {
    Shape {
        bounds: bounds.collect(),
        shards: serving_threads + 1,
    }
}

/// 50 µs … ~13 s.
fn latency(serving_threads: usize) -> Shape {
    shape(exponential_buckets(0.00005, 2.0, 19), serving_threads)
}

fn distance(serving_threads: usize) -> Shape {
    shape(exponential_buckets(1.0, 1.5, 16), serving_threads)
}

impl Metrics {
    /// The registry and its series; the per-request histograms have a shard for each of
    /// `serving_threads` (see [`crate::server::serving_thread`]).
    pub fn new(serving_threads: usize) -> Metrics {
        let mut registry = Registry::with_prefix("palisade_guard");
        let m = Metrics {
            requests: Family::default(),
            duration: Family::new_with_constructor(latency(serving_threads)),
            upstream_duration: Family::new_with_constructor(latency(serving_threads)),
            rejections: Family::default(),
            rate_limited: Family::default(),
            flagged: Family::default(),
            ood_distance: Family::new_with_constructor(distance(serving_threads)),
            drift_psi: Family::default(),
            drift_ks: Family::default(),
            drift_ks_p: Family::default(),
            probe_accuracy: Family::default(),
            probe_agreement: Family::default(),
            probe_runs: Family::default(),
            upstream_errors: Family::default(),
            circuit_open: Gauge::default(),
            events: Family::default(),
            events_dropped: Counter::default(),
            redis_fallbacks: Counter::default(),
            refusals_held: Gauge::default(),
            reloads: Family::default(),
            registry: Registry::default(),
            names: Vec::new(),
        };
        let r = &mut registry;
        let mut names = Vec::new();
        reg(
            r,
            &mut names,
            "requests",
            "Requests by tenant, model and outcome (forwarded, flagged, rejected, failed)",
            m.requests.clone(),
        );
        reg(
            r,
            &mut names,
            "request_duration_seconds",
            "Time from request to response through the guard, per model",
            m.duration.clone(),
        );
        reg(
            r,
            &mut names,
            "upstream_duration_seconds",
            "Time the model server took, per model",
            m.upstream_duration.clone(),
        );
        reg(
            r,
            &mut names,
            "rejections",
            "Requests refused, by tenant and reason",
            m.rejections.clone(),
        );
        reg(
            r,
            &mut names,
            "rate_limited",
            "Requests refused by a tenant's rate limit",
            m.rate_limited.clone(),
        );
        reg(
            r,
            &mut names,
            "flagged",
            "Requests forwarded with a flag, by tenant, model and reason",
            m.flagged.clone(),
        );
        reg(
            r,
            &mut names,
            "ood_distance",
            "Mahalanobis distance of each screened row to the training profile",
            m.ood_distance.clone(),
        );
        reg(
            r,
            &mut names,
            "drift_psi",
            "Population stability index of the last prediction window against the reference",
            m.drift_psi.clone(),
        );
        reg(
            r,
            &mut names,
            "drift_ks_statistic",
            "Kolmogorov-Smirnov statistic of the last prediction window against the reference",
            m.drift_ks.clone(),
        );
        reg(
            r,
            &mut names,
            "drift_ks_p_value",
            "Kolmogorov-Smirnov p-value of the last prediction window against the reference",
            m.drift_ks_p.clone(),
        );
        reg(
            r,
            &mut names,
            "probe_accuracy",
            "Accuracy of the last control-set probe",
            m.probe_accuracy.clone(),
        );
        reg(
            r,
            &mut names,
            "probe_agreement",
            "Share of control-set outputs equal to the recorded reference outputs",
            m.probe_agreement.clone(),
        );
        reg(
            r,
            &mut names,
            "probe_runs",
            "Control-set probe runs by model and result (ok, alert, failed)",
            m.probe_runs.clone(),
        );
        reg(
            r,
            &mut names,
            "upstream_errors",
            "Model-server failures by kind (connect, timeout, status, breaker_open, queue_full, bad_response, response_too_large)",
            m.upstream_errors.clone(),
        );
        reg(
            r,
            &mut names,
            "circuit_open",
            "1 while the upstream circuit breaker is open",
            m.circuit_open.clone(),
        );
        reg(
            r,
            &mut names,
            "events",
            "Security events written, by rule and action",
            m.events.clone(),
        );
        reg(
            r,
            &mut names,
            "events_dropped",
            "Events not delivered to the webhook because its queue was full",
            m.events_dropped.clone(),
        );
        reg(
            r,
            &mut names,
            "redis_fallbacks",
            "Rate-limit decisions taken locally because Redis did not answer",
            m.redis_fallbacks.clone(),
        );
        reg(
            r,
            &mut names,
            "refusals_held",
            "Refusals being held back now before they are sent (limits.refusal_delay_ms)",
            m.refusals_held.clone(),
        );
        reg(
            r,
            &mut names,
            "config_reloads",
            "Configuration reloads by result (ok, error)",
            m.reloads.clone(),
        );
        Metrics {
            registry,
            names,
            ..m
        }
    }

    /// The exported metric family names (`palisade_guard_requests`; counters gain `_total` in
    /// the exposition).
    pub fn families(&self) -> Vec<String> {
        self.names
            .iter()
            .map(|n| format!("palisade_guard_{n}"))
            .collect()
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }

    /// The series of `model` for these tenants (every tenant's requests start at 0).
    pub fn model_series<'a>(
        &self,
        model: &str,
        tenants: impl Iterator<Item = &'a str>,
    ) -> ModelSeries {
        let m = l1("model", model);
        ModelSeries {
            duration: self.duration.get_or_create_owned(&m),
            upstream_duration: self.upstream_duration.get_or_create_owned(&m),
            ood_distance: self.ood_distance.get_or_create_owned(&m),
            requests: tenants
                .map(|t| {
                    Outcome::ALL.map(|o| {
                        self.requests.get_or_create_owned(&l3(
                            "tenant",
                            t,
                            "model",
                            model,
                            "outcome",
                            o.as_str(),
                        ))
                    })
                })
                .collect(),
        }
    }
}

fn reg<M: prometheus_client::registry::Metric>(
    r: &mut Registry,
    names: &mut Vec<&'static str>,
    name: &'static str,
    help: &str,
    metric: M,
) {
    names.push(name);
    r.register(name, help, metric);
}

pub fn l1(k: &'static str, v: &str) -> L1 {
    [(k, v.to_string())]
}

pub fn l2(k1: &'static str, v1: &str, k2: &'static str, v2: &str) -> L2 {
    [(k1, v1.to_string()), (k2, v2.to_string())]
}

pub fn l3(
    k1: &'static str,
    v1: &str,
    k2: &'static str,
    v2: &str,
    k3: &'static str,
    v3: &str,
) -> L3 {
    [
        (k1, v1.to_string()),
        (k2, v2.to_string()),
        (k3, v3.to_string()),
    ]
}
