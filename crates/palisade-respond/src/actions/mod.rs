//! Response actions, through the real `kube` client.
//!
//! Each action acts on the incident's [`Scope`] (its workloads, pods and nodes), is idempotent
//! (run twice, the second run reports `unchanged`), records the state before and after it as
//! evidence, and knows the `kubectl` commands that do the same by hand ([`Action::kubectl`],
//! printed by dry runs). An action that cannot do its job fails with the API server's answer.

pub mod controller;
mod evidence;
mod node;
mod quarantine;
mod revoke;
mod rollout;
mod verify;

pub use verify::Check;

use crate::signal::Workload;
use k8s_openapi::api::apps::v1::Deployment;
/// The Kubernetes client the actions use (re-exported for callers that pass one along).
pub use kube::Client;
use kube::api::{Api, ListParams, Patch, PatchParams};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The actions that change what runs: after one of them changed something, a `verify` must
/// pass again before the incident may be called recovered.
pub const CHANGES_WORKLOAD: [&str; 4] = ["rollback", "restart", "scale", "revoke-credentials"];

/// Label put on everything Palisade quarantines, with the incident id as value.
pub const QUARANTINE_LABEL: &str = "palisade.io/quarantine";
/// Annotation keeping a workload's replica count from before it was scaled to zero.
pub const REPLICAS_BEFORE: &str = "palisade.io/replicas-before";

/// What the actions act on.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    pub incident: String,
    pub workloads: Vec<Workload>,
    /// `namespace/name`.
    pub pods: Vec<String>,
    pub nodes: Vec<String>,
}

impl Scope {
    pub fn of(inc: &crate::incident::Incident) -> Scope {
        Scope {
            incident: inc.id.clone(),
            workloads: inc
                .blast
                .workloads
                .iter()
                .filter_map(|w| w.parse().ok())
                .collect(),
            pods: inc.blast.pods.iter().cloned().collect(),
            nodes: inc.blast.nodes.iter().cloned().collect(),
        }
    }
}

/// A piece of evidence: bytes, their media type and what they are.
#[derive(Debug, Clone)]
pub struct Evidence {
    pub name: String,
    pub media: &'static str,
    pub data: Vec<u8>,
}

impl Evidence {
    pub fn json(name: impl Into<String>, v: &impl serde::Serialize) -> Evidence {
        Evidence {
            name: name.into(),
            media: "application/json",
            data: serde_json::to_vec_pretty(v).unwrap_or_default(),
        }
    }

    pub fn text(name: impl Into<String>, t: impl Into<String>) -> Evidence {
        Evidence {
            name: name.into(),
            media: "text/plain",
            data: t.into().into_bytes(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The action changed the cluster.
    Changed,
    /// The cluster was already as the action wants it.
    Unchanged,
    /// Nothing in scope the action applies to.
    Skipped,
    /// A read-only action (evidence, checks) did its job.
    Recorded,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Changed => "changed",
            Status::Unchanged => "unchanged",
            Status::Skipped => "skipped",
            Status::Recorded => "recorded",
        }
    }
}

/// What an action did.
#[derive(Debug)]
pub struct Done {
    pub status: Status,
    pub summary: String,
    pub evidence: Vec<Evidence>,
    /// What the cluster's inventory adds to the blast radius: (`pods`|`hosts`|`services`|
    /// `images`, value).
    pub found: Vec<(&'static str, String)>,
}

impl Done {
    fn read_only(summary: Vec<String>, evidence: Vec<Evidence>) -> Done {
        let mut d = Done::new(false, summary, evidence);
        if d.status == Status::Unchanged {
            d.status = Status::Recorded;
        }
        d
    }

