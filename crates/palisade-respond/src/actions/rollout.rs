//! What runs: scale, roll back (`kubectl rollout undo` semantics, or a named image or model
//! version), restart (`kubectl rollout restart`).

use super::{
    Done, Evidence, REPLICAS_BEFORE, Replicas, Scope, api_error, deployments, get_deployment,
    replica_sets_of,
};
use crate::signal::Workload;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use kube::Client;
use kube::api::{Api, Patch, PatchParams, PostParams};
use palisade_core::time::Timestamp;
use serde_json::json;

/// Annotation recording which incident rolled a workload back to its previous revision (a
/// second `rollout undo` would flip it forward again; a re-run must not).
pub const ROLLED_BACK_FOR: &str = "palisade.io/rolled-back-for";
/// Annotation recording which incident last restarted a workload (so a re-run is a no-op).
pub const RESTARTED_FOR: &str = "palisade.io/restarted-for";
const REVISION: &str = "deployment.kubernetes.io/revision";

fn deploy_api(client: &Client, w: &Workload) -> Api<Deployment> {
    Api::namespaced(client.clone(), &w.namespace)
}

fn replicas(d: &Deployment) -> i32 {
    d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

pub async fn scale(client: &Client, scope: &Scope, want: &Replicas) -> Result<Done, String> {
    let (mut summary, mut ev, mut changed) = (Vec::new(), Vec::new(), false);
    for w in deployments(scope) {
        let Some(d) = get_deployment(client, w).await? else {
            summary.push(format!("deployment {w} not found"));
            continue;
        };
        let now = replicas(&d);
        let recorded = d
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(REPLICAS_BEFORE))
            .and_then(|v| v.parse::<i32>().ok());
        let (target, annotation) = match want {
            Replicas::Count(n) if *n == 0 && now > 0 => (0, json!(now.to_string())),
            Replicas::Count(n) => (*n, json!(null)),
            Replicas::Previous(p) if p == "previous" => match recorded {
                Some(r) => (r, json!(null)),
                None if now > 0 => {
                    summary.push(format!("{w} already runs {now} replicas"));
                    continue;
                }
                None => {
                    return Err(format!(
                        "{w}: no replica count from before it was scaled to zero ({REPLICAS_BEFORE}); scale it by hand"
                    ));
                }
            },
            Replicas::Previous(other) => {
                return Err(format!(
                    "replicas: '{other}' is neither a number nor 'previous'"
                ));
            }
        };
        if target == now && (target == 0 || recorded.is_none()) {
            summary.push(format!("{w} already at {now} replicas"));
            continue;
        }
        ev.push(Evidence::json(format!("before: deployment {w}"), &d));
        let after = deploy_api(client, w)
            .patch(
                &w.name,
                &PatchParams::default(),
                &Patch::Merge(
                    json!({"metadata": {"annotations": {REPLICAS_BEFORE: annotation}},
                                     "spec": {"replicas": target}}),
                ),
            )
            .await
            .map_err(|e| api_error(&format!("scaling {w}"), e))?;
        ev.push(Evidence::json(format!("after: deployment {w}"), &after));
        changed = true;
        summary.push(format!("{w} scaled from {now} to {target} replicas"));
    }
    Ok(Done::new(changed, summary, ev))
}

/// Where a rollback goes.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    Previous,
    Revision(i64),
    Image {
        container: Option<String>,
        image: String,
    },
    Env {
        container: Option<String>,
        name: String,
        value: String,
    },
}

impl Target {
    pub fn from_step(
        to_revision: Option<i64>,
        image: &Option<String>,
        container: &Option<String>,
        env: &Option<String>,
    ) -> Result<Target, String> {
        match (to_revision, image, env) {
            (None, None, None) => Ok(Target::Previous),
            (Some(r), None, None) => Ok(Target::Revision(r)),
            (None, Some(i), None) => Ok(Target::Image {
                container: container.clone(),
                image: i.clone(),
            }),
            (None, None, Some(e)) => {
                let (name, value) = e
                    .split_once('=')
                    .ok_or_else(|| format!("rollback env '{e}' is not NAME=VALUE"))?;
                Ok(Target::Env {
                    container: container.clone(),
                    name: name.into(),
                    value: value.into(),
                })
            }
            _ => Err("a rollback names at most one of to_revision, image and env".into()),
        }
    }
}

