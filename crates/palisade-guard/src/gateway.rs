//! One request through the guard, in the order the checks meet it: route → tenant →
//! model permission → rate limit → concurrency → body and JSON limits → features and schema →
//! range and distance screening → upstream → prediction drift. Every refusal is a JSON answer
//! naming the rule and the reason, an event and a metric.

use crate::body::{BodyError, RequestBody};
use crate::config::{Config, Model, OnViolation, Threshold};
use crate::drift;
use crate::events::{Sink, event};
use crate::json;
use crate::limit::{InFlight, Limiter, TenantState};
use crate::message::{Answer, RequestHead, one_of};
use crate::metrics::{Metrics, ModelSeries, Outcome, l1, l2, l3};
use crate::probe::ControlSet;
use crate::profile::Profile;
use crate::protocol::{self, Route, V2Schema};
use crate::rules;
use crate::tenant::{Directory, presented_key};
use crate::upstream::Upstream;
use hyper::StatusCode;
use hyper::header::{HeaderName, HeaderValue};
use palisade_core::RuleMeta;
use palisade_core::event::Action;
use prometheus_client::metrics::gauge::Gauge;
use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

/// A model's v2 schema when it was fetched (`None`: the server had none).
type CachedSchema = (Instant, Option<Arc<V2Schema>>);

/// How long a model server's v2 schema (or its absence) is kept.
const SCHEMA_TTL: Duration = Duration::from_secs(60);

/// Refusals held back at once (`limits.refusal_delay_ms`); beyond this they are sent at once,
/// so holding them never costs more than this many waiting answers.
const MAX_HELD_REFUSALS: i64 = 4096;

/// What the configuration turns into for serving: looked up per request, swapped on reload.
pub struct Runtime {
    pub cfg: Config,
    dir: Directory,
    /// Each tenant's name as its [`TENANT_HEADER`] value, by tenant index.
    tenant_headers: Vec<HeaderValue>,
    /// Each tenant's rate and concurrency state, by tenant index: found by name in the
    /// [`Limiter`] (which keeps it across reloads) on the tenant's first request under this
    /// configuration, not on every request.
    limit_states: Vec<OnceLock<Arc<TenantState>>>,
    models: HashMap<String, Arc<ModelRuntime>>,
}

pub struct ModelRuntime {
    pub cfg: Model,
    pub profile: Option<Profile>,
    /// The probe's control set, read when the configuration is loaded.
    pub control_set: Option<Arc<ControlSet>>,
    flag_above: Option<f64>,
    reject_above: Option<f64>,
    pub drift: Option<Arc<drift::Tracker>>,
    /// This model's metric series, found on first use.
    series: OnceLock<ModelSeries>,
}

impl Runtime {
    /// Loads the profiles and control sets the configuration names (this is where a
    /// configuration is checked against its files, at start, reload and `check-config`); drift
    /// state carries over from `previous` for models whose drift window is unchanged.
    pub fn build(cfg: Config, previous: Option<&Runtime>) -> Result<Runtime, String> {
        let mut models = HashMap::new();
        for (i, m) in cfg.models.iter().enumerate() {
            let profile = match &m.profile {
                Some(p) => Some(Profile::load(p).map_err(|e| format!("models[{i}].profile: {e}"))?),
                None => None,
            };
            let control_set = match &m.probe {
                Some(p) => {
                    Some(Arc::new(ControlSet::load(&p.control_set).map_err(|e| {
                        format!("models[{i}].probe.control_set: {e}")
                    })?))
                }
                None => None,
            };
            let resolve = |t: &Option<String>| -> Option<f64> {
                let t = Threshold::parse(t.as_deref()?).ok()?;
                Some(profile.as_ref()?.threshold(t))
            };
            let carried = previous
                .and_then(|p| p.models.get(&m.name))
                .filter(|old| {
                    old.cfg.drift.as_ref().map(|d| d.window) == m.drift.as_ref().map(|d| d.window)
                })
                .and_then(|old| old.drift.clone());
            let drift = m.drift.as_ref().map(|d| {
                carried.unwrap_or_else(|| {
                    Arc::new(drift::Tracker::new(
                        d.window,
                        profile
                            .as_ref()
                            .and_then(|p| p.reference_predictions.clone()),
                    ))
                })
            });
            models.insert(
                m.name.clone(),
                Arc::new(ModelRuntime {
                    flag_above: resolve(&m.screening.flag_above),
                    reject_above: resolve(&m.screening.reject_above),
                    cfg: m.clone(),
                    profile,
                    control_set,
                    drift,
                    series: OnceLock::new(),
                }),
            );
        }
        let tenant_headers = cfg
            .tenants
            .iter()
            .enumerate()
            .map(|(i, t)| crate::tenant::header_value(&t.name, &format!("tenants[{i}]")))
            .collect::<Result<_, _>>()?;
        Ok(Runtime {
            dir: Directory::new(&cfg.tenants),
            tenant_headers,
            limit_states: cfg.tenants.iter().map(|_| OnceLock::new()).collect(),
            cfg,
            models,
        })
    }

