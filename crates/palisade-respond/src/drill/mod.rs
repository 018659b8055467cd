//! Drills: the seeds' incidents replayed end to end — events in, detection, correlation, the
//! playbook's actions through the real `kube` client against the in-process API server
//! (`palisade-apisim`), the record verified — with the response times they took and a check
//! of the cluster afterwards. `palisade respond drill breakout|adversarial|flood` runs one;
//! the tests run all three.

pub mod scenario;

use crate::actions::connect_yaml;
use crate::engine::{Clock, Engine, Options};
use crate::incident::{Incident, Phase};
use crate::ingest::{self, Format};
use crate::playbook::{self, Playbook};
use crate::rules::RuleSet;
use crate::runner::{self, Gates, Outcome};
use crate::signal::Workload;
use crate::store::Store;
use palisade_apisim::ApiServer;
use palisade_apisim::resources::{
    DEPLOYMENTS, NETWORK_POLICIES, NODES, PODS, SECRETS, SERVICE_ACCOUNTS,
};
use scenario::{MODEL, NAMESPACE};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drill {
    Breakout,
    Adversarial,
    Flood,
}

impl Drill {
    pub const ALL: [Drill; 3] = [Drill::Breakout, Drill::Adversarial, Drill::Flood];

    pub fn name(self) -> &'static str {
        match self {
            Drill::Breakout => "breakout",
            Drill::Adversarial => "adversarial",
            Drill::Flood => "flood",
        }
    }

    pub fn parse(s: &str) -> Option<Drill> {
        Drill::ALL.into_iter().find(|d| d.name() == s)
    }

    /// The phase the incident must reach.
    pub fn expected(self) -> Phase {
        match self {
            Drill::Breakout => Phase::Recovered,
            Drill::Adversarial => Phase::Closed,
            Drill::Flood => Phase::Contained,
        }
    }
}

pub struct Report {
    pub drill: Drill,
    pub incident: Option<Incident>,
    /// What happened, in order, for a person.
    pub lines: Vec<String>,
    /// What the drill found wrong (empty when it passed).
    pub problems: Vec<String>,
    /// Mutating requests the API server received.
    pub changes: Vec<String>,
}

impl Report {
    pub fn passed(&self) -> bool {
        self.problems.is_empty()
    }
}

fn token() -> String {
    let seed = format!("{:?}{}", std::time::SystemTime::now(), std::process::id());
    crate::store::sha256_hex(seed.as_bytes())[..32].to_string()
}

/// Serves the drill's probe metrics on a loopback port until the returned sender is dropped.
async fn metrics_server(
    cluster: palisade_apisim::Cluster,
) -> Result<(String, tokio::sync::oneshot::Sender<()>), String> {
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let c = cluster.clone();
            async move { scenario::probe_metrics(&c) }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let url = format!(
        "http://{}/metrics",
        l.local_addr().map_err(|e| e.to_string())?
    );
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(l, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
    });
    Ok((url, tx))
}