    fn new(changed: bool, summary: Vec<String>, evidence: Vec<Evidence>) -> Done {
        let status = if summary.is_empty() {
            Status::Skipped
        } else if changed {
            Status::Changed
        } else {
            Status::Unchanged
        };
        let summary = if summary.is_empty() {
            "nothing in scope".into()
        } else {
            summary.join("; ")
        };
        Done {
            status,
            summary,
            evidence,
            found: Vec::new(),
        }
    }
}

/// How many replicas a `scale` step sets.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum Replicas {
    Count(i32),
    /// `previous`: what the workload had before Palisade scaled it to zero.
    Previous(String),
}

/// The actions a playbook step can name.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(tag = "action", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Action {
    /// Pods, owners, replica sets, logs (current and previous), events, nodes and image
    /// digests, before anything changes.
    CollectEvidence {
        #[serde(default = "default_tail")]
        tail_lines: i64,
    },
    /// A deny-all ingress and egress NetworkPolicy on the workload's pods, and a label on them.
    Quarantine,
    /// Removes the quarantine policy and label.
    LiftQuarantine,
    Scale {
        replicas: Replicas,
    },
    /// Marks the nodes unschedulable; with `drain`, evicts their pods (disruption budgets
    /// respected: a refused eviction is retried until `timeout_seconds`).
    Cordon {
        #[serde(default)]
        drain: bool,
        #[serde(default = "default_timeout")]
        timeout_seconds: u64,
    },
    Uncordon,
    /// Evicts the incident's pods through the eviction API.
    Evict,
    /// Deletes the workload's service account's legacy token secrets, recreates the account
    /// (invalidating every token bound to it) and restarts the workload so its pods get new
    /// tokens.
    RevokeCredentials,
    /// Back to the previous revision (`kubectl rollout undo`), a given revision, or a named
    /// image / model version.
    Rollback {
        #[serde(default)]
        to_revision: Option<i64>,
        #[serde(default)]
        image: Option<String>,
        #[serde(default)]
        container: Option<String>,
        /// `NAME=VALUE`: an environment variable that selects the model version.
        #[serde(default)]
        env: Option<String>,
    },
    /// `kubectl rollout restart`.
    Restart,
    /// Checks that recovery happened; the incident may move to `recovered` only after one.
    Verify {
        checks: Vec<Check>,
        #[serde(default = "default_timeout")]
        timeout_seconds: u64,
    },
}

fn default_tail() -> i64 {
    500
}

fn default_timeout() -> u64 {
    60
}