    /// Tenant `tenant`'s limiter state.
    fn limit_state(&self, limiter: &Limiter, tenant: usize) -> &Arc<TenantState> {
        self.limit_states[tenant].get_or_init(|| limiter.state(&self.cfg.tenants[tenant].name))
    }

    pub fn model(&self, name: &str) -> Option<&Arc<ModelRuntime>> {
        self.models.get(name)
    }

    pub fn models(&self) -> impl Iterator<Item = &Arc<ModelRuntime>> {
        self.models.values()
    }
}

pub struct Gateway {
    pub runtime: RwLock<Arc<Runtime>>,
    pub limiter: Limiter,
    pub upstream: Upstream,
    pub metrics: Arc<Metrics>,
    pub events: Sink,
    schemas: Mutex<HashMap<String, CachedSchema>>,
}

/// A refusal: status, rule, the metric's reason word and the message the client reads.
struct Refusal {
    status: StatusCode,
    rule: &'static RuleMeta,
    reason: &'static str,
    message: String,
    retry_after: Option<u64>,
    /// A tenant over its own limits: the answer is held for `limits.refusal_delay_ms`.
    held: bool,
}

impl Refusal {
    fn new(
        status: StatusCode,
        rule: &'static RuleMeta,
        reason: &'static str,
        message: String,
    ) -> Refusal {
        Refusal {
            status,
            rule,
            reason,
            message,
            retry_after: None,
            held: false,
        }
    }

    /// A tenant over its own rate or concurrency limit: 429, held for
    /// `limits.refusal_delay_ms` before it is sent.
    fn over_limit(rule: &'static RuleMeta, reason: &'static str, message: String) -> Refusal {
        Refusal {
            held: true,
            ..Refusal::new(StatusCode::TOO_MANY_REQUESTS, rule, reason, message)
        }
    }
}

/// Counts a held refusal (`palisade_guard_refusals_held`) for as long as it is held, even
/// when the client goes away first.
struct Holding<'a>(&'a Gauge);

impl Drop for Holding<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// A check that fired without refusing: the response carries it in `x-palisade-flag`.
struct Flag {
    rule: &'static RuleMeta,
    reason: &'static str,
    action: OnViolation,
    message: String,
    details: Vec<(&'static str, serde_json::Value)>,
}

/// Request headers never forwarded to the model server (nor are `Host` and the connection's
/// own fields, which the HTTP/1.1 client leaves out and writes itself, nor those the
/// request's `Connection` names).
const STRIPPED: [&str; 4] = [
    "authorization",
    "proxy-authorization",
    "x-api-key",
    TENANT_HEADER,
];

/// The header that tells the model server which tenant is calling.
pub const TENANT_HEADER: &str = "x-palisade-tenant";

impl Gateway {
    /// `workers`: the serving threads, each of which gets its own upstream pool.
    pub fn new(
        runtime: Runtime,
        metrics: Arc<Metrics>,
        events: Sink,
        workers: usize,
    ) -> Result<Gateway, String> {
        Ok(Gateway {
            limiter: Limiter::new(runtime.cfg.redis.as_ref())?,
            upstream: Upstream::new(&runtime.cfg.upstream, workers)?,
            runtime: RwLock::new(Arc::new(runtime)),
            metrics,
            events,
            schemas: Mutex::new(HashMap::new()),
        })
    }