/// Runs a drill, recording into `db` (a fresh in-memory record when `None`).
pub async fn run(drill: Drill, db: Option<&Path>, books: &[Playbook]) -> Result<Report, String> {
    let api = ApiServer::start(&token())
        .await
        .map_err(|e| format!("starting the API server: {e}"))?;
    let cluster = api.cluster();
    let history = match drill {
        Drill::Breakout => Some(scenario::privileged_release()),
        Drill::Adversarial => Some(scenario::poisoned_model()),
        Drill::Flood => None,
    };
    scenario::seed(&cluster, history)?;
    let seeded_requests = cluster.requests().len();
    let client = connect_yaml(&api.kubeconfig()).await?;
    let (metrics_url, _stop_metrics) = metrics_server(cluster.clone()).await?;

    let store = match db {
        Some(p) => Store::open(p)?,
        None => Store::memory()?,
    };
    let mut opts = Options {
        clock: Clock::Wall,
        ..Options::default()
    };
    opts.models.insert(
        MODEL.into(),
        Workload {
            namespace: NAMESPACE.into(),
            kind: "Deployment".into(),
            name: MODEL.into(),
        },
    );
    let mut engine = Engine::new(store, RuleSet::builtin(), opts)?;

    let mut lines = vec![format!(
        "drill {}: in-process API server at {} (3 nodes, namespace {NAMESPACE})",
        drill.name(),
        api.url()
    )];
    let (pod, node) = scenario::target_pod(&cluster)?;
    let events = match drill {
        Drill::Breakout => scenario::breakout_events(&pod, &node),
        Drill::Adversarial => scenario::adversarial_events(),
        Drill::Flood => scenario::flood_events(),
    };
    let text: String = events.iter().map(|e| e.to_string() + "\n").collect();
    let out = engine.ingest(
        ingest::parse(&text, Format::Auto),
        &format!("drill {}", drill.name()),
    )?;
    lines.push(format!(
        "{} events in: {} detections, {} duplicates folded, {} incident(s) opened",
        out.accepted,
        out.detections,
        out.duplicates,
        out.opened.len()
    ));
    let mut problems: Vec<String> = out
        .errors
        .iter()
        .map(|e| format!("event {}: {}", e.at, e.message))
        .collect();
    if out.opened.len() != 1 {
        problems.push(format!(
            "expected one incident, {} were opened",
            out.opened.len()
        ));
    }
    let Some(id) = out.opened.first().cloned() else {
        return Ok(Report {
            drill,
            incident: None,
            lines,
            problems,
            changes: Vec::new(),
        });
    };
    let inc = engine.incident(&id)?.ok_or("the incident vanished")?;
    lines.push(format!(
        "{id} {} \"{}\" — techniques {}",
        inc.severity.as_str(),
        inc.title,
        inc.techniques
            .iter()
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    ));

    let book = playbook::choose(books, &inc).ok_or_else(|| format!("no playbook matches {id}"))?;
    lines.push(format!(
        "playbook {} ({} steps; approval gates approved by the drill)",
        book.name,
        book.steps.len()
    ));
    let vars = BTreeMap::from([("guard_metrics".to_string(), metrics_url)]);
    let shared = std::sync::Mutex::new(engine);
    let outcome = runner::run(
        &shared,
        Some(&client),
        book,
        &id,
        &Gates::ApproveAs("drill".into()),
        &vars,
    )
    .await?;
    let mut engine = shared
        .into_inner()
        .map_err(|_| "the engine lock is poisoned")?;
    let inc = engine.incident(&id)?.ok_or("the incident vanished")?;
    for a in &inc.response.actions {
        lines.push(format!(
            "  step {:>2} {:<18} {:<9} {}",
            a.step_label(),
            a.action,
            a.status,
            a.summary
        ));
    }
    if let Outcome::Failed { step, error } = &outcome {
        problems.push(format!("step {} failed: {error}", step + 1));
    }
    if drill == Drill::Adversarial && outcome == Outcome::Completed {
        engine.advance(&id, Phase::Closed, "drill", "lessons: pin model versions by digest; require a signed model before rollout; alert on probe agreement, not accuracy alone", None)?;
    }
    let inc = engine.incident(&id)?.ok_or("the incident vanished")?;
    for h in &inc.history {
        lines.push(format!(
            "  {:<10} {}  by {} — {}",
            h.phase.as_str(),
            h.at,
            h.by,
            h.reason
        ));
    }
    if inc.phase() != drill.expected() {
        problems.push(format!(
            "{id} reached {}, expected {}",
            inc.phase().as_str(),
            drill.expected().as_str()
        ));
    }
    let changes: Vec<String> = cluster.requests()[seeded_requests..]
        .iter()
        .filter(|r| !r.starts_with("GET "))
        .cloned()
        .collect();
    problems.extend(check_cluster(drill, &cluster, &inc, &node, &changes));
    match engine.store().verify(None) {
        Ok(v) => lines.push(format!("record: {} chain entries verify", v.entries)),
        Err(e) => problems.push(format!("the record does not verify: {e}")),
    }
    Ok(Report {
        drill,
        incident: Some(inc),
        lines,
        problems,
        changes,
    })
}

/// What the cluster must look like after each drill.
fn check_cluster(
    drill: Drill,
    c: &palisade_apisim::Cluster,
    inc: &Incident,
    node: &str,
    changes: &[String],
) -> Vec<String> {
    let mut p = Vec::new();
    let digits = c.get(&DEPLOYMENTS, NAMESPACE, MODEL).unwrap_or(Value::Null);
    let container = digits
        .pointer("/spec/template/spec/containers/0")
        .cloned()
        .unwrap_or(Value::Null);
    let pods = c.list(&PODS, Some(NAMESPACE), "app=digits");
    match drill {
        Drill::Breakout => {
            if container["image"] != scenario::GOOD_IMAGE
                || container["securityContext"]["privileged"] == true
            {
                p.push(format!(
                    "digits should run {} unprivileged again, runs {}",
                    scenario::GOOD_IMAGE,
                    container["image"]
                ));
            }
            if pods.len() != 2 || pods.iter().any(|x| x["spec"]["nodeName"] == node) {
                p.push(format!("digits should run 2 pods, none on {node}"));
            }
            if c.get(&NODES, "", node)
                .is_none_or(|n| n["spec"]["unschedulable"] != true)
            {
                p.push(format!("{node} should stay cordoned"));
            }
            if c.get(&SECRETS, NAMESPACE, "digits-server-token").is_some() {
                p.push("the legacy token secret should be gone".into());
            }
            if c.get(&SERVICE_ACCOUNTS, NAMESPACE, "digits-server")
                .is_none()
            {
                p.push("the service account should have been recreated".into());
            }
            if c.get(&NETWORK_POLICIES, NAMESPACE, "palisade-quarantine-digits")
                .is_some()
            {
                p.push("the quarantine should be lifted after recovery".into());
            }
            if !inc
                .response
                .actions
                .iter()
                .any(|a| a.action == "quarantine" && a.status == "changed")
            {
                p.push("the workload was never quarantined".into());
            }
            if inc
                .response
                .actions
                .iter()
                .map(|a| a.evidence.len())
                .sum::<usize>()
                < 10
            {
                p.push("too little evidence was collected".into());
            }
        }
        Drill::Adversarial => {
            let version = container["env"][0]["value"].as_str().unwrap_or("");
            if version != scenario::GOOD_MODEL {
                p.push(format!(
                    "digits should serve model {} again, serves {version}",
                    scenario::GOOD_MODEL
                ));
            }
        }
        Drill::Flood => {
            if inc.keys.iter().collect::<Vec<_>>() != ["tenant:team-b"] {
                p.push(format!(
                    "the incident should be about tenant team-b only, is about {:?}",
                    inc.keys
                ));
            }
            if !changes.is_empty() {
                p.push(format!(
                    "nothing in the cluster should change, but: {}",
                    changes.join(", ")
                ));
            }
        }
    }
    p
}