impl Action {
    pub fn name(&self) -> &'static str {
        match self {
            Action::CollectEvidence { .. } => "collect-evidence",
            Action::Quarantine => "quarantine",
            Action::LiftQuarantine => "lift-quarantine",
            Action::Scale { .. } => "scale",
            Action::Cordon { .. } => "cordon",
            Action::Uncordon => "uncordon",
            Action::Evict => "evict",
            Action::RevokeCredentials => "revoke-credentials",
            Action::Rollback { .. } => "rollback",
            Action::Restart => "restart",
            Action::Verify { .. } => "verify",
        }
    }

    /// Whether the action changes the cluster (what approval gates are about).
    pub fn is_destructive(&self) -> bool {
        !matches!(self, Action::CollectEvidence { .. } | Action::Verify { .. })
    }

    pub async fn run(&self, client: &Client, scope: &Scope) -> Result<Done, String> {
        match self {
            Action::CollectEvidence { tail_lines } => {
                evidence::collect(client, scope, *tail_lines).await
            }
            Action::Quarantine => quarantine::apply(client, scope).await,
            Action::LiftQuarantine => quarantine::lift(client, scope).await,
            Action::Scale { replicas } => rollout::scale(client, scope, replicas).await,
            Action::Cordon {
                drain,
                timeout_seconds,
            } => node::cordon(client, scope, true, *drain, *timeout_seconds).await,
            Action::Uncordon => node::cordon(client, scope, false, false, 0).await,
            Action::Evict => node::evict_scope(client, scope).await,
            Action::RevokeCredentials => revoke::run(client, scope).await,
            Action::Rollback {
                to_revision,
                image,
                container,
                env,
            } => {
                let target = rollout::Target::from_step(*to_revision, image, container, env)?;
                rollout::rollback(client, scope, &target).await
            }
            Action::Restart => rollout::restart(client, scope).await,
            Action::Verify {
                checks,
                timeout_seconds,
            } => verify::run(client, scope, checks, *timeout_seconds).await,
        }
    }

    /// The `kubectl` (or other) commands that do the same by hand.
    pub fn kubectl(&self, scope: &Scope) -> Vec<String> {
        let mut out = Vec::new();
        for w in &scope.workloads {
            let (ns, d) = (&w.namespace, &w.name);
            // deployment, statefulset, daemonset: what the generic actions take.
            let res = w.kind.to_lowercase();
            let deployment = w.kind == "Deployment";
            let controller = controller::CONTROLLERS.contains(&w.kind.as_str());
            let scalable = controller && w.kind != "DaemonSet";
            match self {
                _ if !controller => {}
                Action::CollectEvidence { .. } | Action::Rollback { .. } | Action::Verify { .. }
                    if !deployment => {}
                Action::Scale { .. } if !scalable => {}
                Action::CollectEvidence { tail_lines } => out.extend([
                    format!("kubectl get deployment {d} -n {ns} -o yaml"),
                    format!("kubectl get replicasets,pods -n {ns} -l <selector of {d}> -o yaml"),
                    format!("kubectl logs deployment/{d} -n {ns} --all-containers --tail={tail_lines}"),
                    format!("kubectl logs deployment/{d} -n {ns} --all-containers --previous --tail={tail_lines}"),
                    format!("kubectl get events -n {ns} --field-selector involvedObject.name=<each pod>"),
                ]),
                Action::Quarantine => out.extend([
                    format!("kubectl apply -n {ns} -f - <<'EOF'\n{}EOF", quarantine::policy_yaml(&scope.incident, w)),
                    format!("kubectl label pods -n {ns} -l <selector of {res}/{d}> {QUARANTINE_LABEL}={} --overwrite", scope.incident),
                ]),
                Action::LiftQuarantine => out.extend([
                    format!("kubectl delete networkpolicy {} -n {ns} --ignore-not-found", quarantine::policy_name(w)),
                    format!("kubectl label pods -n {ns} -l {QUARANTINE_LABEL} {QUARANTINE_LABEL}-"),
                ]),
                Action::Scale { replicas: Replicas::Count(n) } => {
                    out.push(format!("kubectl annotate {res}/{d} -n {ns} {REPLICAS_BEFORE}=<current replicas> --overwrite"));
                    out.push(format!("kubectl scale {res}/{d} -n {ns} --replicas={n}"));
                }
                Action::Scale { .. } => out.push(format!(
                    "kubectl scale {res}/{d} -n {ns} --replicas=$(kubectl get {res}/{d} -n {ns} -o jsonpath='{{.metadata.annotations.palisade\\.io/replicas-before}}')"
                )),
                Action::RevokeCredentials => out.extend([
                    format!("kubectl get secrets -n {ns} --field-selector type=kubernetes.io/service-account-token  # those annotated with {d}'s service account: kubectl delete secret -n {ns} NAME"),
                    format!("kubectl get serviceaccount SA -n {ns} -o yaml > sa.yaml && kubectl delete serviceaccount SA -n {ns} && kubectl create -f sa.yaml  # SA = {d}'s serviceAccountName"),
                    format!("kubectl rollout restart {res}/{d} -n {ns}"),
                ]),
                Action::Rollback { to_revision, image, container, env } => {
                    out.push(match (image, env, to_revision) {
                        (Some(i), _, _) => format!("kubectl set image deployment/{d} -n {ns} {}={i}", container.as_deref().unwrap_or("<container>")),
                        (None, Some(e), _) => format!("kubectl set env deployment/{d} -n {ns} {}{e}", container.as_deref().map(|c| format!("-c {c} ")).unwrap_or_default()),
                        (None, None, Some(r)) => format!("kubectl rollout undo deployment/{d} -n {ns} --to-revision={r}"),
                        (None, None, None) => format!("kubectl rollout undo deployment/{d} -n {ns}"),
                    });
                }
                Action::Restart => out.push(format!("kubectl rollout restart {res}/{d} -n {ns}")),
                Action::Verify { checks, timeout_seconds } => {
                    for c in checks {
                        out.push(c.by_hand(w, *timeout_seconds));
                    }
                }
                Action::Cordon { .. } | Action::Uncordon | Action::Evict => {}
            }
        }
        match self {
            Action::Cordon { drain, timeout_seconds } => {
                for n in &scope.nodes {
                    out.push(format!("kubectl cordon {n}"));
                    if *drain {
                        out.push(format!("kubectl drain {n} --ignore-daemonsets --delete-emptydir-data --timeout={timeout_seconds}s"));
                    }
                }
            }
            Action::Uncordon => out.extend(scope.nodes.iter().map(|n| format!("kubectl uncordon {n}"))),
            Action::Evict => out.extend(scope.pods.iter().map(|p| {
                let (ns, name) = p.split_once('/').unwrap_or(("default", p));
                format!("kubectl create --raw /api/v1/namespaces/{ns}/pods/{name}/eviction -f - <<< '{{\"apiVersion\":\"policy/v1\",\"kind\":\"Eviction\",\"metadata\":{{\"name\":\"{name}\",\"namespace\":\"{ns}\"}}}}'")
            })),
            _ => {}
        }
        out
    }
}