    pub fn current(&self) -> Arc<Runtime> {
        self.runtime
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Serves one request. `client_cn` is the verified client certificate's common name.
    pub async fn handle<B: RequestBody>(
        &self,
        head: RequestHead,
        body: B,
        client_cn: Option<String>,
    ) -> Answer {
        let start = Instant::now();
        let rt = self.current();
        let route = protocol::route(
            rt.cfg.upstream.protocol,
            &head.method,
            head.uri.path(),
            &rt.cfg.models,
        );
        let model = match &route {
            Route::Infer(m) | Route::ModelInfo(m) => rt.model(m).cloned(),
            _ => None,
        };
        let mut tenant = None;
        let result = self
            .serve(
                &rt,
                &head,
                body,
                route,
                model.as_ref(),
                client_cn,
                &mut tenant,
            )
            .await;
        let tenant_label = || tenant.map_or("unknown", |t| rt.cfg.tenants[t].name.as_str());
        let mut hold_ms = 0;
        let (response, outcome) = match result {
            Ok((resp, flagged)) => {
                let outcome = if resp.status.is_server_error() {
                    Outcome::Failed
                } else if flagged {
                    Outcome::Flagged
                } else {
                    Outcome::Forwarded
                };
                (resp, outcome)
            }
            Err(refusal) => {
                let outcome = if refusal.status.is_server_error() {
                    Outcome::Failed
                } else {
                    Outcome::Rejected
                };
                self.metrics
                    .rejections
                    .get_or_create(&l2("tenant", tenant_label(), "reason", refusal.reason))
                    .inc();
                let mut body = serde_json::json!({
                    "error": refusal.message,
                    "rule": refusal.rule.code,
                    "reason": refusal.reason,
                });
                if let Some(s) = refusal.retry_after {
                    body["retry_after_seconds"] = s.into();
                }
                let mut resp = Answer::json(refusal.status, &body);
                if let Some(s) = refusal.retry_after {
                    resp.headers
                        .insert(hyper::header::RETRY_AFTER, HeaderValue::from(s));
                }
                if refusal.held {
                    hold_ms = rt.cfg.limits.refusal_delay_ms;
                }
                (resp, outcome)
            }
        };
        let elapsed = start.elapsed().as_secs_f64();
        match (&model, tenant) {
            (Some(m), Some(t)) => {
                let series = self.series(&rt, m);
                series.request(t, outcome);
                series.duration.observe(elapsed);
            }
            _ => {
                let model_label = model.as_ref().map_or("-", |m| m.cfg.name.as_str());
                self.metrics
                    .requests
                    .get_or_create(&l3(
                        "tenant",
                        tenant_label(),
                        "model",
                        model_label,
                        "outcome",
                        outcome.as_str(),
                    ))
                    .inc();
                self.metrics
                    .duration
                    .get_or_create(&l1("model", model_label))
                    .observe(elapsed);
            }
        }
        self.hold(hold_ms).await;
        response
    }

    /// `model`'s metric series under the configuration `rt`.
    fn series<'a>(&self, rt: &Runtime, model: &'a ModelRuntime) -> &'a ModelSeries {
        model.series.get_or_init(|| {
            self.metrics.model_series(
                &model.cfg.name,
                rt.cfg.tenants.iter().map(|t| t.name.as_str()),
            )
        })
    }

