//! What runs: scale, roll back (`kubectl rollout undo` semantics, or a named image or model
//! version), restart (`kubectl rollout restart`).

use super::{
    Done, Evidence, REPLICAS_BEFORE, Replicas, Scope, api_error, controller, found_deployments,
    patch_deployment, record_change, replica_sets_of, restart_patch,
};
use crate::signal::Workload;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use kube::Client;
use kube::api::{Api, Patch, PostParams};
use serde_json::json;

/// Annotation recording which incident rolled a workload back to its previous revision (a
/// second `rollout undo` would flip it forward again; a re-run must not).
pub const ROLLED_BACK_FOR: &str = "palisade.io/rolled-back-for";
/// Annotation recording which incident last restarted a workload (so a re-run is a no-op).
pub const RESTARTED_FOR: &str = "palisade.io/restarted-for";
const REVISION: &str = "deployment.kubernetes.io/revision";
/// Why restarts (and revocation's restart) leave a workload alone.
pub const NO_PODS: &str = "only Deployments, StatefulSets and DaemonSets restart their pods";

pub async fn scale(client: &Client, scope: &Scope, want: &Replicas) -> Result<Done, String> {
    let (mut summary, mut ev, mut changed) = (Vec::new(), Vec::new(), false);
    let why_not =
        "only Deployments and StatefulSets have replicas (quarantine or cordon for the rest)";
    let scalable = ["Deployment", "StatefulSet"];
    for c in controller::found(client, scope, &scalable, why_not, &mut summary).await? {
        let w = &c.workload;
        let now = c.replicas().unwrap_or(0);
        let recorded = c
            .annotation(REPLICAS_BEFORE)
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
        let patch = Patch::Merge(
            json!({"metadata": {"annotations": {REPLICAS_BEFORE: annotation}},
                                        "spec": {"replicas": target}}),
        );
        c.patch(client, patch, "scaling", &mut ev).await?;
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

/// The container of a deployment's pod template.
fn container<'a>(
    d: &'a Deployment,
    name: &str,
) -> Option<&'a k8s_openapi::api::core::v1::Container> {
    d.spec
        .as_ref()?
        .template
        .spec
        .as_ref()?
        .containers
        .iter()
        .find(|x| x.name == name)
}

pub async fn rollback(client: &Client, scope: &Scope, target: &Target) -> Result<Done, String> {
    let (mut summary, mut ev, mut changed) = (Vec::new(), Vec::new(), false);
    for (w, d) in found_deployments(client, scope, &mut summary).await? {
        // What to change, as a strategic merge patch of one container, or a whole template.
        let (patch, what, done) = match target {
            Target::Previous | Target::Revision(_) => {
                let (did, line) = undo(client, &w, &d, target, &scope.incident, &mut ev).await?;
                changed |= did;
                summary.push(line);
                continue;
            }
            Target::Image {
                container: c,
                image,
            } => {
                let c = container_name(&d, c, &w)?;
                let now = container(&d, &c).and_then(|x| x.image.clone());
                if now.as_deref() == Some(image.as_str()) {
                    summary.push(format!("{w} container {c} already runs {image}"));
                    continue;
                }
                (
                    json!({"spec": {"template": {"spec": {"containers": [{"name": c, "image": image}]}}}}),
                    "setting the image of",
                    format!("{w} container {c}: {} → {image}", now.unwrap_or_default()),
                )
            }
            Target::Env {
                container: c,
                name,
                value,
            } => {
                let c = container_name(&d, c, &w)?;
                let now = container(&d, &c)
                    .and_then(|x| x.env.as_ref())
                    .and_then(|e| e.iter().find(|v| &v.name == name))
                    .and_then(|v| v.value.clone());
                if now.as_deref() == Some(value.as_str()) {
                    summary.push(format!("{w} container {c} already has {name}={value}"));
                    continue;
                }
                (
                    json!({"spec": {"template": {"spec": {"containers": [{"name": c, "env": [{"name": name, "value": value}]}]}}}}),
                    "setting a variable of",
                    format!(
                        "{w} container {c}: {name} {} → {value}",
                        now.unwrap_or_else(|| "(unset)".into())
                    ),
                )
            }
        };
        patch_deployment(client, &w, &d, Patch::Strategic(patch), what, &mut ev).await?;
        changed = true;
        summary.push(done);
    }
    Ok(Done::new(changed, summary, ev))
}

/// `kubectl rollout undo`: the deployment's template replaced by an earlier revision's.
/// Whether it changed anything, and what it did.
async fn undo(
    client: &Client,
    w: &Workload,
    d: &Deployment,
    target: &Target,
    incident: &str,
    ev: &mut Vec<Evidence>,
) -> Result<(bool, String), String> {
    let current = revision_of(&d.metadata);
    let marker = d
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(ROLLED_BACK_FOR));
    if *target == Target::Previous && marker.map(String::as_str) == Some(incident) {
        return Ok((
            false,
            format!("{w} already rolled back for {incident} (now revision {current})"),
        ));
    }
    let mut history = replica_sets_of(client, &d.metadata).await?;
    history.sort_by_key(|rs| revision_of(&rs.metadata));
    let current_template = d.spec.as_ref().map(|s| s.template.clone());
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
        // The newest earlier revision that runs something else: a restart makes a revision
        // too, but rolling back to it would change nothing.
        _ => {
            let now = current_template.as_ref().map(essence);
            history
                .iter()
                .rev()
                .filter(|rs| revision_of(&rs.metadata) < current)
                .find(|rs| template_of(rs).map(|t| essence(&t)) != now)
                .ok_or_else(|| {
                    format!(
                        "{w}: no earlier revision that runs something else than revision {current}"
                    )
                })?
        }
    };
    let template = template_of(chosen).ok_or("the replica set has no template")?;
    let rev = revision_of(&chosen.metadata);
    if Some(&template) == current_template.as_ref() {
        return Ok((false, format!("{w} already runs revision {rev}'s template")));
    }
    // Replace with the resourceVersion read: a concurrent change is a 409, not a lost update.
    let mut next = d.clone();
    if let Some(s) = next.spec.as_mut() {
        s.template = template;
    }
    if *target == Target::Previous {
        next.metadata
            .annotations
            .get_or_insert_default()
            .insert(ROLLED_BACK_FOR.into(), incident.to_string());
    }
    let api: Api<Deployment> = Api::namespaced(client.clone(), &w.namespace);
    let after = api
        .replace(&w.name, &PostParams::default(), &next)
        .await
        .map_err(|e| api_error(&format!("rolling {w} back to revision {rev}"), e))?;
    record_change(ev, w, d, &after);
    Ok((
        true,
        format!("{w} rolled back from revision {current} to revision {rev}'s template"),
    ))
}

pub async fn restart(client: &Client, scope: &Scope) -> Result<Done, String> {
    let (mut summary, mut ev, mut changed) = (Vec::new(), Vec::new(), false);
    for c in controller::found(
        client,
        scope,
        &controller::CONTROLLERS,
        NO_PODS,
        &mut summary,
    )
    .await?
    {
        let w = &c.workload;
        if c.template_annotation(RESTARTED_FOR) == Some(scope.incident.as_str()) {
            summary.push(format!("{w} already restarted for {}", scope.incident));
            continue;
        }
        let patch = restart_patch(RESTARTED_FOR, &scope.incident);
        c.patch(client, patch, "restarting", &mut ev).await?;
        changed = true;
        summary.push(format!("{w} restarted (new pods replace the old ones)"));
    }
    Ok(Done::new(changed, summary, ev))
}