/// A client from a kubeconfig file, or else as kubectl finds one (`KUBECONFIG`,
/// `~/.kube/config`, the in-cluster service account).
pub async fn connect(kubeconfig: Option<&std::path::Path>) -> Result<Client, String> {
    use kube::config::{KubeConfigOptions, Kubeconfig};
    let config = match kubeconfig {
        Some(p) => {
            let kc = Kubeconfig::read_from(p).map_err(|e| format!("{}: {e}", p.display()))?;
            kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
                .await
                .map_err(|e| format!("{}: {e}", p.display()))?
        }
        None => kube::Config::infer()
            .await
            .map_err(|e| format!("no Kubernetes configuration found: {e}"))?,
    };
    client(config)
}

/// kube retries 429s on its own, up to 15 times with a backoff growing towards minutes. An
/// eviction refused by a disruption budget is a 429 too: responders decide how long to wait
/// (`cordon`'s `timeout_seconds`), so that retrying is switched off.
fn client(mut config: kube::Config) -> Result<Client, String> {
    config.default_retry = false;
    Client::try_from(config).map_err(|e| format!("Kubernetes client: {e}"))
}

/// A client from kubeconfig text (the drills' in-process API server).
pub async fn connect_yaml(text: &str) -> Result<Client, String> {
    use kube::config::{KubeConfigOptions, Kubeconfig};
    let kc = Kubeconfig::from_yaml(text).map_err(|e| format!("kubeconfig: {e}"))?;
    let config = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .map_err(|e| format!("kubeconfig: {e}"))?;
    client(config)
}

/// Checks a rollback step's fields (at most one target).
pub fn rollout_target(
    to_revision: Option<i64>,
    image: &Option<String>,
    container: &Option<String>,
    env: &Option<String>,
) -> Result<(), String> {
    rollout::Target::from_step(to_revision, image, container, env).map(|_| ())
}

/// A kube error as one line: what was being done and the API server's answer.
pub fn api_error(what: &str, e: kube::Error) -> String {
    match e {
        kube::Error::Api(s) => format!("{what}: {} {}: {}", s.code, s.reason, s.message),
        other => format!("{what}: {other}"),
    }
}

pub fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
}

/// The deployments in scope (other workload kinds are not acted on).
pub fn deployments(scope: &Scope) -> impl Iterator<Item = &Workload> {
    scope.workloads.iter().filter(|w| w.kind == "Deployment")
}

pub async fn get_deployment(client: &Client, w: &Workload) -> Result<Option<Deployment>, String> {
    let api: Api<Deployment> = Api::namespaced(client.clone(), &w.namespace);
    api.get_opt(&w.name)
        .await
        .map_err(|e| api_error(&format!("reading deployment {}/{}", w.namespace, w.name), e))
}