    /// Holds a refusal back for between half and all of `max_ms` (`limits.refusal_delay_ms`),
    /// at random so that clients held together do not come back together, unless
    /// [`MAX_HELD_REFUSALS`] already are.
    async fn hold(&self, max_ms: u64) {
        if max_ms == 0 {
            return;
        }
        let held = &self.metrics.refusals_held;
        let holding = Holding(held);
        if held.inc() >= MAX_HELD_REFUSALS {
            return;
        }
        let random = RandomState::new().hash_one(Instant::now());
        let ms = max_ms / 2 + random % (max_ms - max_ms / 2 + 1);
        tokio::time::sleep(Duration::from_millis(ms)).await;
        drop(holding);
    }

    /// Counts and reports a request the HTTP/1.1 server refused before it could be read
    /// (GRD013): the tenant is unknown then, as the head was never accepted.
    pub fn refused_unread(&self, status: StatusCode, reason: &'static str, message: &str) {
        self.metrics
            .rejections
            .get_or_create(&l2("tenant", "unknown", "reason", reason))
            .inc();
        self.events.request(
            event(&rules::malformed_http::RULE, Action::Rejected, message)
                .detail("reason", reason)
                .detail("status", status.as_u16()),
        );
    }

    /// Emits the event for a refusal and passes it on.
    fn refuse(&self, r: Refusal, tenant: Option<&str>, model: Option<&str>) -> Refusal {
        let action = if r.status.is_server_error() {
            Action::Logged
        } else {
            Action::Rejected
        };
        self.events.request(
            event(r.rule, action, r.message.clone())
                .tenant(tenant)
                .model(model)
                .detail("reason", r.reason)
                .detail("status", r.status.as_u16()),
        );
        r
    }

