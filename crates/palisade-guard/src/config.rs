//! The guard's configuration: one TOML file, checked completely at start.
//!
//! Every mistake is reported with the key it is about (`tenants[1].api_key_sha256: …`), unknown
//! keys are errors (a misspelt limit must not silently mean "no limit"), and files the
//! configuration names (profiles, control sets, TLS material) are resolved relative to the
//! configuration file. `palisade guard check-config` runs exactly this.

use serde::Deserialize;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub server: Server,
    pub upstream: Upstream,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub tenants: Vec<Tenant>,
    #[serde(default)]
    pub models: Vec<Model>,
    #[serde(default)]
    pub events: Events,
    pub redis: Option<Redis>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Server {
    /// Address the gateway listens on (`127.0.0.1:8080`, `0.0.0.0:8443`).
    pub listen: SocketAddr,
    /// Serve `/metrics` and `/healthz` on this separate address instead of the main one.
    pub admin_listen: Option<SocketAddr>,
    pub tls: Option<Tls>,
    /// Seconds between checks of the configuration file for changes (0: never; SIGHUP always
    /// reloads).
    #[serde(default = "default_reload_seconds")]
    pub reload_seconds: u64,
    /// Threads serving `listen`, each with its own event loop and its own connection pool to
    /// the model server, so a request is served start to end on one thread (default: one
    /// per CPU core).
    pub workers: Option<usize>,
    /// Longest a client may take, from connecting (or from the last answer on a kept-alive
    /// HTTP/1.1 connection), to send a request's whole head; a connection that sends nothing
    /// is closed after it too.
    #[serde(default = "default_client_timeout_ms")]
    pub header_timeout_ms: u64,
    /// Client connections open at once (all serving threads together); at the limit the
    /// guard stops accepting until one closes, and new ones wait in the kernel's backlog.
    #[serde(default = "default_server_max_connections")]
    pub max_connections: usize,
}