fn revision_of(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> i64 {
    meta.annotations
        .as_ref()
        .and_then(|a| a.get(REVISION))
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

/// A template without what restarts change (`kubectl.kubernetes.io/restartedAt`, Palisade's
/// own markers): two templates equal after this run the same thing.
fn essence(t: &PodTemplateSpec) -> PodTemplateSpec {
    let mut t = t.clone();
    if let Some(a) = t.metadata.as_mut().and_then(|m| m.annotations.as_mut()) {
        a.retain(|k, _| k != "kubectl.kubernetes.io/restartedAt" && !k.starts_with("palisade.io/"));
        if a.is_empty() {
            t.metadata.as_mut().expect("metadata").annotations = None;
        }
    }
    t
}

/// A replica set's template as its deployment would carry it (without `pod-template-hash`).
fn template_of(rs: &ReplicaSet) -> Option<PodTemplateSpec> {
    let mut t = rs.spec.as_ref()?.template.clone()?;
    if let Some(m) = t.metadata.as_mut()
        && let Some(l) = m.labels.as_mut()
    {
        l.remove("pod-template-hash");
    }
    Some(t)
}

fn container_name(d: &Deployment, wanted: &Option<String>, w: &Workload) -> Result<String, String> {
    let names: Vec<String> = d
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .map(|s| s.containers.iter().map(|c| c.name.clone()).collect())
        .unwrap_or_default();
    match wanted {
        Some(c) if names.contains(c) => Ok(c.clone()),
        Some(c) => Err(format!(
            "{w} has no container '{c}' (it has: {})",
            names.join(", ")
        )),
        None if names.len() == 1 => Ok(names[0].clone()),
        None => Err(format!(
            "{w} has {} containers ({}); name the one to roll back with 'container'",
            names.len(),
            names.join(", ")
        )),
    }
}

pub async fn rollback(client: &Client, scope: &Scope, target: &Target) -> Result<Done, String> {
    let (mut summary, mut ev, mut changed) = (Vec::new(), Vec::new(), false);
    for w in deployments(scope) {
        let Some(d) = get_deployment(client, w).await? else {
            summary.push(format!("deployment {w} not found"));
            continue;
        };
        let api = deploy_api(client, w);
        let current_template = d.spec.as_ref().map(|s| s.template.clone());
        let patched = match target {
            Target::Previous | Target::Revision(_) => {
                let mut history = replica_sets_of(client, &d).await?;
                history.sort_by_key(|rs| revision_of(&rs.metadata));
                let current = revision_of(&d.metadata);
                let marker = d
                    .metadata
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get(ROLLED_BACK_FOR));
                if *target == Target::Previous && marker == Some(&scope.incident) {
                    summary.push(format!(
                        "{w} already rolled back for {} (now revision {current})",
                        scope.incident
                    ));
                    continue;
                }
                let chosen = match target {
                    Target::Revision(r) => history
                        .iter()
                        .find(|rs| revision_of(&rs.metadata) == *r)
                        .ok_or_else(|| {
                            format!(
                                "{w}: unable to find revision {r} in its history (revisions: {})",
                                history
                                    .iter()
                                    .map(|rs| revision_of(&rs.metadata).to_string())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            )
                        })?,
                    // The newest earlier revision that runs something else: a restart makes a
                    // revision too, but rolling back to it would change nothing.
                    _ => {
                        let now = current_template.as_ref().map(essence);
                        history
                            .iter()
                            .rev()
                            .filter(|rs| revision_of(&rs.metadata) < current)
                            .find(|rs| template_of(rs).map(|t| essence(&t)) != now)
                            .ok_or_else(|| format!("{w}: no earlier revision that runs something else than revision {current}"))?
                    }
                };
                let template = template_of(chosen).ok_or("the replica set has no template")?;
                let rev = revision_of(&chosen.metadata);
                if Some(&template) == current_template.as_ref() {
                    summary.push(format!("{w} already runs revision {rev}'s template"));
                    None
                } else {
                    ev.push(Evidence::json(format!("before: deployment {w}"), &d));
                    // Replace with the resourceVersion read: a concurrent change is a 409, not
                    // a lost update.
                    let mut next = d.clone();
                    if let Some(s) = next.spec.as_mut() {
                        s.template = template;
                    }
                    if *target == Target::Previous {
                        next.metadata
                            .annotations
                            .get_or_insert_default()
                            .insert(ROLLED_BACK_FOR.into(), scope.incident.clone());
                    }
                    let out = api
                        .replace(&w.name, &PostParams::default(), &next)
                        .await
                        .map_err(|e| {
                            api_error(&format!("rolling {w} back to revision {rev}"), e)
                        })?;
                    summary.push(format!(
                        "{w} rolled back from revision {current} to revision {rev}'s template"
                    ));
                    Some(out)
                }
            }
            Target::Image { container, image } => {
                let c = container_name(&d, container, w)?;
                let now = d
                    .spec
                    .as_ref()
                    .and_then(|s| s.template.spec.as_ref())
                    .and_then(|s| s.containers.iter().find(|x| x.name == c))
                    .and_then(|x| x.image.clone());
                if now.as_deref() == Some(image.as_str()) {
                    summary.push(format!("{w} container {c} already runs {image}"));
                    None
                } else {
                    ev.push(Evidence::json(format!("before: deployment {w}"), &d));
                    let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": c, "image": image}]}}}});
                    let out = api
                        .patch(&w.name, &PatchParams::default(), &Patch::Strategic(patch))
                        .await
                        .map_err(|e| api_error(&format!("setting the image of {w}"), e))?;
                    summary.push(format!(
                        "{w} container {c}: {} → {image}",
                        now.unwrap_or_default()
                    ));
                    Some(out)
                }
            }
            Target::Env {
                container,
                name,
                value,
            } => {
                let c = container_name(&d, container, w)?;
                let now = d
                    .spec
                    .as_ref()
                    .and_then(|s| s.template.spec.as_ref())
                    .and_then(|s| s.containers.iter().find(|x| x.name == c))
                    .and_then(|x| x.env.as_ref())
                    .and_then(|e| e.iter().find(|v| &v.name == name))
                    .and_then(|v| v.value.clone());
                if now.as_deref() == Some(value.as_str()) {
                    summary.push(format!("{w} container {c} already has {name}={value}"));
                    None
                } else {
                    ev.push(Evidence::json(format!("before: deployment {w}"), &d));
                    let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": c, "env": [{"name": name, "value": value}]}]}}}});
                    let out = api
                        .patch(&w.name, &PatchParams::default(), &Patch::Strategic(patch))
                        .await
                        .map_err(|e| api_error(&format!("setting {name} on {w}"), e))?;
                    summary.push(format!(
                        "{w} container {c}: {name} {} → {value}",
                        now.unwrap_or_else(|| "(unset)".into())
                    ));
                    Some(out)
                }
            }
        };
        if let Some(after) = patched {
            changed = true;
            ev.push(Evidence::json(format!("after: deployment {w}"), &after));
        }
    }
    Ok(Done::new(changed, summary, ev))
}

pub async fn restart(client: &Client, scope: &Scope) -> Result<Done, String> {
    let (mut summary, mut ev, mut changed) = (Vec::new(), Vec::new(), false);
    for w in deployments(scope) {
        let Some(d) = get_deployment(client, w).await? else {
            summary.push(format!("deployment {w} not found"));
            continue;
        };
        let done_for = d
            .spec
            .as_ref()
            .and_then(|s| s.template.metadata.as_ref())
            .and_then(|m| m.annotations.as_ref())
            .and_then(|a| a.get(RESTARTED_FOR))
            .cloned();
        if done_for.as_deref() == Some(scope.incident.as_str()) {
            summary.push(format!("{w} already restarted for {}", scope.incident));
            continue;
        }
        ev.push(Evidence::json(format!("before: deployment {w}"), &d));
        let patch = json!({"spec": {"template": {"metadata": {"annotations": {
            "kubectl.kubernetes.io/restartedAt": Timestamp::now().to_string(),
            RESTARTED_FOR: scope.incident}}}}});
        let after = deploy_api(client, w)
            .patch(&w.name, &PatchParams::default(), &Patch::Strategic(patch))
            .await
            .map_err(|e| api_error(&format!("restarting {w}"), e))?;
        ev.push(Evidence::json(format!("after: deployment {w}"), &after));
        changed = true;
        summary.push(format!("{w} restarted (new pods replace the old ones)"));
    }
    Ok(Done::new(changed, summary, ev))
}