/// The deployments in scope that exist, for rolling back (which reads a Deployment's replica
/// sets). One that does not (deleted since the signal), and workloads of other kinds, are
/// noted in `summary` and skipped.
pub async fn found_deployments(
    client: &Client,
    scope: &Scope,
    summary: &mut Vec<String>,
) -> Result<Vec<(Workload, Deployment)>, String> {
    let mut out = Vec::new();
    for w in scope.workloads.iter().filter(|w| w.kind != "Deployment") {
        summary.push(format!(
            "{w} left alone: rolling back acts on Deployments' revisions"
        ));
    }
    for w in deployments(scope) {
        match get_deployment(client, w).await? {
            Some(d) => out.push((w.clone(), d)),
            None => summary.push(format!("deployment {w} not found")),
        }
    }
    Ok(out)
}

/// Applies a patch to a deployment and records the object before and after as evidence.
pub async fn patch_deployment(
    client: &Client,
    w: &Workload,
    before: &Deployment,
    patch: Patch<Value>,
    what: &str,
    ev: &mut Vec<Evidence>,
) -> Result<Deployment, String> {
    let api: Api<Deployment> = Api::namespaced(client.clone(), &w.namespace);
    let after = api
        .patch(&w.name, &PatchParams::default(), &patch)
        .await
        .map_err(|e| api_error(&format!("{what} {w}"), e))?;
    record_change(ev, w, before, &after);
    Ok(after)
}

/// The deployment before and after a change, as evidence.
pub fn record_change(
    ev: &mut Vec<Evidence>,
    w: &Workload,
    before: &Deployment,
    after: &Deployment,
) {
    ev.push(Evidence::json(format!("before: deployment {w}"), before));
    ev.push(Evidence::json(format!("after: deployment {w}"), after));
}

/// The pod-template change a restart is (`kubectl rollout restart`), with a marker naming the
/// incident so that running the step again is a no-op.
pub fn restart_patch(marker: &str, incident: &str) -> Patch<Value> {
    Patch::Strategic(
        serde_json::json!({"spec": {"template": {"metadata": {"annotations": {
        "kubectl.kubernetes.io/restartedAt": palisade_core::time::Timestamp::now().to_string(),
        marker: incident}}}}}),
    )
}

/// The replica sets a deployment owns (its revision history); `meta` is the deployment's.
pub async fn replica_sets_of(
    client: &Client,
    meta: &kube::api::ObjectMeta,
) -> Result<Vec<k8s_openapi::api::apps::v1::ReplicaSet>, String> {
    let ns = meta.namespace.clone().unwrap_or_default();
    let uid = meta.uid.clone().unwrap_or_default();
    let api: Api<k8s_openapi::api::apps::v1::ReplicaSet> = Api::namespaced(client.clone(), &ns);
    Ok(api
        .list(&ListParams::default())
        .await
        .map_err(|e| api_error(&format!("listing replica sets in {ns}"), e))?
        .items
        .into_iter()
        .filter(|rs| {
            rs.metadata
                .owner_references
                .iter()
                .flatten()
                .any(|o| o.uid == uid)
        })
        .collect())
}

/// A label selector's string form (`a=b,c in (d)`).
pub fn selector_string(
    sel: &k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector,
) -> String {
    let mut parts: Vec<String> = sel
        .match_labels
        .iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    for e in sel.match_expressions.iter().flatten() {
        let vals = e.values.clone().unwrap_or_default().join(",");
        parts.push(match e.operator.as_str() {
            "In" => format!("{} in ({vals})", e.key),
            "NotIn" => format!("{} notin ({vals})", e.key),
            "Exists" => e.key.clone(),
            _ => format!("!{}", e.key),
        });
    }
    parts.join(",")
}

/// The JSON form of a typed object, for evidence.
pub fn to_value(v: &impl serde::Serialize) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}