impl Server {
    /// The number of serving threads: `workers`, or one per CPU core.
    pub fn worker_count(&self) -> usize {
        self.workers.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// CA certificates for client certificates: set, the guard requires mTLS and a tenant may
    /// be identified by its certificate's subject.
    pub client_ca: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    /// TF Serving REST: `/v1/models/NAME[/versions/N|/labels/L]:predict`.
    Tfserving,
    /// KServe / Open Inference Protocol v2: `/v2/models/NAME[/versions/V]/infer`.
    KserveV2,
    /// Any JSON API (Flask, FastAPI): each model names its route and JSON pointers.
    Json,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tfserving => "tfserving",
            Protocol::KserveV2 => "kserve-v2",
            Protocol::Json => "json",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Upstream {
    /// `http://host:port` of the model server.
    pub url: String,
    pub protocol: Protocol,
    #[serde(default = "default_connect_timeout_ms")]
    pub connect_timeout_ms: u64,
    /// The deadline of each request to the model server, from when it is sent (connecting
    /// included) to the last byte of its answer; past it, the tenant gets 504.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Requests in flight to the upstream at once, all serving threads together; more wait up
    /// to `queue_timeout_ms`, then get 503. Each serving thread keeps up to its share of this
    /// many (`max_connections / workers`) open between requests.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    #[serde(default = "default_queue_timeout_ms")]
    pub queue_timeout_ms: u64,
    /// Consecutive upstream failures that open the circuit breaker (0: no breaker).
    #[serde(default = "default_breaker_failures")]
    pub breaker_failures: u32,
    /// How long an open breaker answers 503 before letting one trial request through.
    #[serde(default = "default_breaker_open_ms")]
    pub breaker_open_ms: u64,
}

/// Limits every tenant gets unless its own entry overrides them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: usize,
    #[serde(default = "default_max_json_depth")]
    pub max_json_depth: usize,
    #[serde(default = "default_max_json_elements")]
    pub max_json_elements: usize,
    /// Rows in one request.
    #[serde(default = "default_max_batch")]
    pub max_batch: usize,
    /// Accept TF Serving's `NaN` / `Infinity` tokens, and numbers too large for an f64 such
    /// as `1e999` (they still fail range checks).
    #[serde(default)]
    pub allow_non_finite: bool,
    #[serde(default = "default_rate")]
    pub requests_per_second: f64,
    #[serde(default = "default_burst")]
    pub burst: u32,
    #[serde(default = "default_max_concurrent")]
    pub max_concurrent: usize,
    /// Longest a tenant's rate- or concurrency-limit refusal (429) is held before it is sent
    /// (between half and all of it, at random), like HAProxy's tarpit: a client that retries
    /// in a tight loop instead of waiting for `Retry-After` is slowed to a few attempts per
    /// connection per second, so its refusals do not take the CPU other tenants' requests
    /// need. 0 answers at once.
    #[serde(default = "default_refusal_delay_ms")]
    pub refusal_delay_ms: u64,
    /// Longest the request body may take to arrive in full after its head; slower gets 408.
    #[serde(default = "default_client_timeout_ms")]
    pub body_timeout_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: default_max_body_bytes(),
            max_json_depth: default_max_json_depth(),
            max_json_elements: default_max_json_elements(),
            max_batch: default_max_batch(),
            allow_non_finite: false,
            requests_per_second: default_rate(),
            burst: default_burst(),
            max_concurrent: default_max_concurrent(),
            refusal_delay_ms: default_refusal_delay_ms(),
            body_timeout_ms: default_client_timeout_ms(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tenant {
    pub name: String,
    /// SHA-256 (hex) of the tenant's API key; `palisade guard hash-key` prints it. The key
    /// itself is never stored.
    pub api_key_sha256: Option<String>,
    /// With `server.tls.client_ca`: a client certificate whose subject common name is this
    /// identifies the tenant.
    pub mtls_common_name: Option<String>,
    /// Models this tenant may call (all when absent).
    pub models: Option<Vec<String>>,
    pub requests_per_second: Option<f64>,
    pub burst: Option<u32>,
    pub max_concurrent: Option<usize>,
}

/// What to do when a check fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnViolation {
    /// Write the event only.
    Log,
    /// Forward, add `x-palisade-flag` to the response, write the event.
    Flag,
    /// Answer 422 without forwarding, write the event.
    Reject,
}

impl OnViolation {
    pub fn as_str(self) -> &'static str {
        match self {
            OnViolation::Log => "log",
            OnViolation::Flag => "flag",
            OnViolation::Reject => "reject",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Model {
    pub name: String,
    /// Json protocol: the request path this model is served on (`/predict`).
    pub route: Option<String>,
    /// Json protocol: JSON pointer to the features (one row or an array of rows).
    /// TF Serving: the named input to read from `instances`/`inputs` objects.
    /// KServe v2: the name of the input tensor (the first one when absent).
    pub input: Option<String>,
    /// Json protocol: JSON pointer to the predictions in the response.
    pub output: Option<String>,
    /// Training profile written by `palisade guard profile`.
    pub profile: Option<PathBuf>,
    #[serde(default)]
    pub screening: Screening,
    pub drift: Option<Drift>,
    pub probe: Option<Probe>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Screening {
    /// Values outside the training range widened by this fraction of it on each side.
    #[serde(default = "default_range_margin")]
    pub range_margin: f64,
    #[serde(default = "default_range_action")]
    pub out_of_range: OnViolation,
    /// Mahalanobis distance thresholds: a number, or a quantile of the profile's held-out
    /// distances (`"p99"`, `"p99.9"`, `"max"`), optionally times a factor (`"1.5*p99.9"`).
    pub flag_above: Option<String>,
    pub reject_above: Option<String>,
}

impl Default for Screening {
    fn default() -> Self {
        Screening {
            range_margin: default_range_margin(),
            out_of_range: default_range_action(),
            flag_above: Some("p99.9".into()),
            reject_above: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Drift {
    /// Predictions per window compared with the reference.
    #[serde(default = "default_drift_window")]
    pub window: usize,
    /// Population stability index at or above which drift is raised.
    #[serde(default = "default_psi_alert")]
    pub psi_alert: f64,
    /// KS-test p-value below which drift is raised.
    #[serde(default = "default_ks_p_alert")]
    pub ks_p_alert: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Probe {
    /// JSON file: `{"inputs": [[…]…], "labels": […], "reference_outputs": […]}`.
    pub control_set: PathBuf,
    #[serde(default = "default_probe_interval")]
    pub interval_seconds: u64,
    /// Accuracy on the control set below which an event is raised.
    #[serde(default = "default_min_accuracy")]
    pub min_accuracy: f64,
    /// Share of outputs equal to the recorded reference outputs below which an event is raised.
    #[serde(default = "default_min_agreement")]
    pub min_agreement: f64,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Events {
    /// Write events as JSON lines to stdout (default true).
    pub stdout: Option<bool>,
    /// POST each event as JSON to this `http://` URL (bounded queue; dropped events are counted).
    pub webhook: Option<String>,
    /// The environment variable holding a bearer token for the webhook (`palisade respond
    /// serve` requires one); the token itself never sits in the file.
    pub webhook_token_env: Option<String>,
}

impl Events {
    /// The webhook's bearer token, read from `webhook_token_env`.
    pub fn webhook_token(&self) -> Result<Option<String>, String> {
        match &self.webhook_token_env {
            None => Ok(None),
            Some(var) => std::env::var(var)
                .ok()
                .filter(|t| !t.trim().is_empty())
                .map(|t| Some(t.trim().to_string()))
                .ok_or_else(|| {
                    format!("events.webhook_token_env: the environment variable {var} is not set")
                }),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Redis {
    /// `redis://host:port[/db]`: rate limits shared by every replica using the same Redis.
    pub url: String,
    #[serde(default = "default_redis_prefix")]
    pub prefix: String,
    #[serde(default = "default_redis_timeout_ms")]
    pub timeout_ms: u64,
}

/// The longest a refusal may be held.
const MAX_REFUSAL_DELAY_MS: u64 = 10_000;

/// More serving threads than this only cost memory.
const MAX_WORKERS: usize = 256;

fn default_refusal_delay_ms() -> u64 {
    250
}
/// How long a client has for a request's head, and for its body.
fn default_client_timeout_ms() -> u64 {
    30_000
}
fn default_server_max_connections() -> usize {
    10_000
}
fn default_reload_seconds() -> u64 {
    2
}
fn default_connect_timeout_ms() -> u64 {
    1000
}
fn default_timeout_ms() -> u64 {
    10_000
}
fn default_max_connections() -> usize {
    64
}
fn default_queue_timeout_ms() -> u64 {
    1000
}
fn default_breaker_failures() -> u32 {
    5
}
fn default_breaker_open_ms() -> u64 {
    5000
}
fn default_max_body_bytes() -> usize {
    1 << 20
}
fn default_max_json_depth() -> usize {
    16
}
fn default_max_json_elements() -> usize {
    200_000
}
fn default_max_batch() -> usize {
    256
}
fn default_rate() -> f64 {
    100.0
}
fn default_burst() -> u32 {
    50
}
fn default_max_concurrent() -> usize {
    32
}
fn default_range_margin() -> f64 {
    0.05
}
fn default_range_action() -> OnViolation {
    OnViolation::Flag
}
fn default_drift_window() -> usize {
    500
}
fn default_psi_alert() -> f64 {
    0.25
}
fn default_ks_p_alert() -> f64 {
    0.001
}
fn default_probe_interval() -> u64 {
    60
}
fn default_min_accuracy() -> f64 {
    0.9
}
fn default_min_agreement() -> f64 {
    0.98
}
fn default_redis_prefix() -> String {
    "palisade:guard:".into()
}
fn default_redis_timeout_ms() -> u64 {
    50
}

impl Config {
    /// Reads, parses and validates the file; relative paths in it become relative to it.
    pub fn load(path: &Path) -> Result<Config, String> {
        let (mut cfg, base) = palisade_core::config::load_with(path, Config::parse)?;
        cfg.resolve_paths(base);
        Ok(cfg)
    }

    /// Parses and validates TOML text (paths stay as written).
    pub fn parse(text: &str) -> Result<Config, String> {
        let cfg: Config = toml::from_str(text).map_err(|e| e.to_string())?;
        cfg.validate()?;
        Ok(cfg)
    }

    fn resolve_paths(&mut self, base: &Path) {
        let fix = |p: &mut PathBuf| palisade_core::config::resolve_relative(base, p);
        if let Some(tls) = &mut self.server.tls {
            fix(&mut tls.cert);
            fix(&mut tls.key);
            if let Some(ca) = &mut tls.client_ca {
                fix(ca);
            }
        }
        for m in &mut self.models {
            if let Some(p) = &mut m.profile {
                fix(p);
            }
            if let Some(p) = &mut m.probe {
                fix(&mut p.control_set);
            }
        }
    }

    fn validate(&self) -> Result<(), String> {
        if let Some(w) = self.server.workers
            && !(1..=MAX_WORKERS).contains(&w)
        {
            return Err(format!(
                "server.workers: {w}; give between 1 and {MAX_WORKERS} (or leave it out for one \
                 per CPU core)"
            ));
        }
        positive(
            "server.header_timeout_ms",
            self.server.header_timeout_ms as f64,
        )?;
        positive("server.max_connections", self.server.max_connections as f64)?;
        let up = &self.upstream;
        if !up.url.starts_with("http://") {
            return Err(format!(
                "upstream.url: '{}' must start with http:// (the guard terminates TLS; the hop \
                 to the model server is loopback or in-cluster)",
                up.url
            ));
        }
        up.url
            .parse::<hyper::Uri>()
            .map_err(|e| format!("upstream.url: '{}' is not a URL: {e}", up.url))?;
        positive("upstream.timeout_ms", up.timeout_ms as f64)?;
        positive("upstream.connect_timeout_ms", up.connect_timeout_ms as f64)?;
        positive("upstream.max_connections", up.max_connections as f64)?;
        let l = &self.limits;
        positive("limits.max_body_bytes", l.max_body_bytes as f64)?;
        positive("limits.max_json_depth", l.max_json_depth as f64)?;
        positive("limits.max_json_elements", l.max_json_elements as f64)?;
        positive("limits.max_batch", l.max_batch as f64)?;
        positive("limits.requests_per_second", l.requests_per_second)?;
        positive("limits.max_concurrent", l.max_concurrent as f64)?;
        positive("limits.body_timeout_ms", l.body_timeout_ms as f64)?;
        if l.refusal_delay_ms > MAX_REFUSAL_DELAY_MS {
            return Err(format!(
                "limits.refusal_delay_ms: {} ms; at most {MAX_REFUSAL_DELAY_MS} (the refusal \
                 says Retry-After in seconds; holding it longer only holds connections)",
                l.refusal_delay_ms
            ));
        }
        if self.tenants.is_empty() {
            return Err(
                "tenants: at least one [[tenants]] entry is needed (the guard rejects \
                        every request from an unknown tenant)"
                    .into(),
            );
        }
        let mtls = self
            .server
            .tls
            .as_ref()
            .is_some_and(|t| t.client_ca.is_some());
        let mut names = HashSet::new();
        let mut keys = HashSet::new();
        for (i, t) in self.tenants.iter().enumerate() {
            let at = format!("tenants[{i}]");
            if t.name.trim().is_empty() {
                return Err(format!("{at}.name: must not be empty"));
            }
            crate::tenant::header_value(&t.name, &at)?;
            if !names.insert(t.name.as_str()) {
                return Err(format!("{at}.name: tenant '{}' is listed twice", t.name));
            }
            crate::tenant::check_caller(
                &at,
                &format!("tenant '{}'", t.name),
                "api_key_sha256",
                t.api_key_sha256.as_deref(),
                t.mtls_common_name.as_deref(),
                mtls,
                "server.tls.client_ca",
            )?;
            if let Some(h) = &t.api_key_sha256
                && !keys.insert(h.to_ascii_lowercase())
            {
                return Err(format!(
                    "{at}.api_key_sha256: the same key is given to two tenants"
                ));
            }
            if let Some(r) = t.requests_per_second {
                positive(&format!("{at}.requests_per_second"), r)?;
            }
            if let Some(c) = t.max_concurrent {
                positive(&format!("{at}.max_concurrent"), c as f64)?;
            }
        }
        let mut models = HashSet::new();
        for (i, m) in self.models.iter().enumerate() {
            let at = format!("models[{i}]");
            if !models.insert(m.name.as_str()) {
                return Err(format!("{at}.name: model '{}' is listed twice", m.name));
            }
            if up.protocol == Protocol::Json {
                let route = m.route.as_deref().ok_or_else(|| {
                    format!("{at}.route: upstream.protocol = \"json\" needs each model's route")
                })?;
                if !route.starts_with('/') {
                    return Err(format!("{at}.route: '{route}' must start with '/'"));
                }
                let input = m.input.as_deref().ok_or_else(|| {
                    format!(
                        "{at}.input: upstream.protocol = \"json\" needs a JSON pointer to the \
                         features (\"/features\")"
                    )
                })?;
                if !input.is_empty() && !input.starts_with('/') {
                    return Err(format!("{at}.input: '{input}' is not a JSON pointer"));
                }
            } else if m.route.is_some() {
                return Err(format!(
                    "{at}.route: only for upstream.protocol = \"json\"; {} routes come from the \
                     model name",
                    up.protocol.as_str()
                ));
            }
            let s = &m.screening;
            if !(0.0..=10.0).contains(&s.range_margin) {
                return Err(format!(
                    "{at}.screening.range_margin: must be between 0 and 10"
                ));
            }
            for (key, v) in [
                ("flag_above", &s.flag_above),
                ("reject_above", &s.reject_above),
            ] {
                if let Some(v) = v {
                    Threshold::parse(v).map_err(|e| format!("{at}.screening.{key}: {e}"))?;
                }
            }
            // flag_above has a default, so only reject_above says the user expects screening.
            if s.reject_above.is_some() && m.profile.is_none() {
                return Err(format!(
                    "{at}.screening.reject_above: needs {at}.profile (distances are measured \
                     against the training profile)"
                ));
            }
            if let Some(d) = &m.drift {
                positive(&format!("{at}.drift.window"), d.window as f64)?;
                if !(0.0..1.0).contains(&d.ks_p_alert) {
                    return Err(format!("{at}.drift.ks_p_alert: must be in [0, 1)"));
                }
            }
            if let Some(p) = &m.probe {
                positive(
                    &format!("{at}.probe.interval_seconds"),
                    p.interval_seconds as f64,
                )?;
                for (key, v) in [
                    ("min_accuracy", p.min_accuracy),
                    ("min_agreement", p.min_agreement),
                ] {
                    if !(0.0..=1.0).contains(&v) {
                        return Err(format!("{at}.probe.{key}: must be between 0 and 1"));
                    }
                }
            }
        }
        for (i, t) in self.tenants.iter().enumerate() {
            for m in t.models.iter().flatten() {
                if !models.contains(m.as_str()) {
                    return Err(format!(
                        "tenants[{i}].models: '{m}' is not one of the [[models]]"
                    ));
                }
            }
        }
        if let Some(w) = &self.events.webhook
            && !w.starts_with("http://")
        {
            return Err(format!("events.webhook: '{w}' must be an http:// URL"));
        }
        if let Some(r) = &self.redis {
            crate::limit::redis::Address::parse(&r.url).map_err(|e| format!("redis.url: {e}"))?;
        }
        Ok(())
    }

    pub fn model(&self, name: &str) -> Option<&Model> {
        self.models.iter().find(|m| m.name == name)
    }
}

fn positive(key: &str, v: f64) -> Result<(), String> {
    if v > 0.0 && v.is_finite() {
        Ok(())
    } else {
        Err(format!("{key}: must be greater than 0"))
    }
}

/// A distance threshold: absolute, or relative to the profile's held-out quantiles.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Threshold {
    Absolute(f64),
    /// `factor * quantile` (quantile as a fraction; 1.0 is the maximum).
    Quantile {
        quantile: f64,
        factor: f64,
    },
}

impl Threshold {
    pub fn parse(text: &str) -> Result<Threshold, String> {
        let text = text.trim();
        if let Ok(v) = text.parse::<f64>() {
            return if v > 0.0 && v.is_finite() {
                Ok(Threshold::Absolute(v))
            } else {
                Err(format!("'{text}' must be a positive distance"))
            };
        }
        let (factor, q) = match text.split_once('*') {
            Some((f, q)) => (
                f.trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|f| *f > 0.0 && f.is_finite())
                    .ok_or_else(|| format!("'{text}': the factor must be a positive number"))?,
                q.trim(),
            ),
            None => (1.0, text),
        };
        let quantile = if q == "max" {
            1.0
        } else {
            q.strip_prefix('p')
                .and_then(|p| p.parse::<f64>().ok())
                .filter(|p| *p > 0.0 && *p <= 100.0)
                .map(|p| p / 100.0)
                .ok_or_else(|| {
                    format!("'{text}' is not a distance, a quantile (p99, p99.9, max) or FACTOR*QUANTILE")
                })?
        };
        Ok(Threshold::Quantile { quantile, factor })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae";

    fn minimal(extra: &str) -> String {
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n[upstream]\nurl = \"http://127.0.0.1:9\"\n\
             protocol = \"tfserving\"\n[[tenants]]\nname = \"a\"\napi_key_sha256 = \"{KEY}\"\n{extra}"
        )
    }

    #[test]
    fn a_minimal_file_gets_safe_defaults() {
        let cfg = Config::parse(&minimal("")).unwrap();
        assert_eq!(cfg.limits.max_body_bytes, 1 << 20);
        assert!(!cfg.limits.allow_non_finite);
        assert_eq!(cfg.upstream.breaker_failures, 5);
        assert_eq!(cfg.limits.refusal_delay_ms, 250);
        assert_eq!(cfg.limits.body_timeout_ms, 30_000);
        assert_eq!(cfg.server.header_timeout_ms, 30_000);
        assert_eq!(cfg.server.max_connections, 10_000);
        assert!(cfg.server.worker_count() >= 1);
    }

    #[test]
    fn errors_name_the_key() {
        let cases = [
            ("[limits]\nmax_batch = 0\n", "limits.max_batch"),
            ("[limits]\nmax_bodybytes = 5\n", "max_bodybytes"),
            (
                "[[tenants]]\nname = \"b\"\napi_key_sha256 = \"secret\"\n",
                "tenants[1].api_key_sha256",
            ),
            (
                "[[tenants]]\nname = \"a\"\napi_key_sha256 = \"x\"\n",
                "tenants[1].name",
            ),
            (
                "[[models]]\nname = \"m\"\n[models.screening]\nflag_above = \"p101\"\n",
                "models[0].screening.flag_above",
            ),
            ("[[tenants]]\nname = \"c\"\n", "tenants[1]"),
            (
                "[[tenants]]\nname = \"team\\nb\"\nmtls_common_name = \"c\"\n",
                "tenants[1].name: 'team\\nb' has a control character",
            ),
            (
                "[limits]\nrefusal_delay_ms = 60000\n",
                "limits.refusal_delay_ms",
            ),
            ("[limits]\nbody_timeout_ms = 0\n", "limits.body_timeout_ms"),
        ];
        for (extra, key) in cases {
            let err = Config::parse(&minimal(extra)).unwrap_err();
            assert!(err.contains(key), "{extra:?}: {err}");
        }
        for workers in ["0", "100000"] {
            let text =
                minimal("").replace("[server]\n", &format!("[server]\nworkers = {workers}\n"));
            let err = Config::parse(&text).unwrap_err();
            assert!(err.contains("server.workers"), "{err}");
        }
        for key in ["header_timeout_ms", "max_connections"] {
            let text = minimal("").replace("[server]\n", &format!("[server]\n{key} = 0\n"));
            let err = Config::parse(&text).unwrap_err();
            assert_eq!(err, format!("server.{key}: must be greater than 0"));
        }
        let text = minimal("").replace("[server]\n", "[server]\nworkers = 3\n");
        assert_eq!(Config::parse(&text).unwrap().server.worker_count(), 3);
    }

    #[test]
    fn thresholds() {
        assert_eq!(Threshold::parse("12.5"), Ok(Threshold::Absolute(12.5)));
        assert_eq!(
            Threshold::parse("1.5*p99"),
            Ok(Threshold::Quantile {
                quantile: 0.99,
                factor: 1.5
            })
        );
        assert_eq!(
            Threshold::parse("max"),
            Ok(Threshold::Quantile {
                quantile: 1.0,
                factor: 1.0
            })
        );
        assert!(Threshold::parse("-1").is_err());
        assert!(Threshold::parse("p0").is_err());
    }
}