    /// Every check in order, then the model server. `model` is the route's model as
    /// `handle` looked it up (`None` for a model this guard does not serve); the index of
    /// the tenant, once known, goes to `tenant_index_out` for the metrics.
    #[allow(clippy::too_many_arguments)]
    async fn serve<B: RequestBody>(
        &self,
        rt: &Runtime,
        head: &RequestHead,
        body: B,
        route: Route<'_>,
        model: Option<&Arc<ModelRuntime>>,
        client_cn: Option<String>,
        tenant_index_out: &mut Option<usize>,
    ) -> Result<(Answer, bool), Refusal> {
        // 1. Tenant.
        let key = presented_key(&head.fields);
        let tenant_index = match (key, &client_cn) {
            (Some(key), _) => rt.dir.by_key(key),
            (None, Some(cn)) => rt.dir.by_common_name(cn),
            (None, None) => None,
        };
        let Some(tenant_index) = tenant_index else {
            let why = if key.is_some() || client_cn.is_some() {
                "the API key or client certificate belongs to no tenant"
            } else {
                "no API key (send Authorization: Bearer KEY or X-API-Key: KEY)"
            };
            return Err(self.refuse(
                Refusal::new(
                    StatusCode::UNAUTHORIZED,
                    &rules::unauthenticated::RULE,
                    "unauthenticated",
                    why.into(),
                ),
                None,
                None,
            ));
        };
        let tenant = &rt.cfg.tenants[tenant_index];
        *tenant_index_out = Some(tenant_index);
        let tname = Some(tenant.name.as_str());

        // 2. Model permission.
        let model = match &route {
            Route::Infer(m) | Route::ModelInfo(m) => {
                let Some(model) = model else {
                    return Err(self.refuse(
                        Refusal::new(
                            StatusCode::NOT_FOUND,
                            &rules::model_not_permitted::RULE,
                            "unknown_model",
                            format!("model '{m}' is not served through this guard"),
                        ),
                        tname,
                        None,
                    ));
                };
                if let Some(allowed) = &tenant.models
                    && !allowed.iter().any(|a| a == m)
                {
                    return Err(self.refuse(
                        Refusal::new(
                            StatusCode::FORBIDDEN,
                            &rules::model_not_permitted::RULE,
                            "model_not_permitted",
                            format!("tenant '{}' may not call model '{m}'", tenant.name),
                        ),
                        tname,
                        Some(m),
                    ));
                }
                Some(model.clone())
            }
            Route::ServerInfo => None,
            Route::Unknown => {
                return Err(self.refuse(
                    Refusal::new(
                        StatusCode::NOT_FOUND,
                        &rules::model_not_permitted::RULE,
                        "unknown_route",
                        format!(
                            "{} {} is not an inference or status call of the {} protocol",
                            head.method,
                            head.uri.path(),
                            rt.cfg.upstream.protocol.as_str()
                        ),
                    ),
                    tname,
                    None,
                ));
            }
        };
        let mname = model.as_ref().map(|m| m.cfg.name.as_str());

        // 3. Rate limit, then concurrency.
        let limits = &rt.cfg.limits;
        let rate = tenant
            .requests_per_second
            .unwrap_or(limits.requests_per_second);
        let burst = tenant.burst.unwrap_or(limits.burst);
        let state = rt.limit_state(&self.limiter, tenant_index);
        let decision = self.limiter.rate(&tenant.name, state, rate, burst).await;
        if decision.redis_error.is_some() {
            self.metrics.redis_fallbacks.inc();
        }
        if let Err(wait) = decision.admitted {
            self.metrics
                .rate_limited
                .get_or_create(&l1("tenant", &tenant.name))
                .inc();
            let mut r = Refusal::over_limit(
                &rules::rate_limited::RULE,
                "rate_limited",
                format!(
                    "tenant '{}' is over its limit of {rate} requests per second (burst {burst})",
                    tenant.name
                ),
            );
            r.retry_after = Some(wait.as_secs_f64().ceil().max(1.0) as u64);
            return Err(self.refuse(r, tname, mname));
        }
        let max_concurrent = tenant.max_concurrent.unwrap_or(limits.max_concurrent);
        let Some(_inflight) = InFlight::enter(state, max_concurrent) else {
            let r = Refusal::over_limit(
                &rules::concurrency::RULE,
                "concurrency",
                format!(
                    "tenant '{}' already has {max_concurrent} requests in flight",
                    tenant.name
                ),
            );
            return Err(self.refuse(r, tname, mname));
        };

        // 4. Body. A read-only call carries none to screen: one that brings a body anyway
        // would hand it to a server route that may read it (a `GET /predict` taking JSON)
        // unscreened. Its limit is 0, so such a body is refused at its declared length or its
        // first byte, never read.
        let read_only = !matches!(route, Route::Infer(_));
        let within = Duration::from_millis(limits.body_timeout_ms);
        let limit = if read_only { 0 } else { limits.max_body_bytes };
        let body = match body.read_whole(&head.fields, limit, within).await {
            Ok(b) => b,
            Err(BodyError::TooLarge { .. }) if read_only => {
                return Err(self.refuse(
                    Refusal::new(
                        StatusCode::BAD_REQUEST,
                        &rules::model_not_permitted::RULE,
                        "body_on_read",
                        format!(
                            "{} {} is a read-only call and carries a body, which would reach \
                             the model server unscreened",
                            head.method,
                            head.uri.path(),
                        ),
                    ),
                    tname,
                    mname,
                ));
            }
            Err(e) => return Err(self.refuse(body_refusal(e), tname, mname)),
        };

        // 5. Screening (inference calls only).
        let mut flags = Vec::new();
        if let (Route::Infer(_), Some(model)) = (&route, &model) {
            flags = self
                .screen(rt, model, &body)
                .await
                .map_err(|r| self.refuse(r, tname, mname))?;
            for f in &flags {
                let action = match f.action {
                    OnViolation::Log => Action::Logged,
                    _ => Action::Flagged,
                };
                if f.action == OnViolation::Flag {
                    self.metrics
                        .flagged
                        .get_or_create(&l3(
                            "tenant",
                            &tenant.name,
                            "model",
                            &model.cfg.name,
                            "reason",
                            f.reason,
                        ))
                        .inc();
                }
                let mut e = event(f.rule, action, f.message.clone())
                    .tenant(tname)
                    .model(mname);
                for (k, v) in &f.details {
                    e = e.detail(k, v.clone());
                }
                self.events.request(e);
            }
        }

        // 6. Upstream.
        let path = self.upstream.forward_path(&head.uri);
        // The client's fields, less its credentials, its own tenant header and what its
        // `Connection` keeps to its hop; then the guard's tenant header, which no client
        // option can take away.
        let hop = crate::http1::hop_options(&head.fields);
        let fields = head
            .fields
            .iter()
            .filter(|(name, _)| !one_of(name, &STRIPPED) && !one_of(name, &hop))
            .chain([(
                TENANT_HEADER.as_bytes(),
                rt.tenant_headers[tenant_index].as_bytes(),
            )]);
        let answer = match self.upstream.send(&head.method, &path, fields, &body).await {
            Ok(a) => a,
            Err(f) => {
                self.metrics
                    .upstream_errors
                    .get_or_create(&l1("kind", f.kind()))
                    .inc();
                self.show_breaker();
                return Err(self.refuse(
                    Refusal::new(
                        f.status(),
                        &rules::upstream::RULE,
                        f.kind(),
                        f.message(&rt.cfg.upstream),
                    ),
                    tname,
                    mname,
                ));
            }
        };
        self.show_breaker();
        if let Some(m) = &model {
            self.series(rt, m)
                .upstream_duration
                .observe(answer.elapsed.as_secs_f64());
        }
        if answer.status.is_server_error() {
            self.metrics
                .upstream_errors
                .get_or_create(&l1("kind", "status"))
                .inc();
        }

        // 7. Drift.
        if let (Route::Infer(_), Some(model)) = (&route, &model)
            && answer.status.is_success()
        {
            self.observe_predictions(rt, model, &answer.body);
        }

        // The answer's end-to-end fields (the HTTP/1.1 client keeps the connection's own).
        let mut resp = Answer::new(answer.status, answer.body);
        resp.relayed = answer.fields;
        let flagged: Vec<&Flag> = flags
            .iter()
            .filter(|f| f.action == OnViolation::Flag)
            .collect();
        if !flagged.is_empty() {
            let text = flagged
                .iter()
                .map(|f| f.reason)
                .collect::<Vec<_>>()
                .join(", ");
            if let Ok(v) = HeaderValue::from_str(&text) {
                resp.headers
                    .insert(HeaderName::from_static("x-palisade-flag"), v);
            }
        }
        Ok((resp, !flagged.is_empty()))
    }

