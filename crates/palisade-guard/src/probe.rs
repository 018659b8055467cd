//! Control-set probes: on a schedule, the model's labelled control set (shipped with the
//! model) goes through the model server; the accuracy against the labels and the agreement
//! with the outputs recorded when the model was approved are published as metrics, and an
//! event is raised when either falls below its minimum. Agreement catches a swapped or
//! backdoored model whose accuracy did not move.

use crate::config::{Model, Protocol};
use crate::events::event;
use crate::gateway::Gateway;
use crate::json;
use crate::metrics::{l1, l2};
use crate::protocol;
use crate::rules;
use palisade_core::event::Action;
use serde::Deserialize;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The file a model ships its control set in.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlSet {
    pub inputs: Vec<Vec<f64>>,
    #[serde(default)]
    pub labels: Option<Vec<f64>>,
    #[serde(default)]
    pub reference_outputs: Option<Vec<f64>>,
}

impl ControlSet {
    pub fn load(path: &Path) -> Result<ControlSet, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        let c: ControlSet = serde_json::from_str(&text)
            .map_err(|e| format!("{}: not a control set: {e}", path.display()))?;
        let n = c.inputs.len();
        if n == 0 {
            return Err(format!("{}: 'inputs' is empty", path.display()));
        }
        for (name, v) in [
            ("labels", &c.labels),
            ("reference_outputs", &c.reference_outputs),
        ] {
            if let Some(v) = v
                && v.len() != n
            {
                return Err(format!(
                    "{}: '{name}' has {} entries for {n} inputs",
                    path.display(),
                    v.len()
                ));
            }
        }
        if c.labels.is_none() && c.reference_outputs.is_none() {
            return Err(format!(
                "{}: needs 'labels', 'reference_outputs' or both (nothing to compare with)",
                path.display()
            ));
        }
        Ok(c)
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Outcome {
    pub accuracy: Option<f64>,
    pub agreement: Option<f64>,
    pub rows: usize,
}

fn same(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1.0)
}

fn share(preds: &[f64], want: &[f64]) -> f64 {
    preds
        .iter()
        .zip(want)
        .filter(|(p, w)| same(**p, **w))
        .count() as f64
        / want.len() as f64
}

/// The inference path for a model in its protocol.
fn infer_path(protocol: Protocol, model: &Model) -> String {
    match protocol {
        Protocol::Tfserving => format!("/v1/models/{}:predict", model.name),
        Protocol::KserveV2 => format!("/v2/models/{}/infer", model.name),
        Protocol::Json => model.route.clone().unwrap_or_else(|| "/".into()),
    }
}

/// Sends the control set once and compares.
pub async fn run_once(gw: &Gateway, model: &Model, set: &ControlSet) -> Result<Outcome, String> {
    let protocol = gw.current().cfg.upstream.protocol;
    let schema = match protocol {
        Protocol::KserveV2 => gw.v2_schema(&model.name).await,
        _ => None,
    };
    let body = protocol::request_body(protocol, model, &set.inputs, schema.as_deref());
    let path = gw.upstream.path(&infer_path(protocol, model))?;
    let fields = [
        (&b"content-type"[..], &b"application/json"[..]),
        (crate::gateway::TENANT_HEADER.as_bytes(), b"palisade-probe"),
    ];
    let answer = gw
        .upstream
        .send(
            &hyper::Method::POST,
            &path,
            fields,
            body.to_string().as_bytes(),
        )
        .await
        .map_err(|f| f.message(&gw.upstream.settings))?;
    if !answer.status.is_success() {
        return Err(format!(
            "the model server answered {} to the control set",
            answer.status
        ));
    }
    let doc = json::parse(&answer.body, json::RESPONSE_LIMITS)
        .map_err(|e| format!("the model server's answer: {e}"))?;
    let preds = protocol::predictions(protocol, model, &doc)
        .ok_or("the model server's answer holds no predictions where the protocol puts them")?;
    if preds.len() != set.inputs.len() {
        return Err(format!(
            "{} predictions for {} control inputs",
            preds.len(),
            set.inputs.len()
        ));
    }
    Ok(Outcome {
        accuracy: set.labels.as_ref().map(|l| share(&preds, l)),
        agreement: set.reference_outputs.as_ref().map(|r| share(&preds, r)),
        rows: preds.len(),
    })
}

/// Runs every configured probe when it is due, following configuration reloads. A model's
/// next probe waits for its previous one to finish (a slow model server never piles them up).
pub async fn schedule(gw: Arc<Gateway>) {
    let mut due: HashMap<String, Instant> = HashMap::new();
    let mut running: HashMap<String, tokio::task::JoinHandle<()>> = HashMap::new();
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        tick.tick().await;
        let rt = gw.current();
        for m in rt.models() {
            let (Some(p), Some(set)) = (&m.cfg.probe, &m.control_set) else {
                continue;
            };
            let now = Instant::now();
            let busy = running.get(&m.cfg.name).is_some_and(|h| !h.is_finished());
            if busy || due.get(&m.cfg.name).is_some_and(|d| *d > now) {
                continue;
            }
            due.insert(
                m.cfg.name.clone(),
                now + Duration::from_secs(p.interval_seconds),
            );
            let gw = gw.clone();
            let (model, set) = (m.cfg.clone(), set.clone());
            running.insert(
                m.cfg.name.clone(),
                tokio::spawn(async move { probe_and_report(&gw, &model, &set).await }),
            );
        }
    }
}

async fn probe_and_report(gw: &Gateway, m: &Model, set: &ControlSet) {
    let Some(p) = &m.probe else { return };
    let labels = l1("model", &m.name);
    let result = run_once(gw, m, set).await;
    let outcome = match result {
        Ok(o) => o,
        Err(e) => {
            gw.metrics
                .probe_runs
                .get_or_create(&l2("model", &m.name, "result", "failed"))
                .inc();
            gw.events.alarm(
                event(
                    &rules::upstream::RULE,
                    Action::Logged,
                    format!(
                        "the control-set probe of model '{}' could not run: {e}",
                        m.name
                    ),
                )
                .model(Some(&m.name)),
            );
            return;
        }
    };
    let mut alert = false;
    if let Some(a) = outcome.accuracy {
        gw.metrics.probe_accuracy.get_or_create(&labels).set(a);
        if a < p.min_accuracy {
            alert = true;
            gw.events.alarm(
                event(
                    &rules::probe_accuracy::RULE,
                    Action::Raised,
                    format!(
                        "model '{}' scored {a:.3} on its control set of {}; the minimum is {}",
                        m.name, outcome.rows, p.min_accuracy
                    ),
                )
                .model(Some(&m.name))
                .detail("accuracy", a)
                .detail("min_accuracy", p.min_accuracy)
                .detail("rows", outcome.rows),
            );
        }
    }
    if let Some(g) = outcome.agreement {
        gw.metrics.probe_agreement.get_or_create(&labels).set(g);
        if g < p.min_agreement {
            alert = true;
            gw.events.alarm(
                event(
                    &rules::probe_outputs::RULE,
                    Action::Raised,
                    format!(
                        "model '{}' gave the recorded reference output for {:.1}% of its control \
                         set; the minimum is {:.1}%",
                        m.name,
                        g * 100.0,
                        p.min_agreement * 100.0
                    ),
                )
                .model(Some(&m.name))
                .detail("agreement", g)
                .detail("min_agreement", p.min_agreement)
                .detail("rows", outcome.rows),
            );
        }
    }
    let result = if alert { "alert" } else { "ok" };
    gw.metrics
        .probe_runs
        .get_or_create(&l2("model", &m.name, "result", result))
        .inc();
}