    /// Parses and screens an inference body; returns the checks that fired without refusing.
    async fn screen(
        &self,
        rt: &Runtime,
        model: &ModelRuntime,
        body: &[u8],
    ) -> Result<Vec<Flag>, Refusal> {
        let limits = &rt.cfg.limits;
        let doc = json::parse(
            body,
            json::Limits {
                max_depth: limits.max_json_depth,
                max_elements: limits.max_json_elements,
                allow_non_finite: limits.allow_non_finite,
            },
        )
        .map_err(|e| {
            let (rule, reason) = match e {
                json::Error::Syntax { .. } => (&rules::schema::RULE, "invalid_json"),
                json::Error::TooDeep { .. } => (&rules::request_limit::RULE, "json_depth"),
                json::Error::TooManyElements { .. } => {
                    (&rules::request_limit::RULE, "json_elements")
                }
                json::Error::NonFinite { .. } => (&rules::schema::RULE, "non_finite"),
                json::Error::DuplicateKey { .. } => (&rules::schema::RULE, "duplicate_key"),
            };
            Refusal::new(StatusCode::BAD_REQUEST, rule, reason, e.to_string())
        })?;
        let protocol = rt.cfg.upstream.protocol;
        let schema = match protocol {
            crate::config::Protocol::KserveV2 => self.v2_schema(&model.cfg.name).await,
            _ => None,
        };
        let batch = protocol::features(
            protocol,
            &model.cfg,
            &doc,
            schema.as_deref(),
            model.profile.as_ref(),
        )
        .map_err(|e| Refusal::new(StatusCode::BAD_REQUEST, &rules::schema::RULE, "schema", e))?;
        if batch.rows > limits.max_batch {
            return Err(Refusal::new(
                StatusCode::BAD_REQUEST,
                &rules::request_limit::RULE,
                "batch",
                format!(
                    "{} rows in one request; the limit is {}",
                    batch.rows, limits.max_batch
                ),
            ));
        }
        let Some(profile) = &model.profile else {
            return Ok(Vec::new());
        };
        if batch.cols != profile.features {
            return Err(Refusal::new(
                StatusCode::BAD_REQUEST,
                &rules::schema::RULE,
                "schema",
                format!(
                    "each row has {} features; model '{}' takes {}",
                    batch.cols, model.cfg.name, profile.features
                ),
            ));
        }
        let screening = &model.cfg.screening;
        let hist = &self.series(rt, model).ood_distance;
        let mut scratch = profile.scratch();
        let mut worst: Option<(usize, f64)> = None;
        let mut range: Option<(usize, usize, usize)> = None; // row, feature, count
        for r in 0..batch.rows {
            let s = profile.score(batch.row(r), screening.range_margin, &mut scratch);
            if s.distance.is_finite() {
                hist.observe(s.distance);
            }
            if worst.is_none_or(|(_, d)| s.distance > d) {
                worst = Some((r, s.distance));
            }
            if let Some(f) = s.first_out_of_range
                && range.is_none()
            {
                range = Some((r, f, s.out_of_range));
            }
        }
        let mut flags = Vec::new();
        if let Some((row, feature, count)) = range {
            let value = batch.row(row)[feature];
            let message = format!(
                "row {row}: {count} feature(s) outside the training range, first {} = {value} \
                 (trained on {} to {})",
                profile.feature_name(feature),
                profile.min[feature],
                profile.max[feature]
            );
            if screening.out_of_range == OnViolation::Reject {
                return Err(Refusal::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    &rules::out_of_range::RULE,
                    "out_of_range",
                    message,
                ));
            }
            flags.push(Flag {
                rule: &rules::out_of_range::RULE,
                reason: "out_of_range",
                action: screening.out_of_range,
                message,
                details: vec![
                    ("row", row.into()),
                    ("feature", profile.feature_name(feature).into()),
                    ("features_out_of_range", count.into()),
                ],
            });
        }
        if let Some((row, distance)) = worst {
            // Written only for a message: most requests need none.
            let shown = || {
                if distance.is_finite() {
                    format!("{distance:.2}")
                } else {
                    "infinite (non-finite values)".into()
                }
            };
            let details = |t: f64| {
                vec![
                    ("row", row.into()),
                    (
                        "distance",
                        serde_json::json!(if distance.is_finite() {
                            distance
                        } else {
                            f64::MAX
                        }),
                    ),
                    ("threshold", serde_json::json!(t)),
                    ("rows", batch.rows.into()),
                ]
            };
            if let Some(t) = model.reject_above
                && distance > t
            {
                return Err(Refusal::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    &rules::out_of_distribution::RULE,
                    "out_of_distribution",
                    format!(
                        "row {row} is at distance {} from the training data; the limit is {t:.2}",
                        shown()
                    ),
                ));
            }
            if let Some(t) = model.flag_above
                && distance > t
            {
                flags.push(Flag {
                    rule: &rules::out_of_distribution::RULE,
                    reason: "out_of_distribution",
                    action: OnViolation::Flag,
                    message: format!(
                        "row {row} is at distance {} from the training data (flag threshold {t:.2})",
                        shown()
                    ),
                    details: details(t),
                });
            }
        }
        Ok(flags)
    }

    /// The v2 model's declared inputs, from `GET /v2/models/NAME` on the model server. The
    /// answer — or its absence — is kept for `SCHEMA_TTL` (60 s), so the schema follows model
    /// updates and a server without metadata costs one request a minute, not one per request.
    pub async fn v2_schema(&self, model: &str) -> Option<Arc<V2Schema>> {
        if let Some((at, s)) = self
            .schemas
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(model)
            && at.elapsed() < SCHEMA_TTL
        {
            return s.clone();
        }
        let fetched = self.fetch_v2_schema(model).await;
        let schema = match fetched {
            Ok(s) => Some(Arc::new(s)),
            Err(e) => {
                eprintln!(
                    "palisade guard: model '{model}': no input schema from the model server ({e}); \
                     shapes and datatypes go unchecked for {} s",
                    SCHEMA_TTL.as_secs()
                );
                None
            }
        };
        self.schemas
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(model.to_string(), (Instant::now(), schema.clone()));
        schema
    }

    async fn fetch_v2_schema(&self, model: &str) -> Result<V2Schema, String> {
        let path = self.upstream.path(&format!("/v2/models/{model}"))?;
        let answer = self
            .upstream
            .send(&hyper::Method::GET, &path, [], &[])
            .await
            .map_err(|f| f.message(&self.upstream.settings))?;
        if !answer.status.is_success() {
            return Err(format!("GET /v2/models/{model} answered {}", answer.status));
        }
        let doc = json::parse(&answer.body, json::RESPONSE_LIMITS).map_err(|e| e.to_string())?;
        V2Schema::parse(&doc)
    }

    /// `palisade_guard_circuit_open` as the breaker is now. Written only when it changes:
    /// a store on every request would move the gauge's cache line between the serving
    /// threads each time.
    fn show_breaker(&self) {
        let open = i64::from(self.upstream.breaker_open());
        if self.metrics.circuit_open.get() != open {
            self.metrics.circuit_open.set(open);
        }
    }

    fn observe_predictions(&self, rt: &Runtime, model: &ModelRuntime, body: &[u8]) {
        let Some(tracker) = &model.drift else { return };
        let Some(settings) = &model.cfg.drift else {
            return;
        };
        let Ok(doc) = json::parse(body, json::RESPONSE_LIMITS) else {
            return;
        };
        let Some(preds) = protocol::predictions(rt.cfg.upstream.protocol, &model.cfg, &doc) else {
            return;
        };
        for c in tracker.observe(&preds) {
            let m = l1("model", &model.cfg.name);
            self.metrics.drift_psi.get_or_create(&m).set(c.psi);
            self.metrics.drift_ks.get_or_create(&m).set(c.ks);
            self.metrics.drift_ks_p.get_or_create(&m).set(c.ks_p);
            if c.psi >= settings.psi_alert || c.ks_p < settings.ks_p_alert {
                self.events.alarm(
                    event(
                        &rules::drift::RULE,
                        Action::Raised,
                        format!(
                            "the last {} predictions drifted from the reference: \
                             PSI {:.3} (alert at {}), KS {:.3} with p = {:.2e} (alert below {})",
                            c.window, c.psi, settings.psi_alert, c.ks, c.ks_p, settings.ks_p_alert
                        ),
                    )
                    .model(Some(&model.cfg.name))
                    .detail("psi", c.psi)
                    .detail("ks", c.ks)
                    .detail("ks_p_value", c.ks_p)
                    .detail("window", c.window),
                );
            }
        }
    }
}

/// The refusal for a body that could not be read.
fn body_refusal(e: BodyError) -> Refusal {
    let (status, kind) = match e {
        BodyError::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
        BodyError::TimedOut { .. } => (StatusCode::REQUEST_TIMEOUT, "body_timeout"),
        BodyError::Unreadable(_) => (StatusCode::BAD_REQUEST, "body_unreadable"),
    };
    let mut message = e.to_string();
    if let BodyError::TimedOut { .. } = e {
        message.push_str(" (limits.body_timeout_ms)");
    }
    Refusal::new(status, &rules::request_limit::RULE, kind, message)
}
