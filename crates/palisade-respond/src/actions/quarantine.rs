//! Quarantine: a deny-all ingress and egress NetworkPolicy over the workload's pods, and a
//! label on them saying which incident isolated them. Lifting removes both.

use super::controller::{self, Controller};
use super::{Done, Evidence, QUARANTINE_LABEL, Scope, api_error};
use crate::signal::Workload;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::Client;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

pub fn policy_name(w: &Workload) -> String {
    format!("palisade-quarantine-{}", w.name)
}

fn policy(incident: &str, w: &Workload, selector: Value) -> Value {
    json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": policy_name(w), "namespace": w.namespace,
                     "labels": {QUARANTINE_LABEL: incident},
                     "annotations": {"palisade.io/reason": format!("incident {incident}: isolate {w}")}},
        "spec": {"podSelector": selector, "policyTypes": ["Ingress", "Egress"]},
    })
}

/// The policy as YAML, for dry runs (the selector is the workload's, read at apply time).
pub fn policy_yaml(incident: &str, w: &Workload) -> String {
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: {}\n  namespace: {}\n  labels:\n    {QUARANTINE_LABEL}: {incident}\nspec:\n  podSelector: <the selector of {}>\n  policyTypes: [Ingress, Egress]\n",
        policy_name(w),
        w.namespace,
        w.name
    )
}

async fn label_pods(client: &Client, pods: &[Pod], value: Option<&str>) -> Result<usize, String> {
    let mut changed = 0;
    for p in pods {
        let current = p
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(QUARANTINE_LABEL))
            .map(String::as_str);
        if current == value {
            continue;
        }
        let ns = p.metadata.namespace.clone().unwrap_or_default();
        let name = p.metadata.name.clone().unwrap_or_default();
        let api: Api<Pod> = Api::namespaced(client.clone(), &ns);
        api.patch(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {QUARANTINE_LABEL: value}}})),
        )
        .await
        .map_err(|e| api_error(&format!("labelling pod {ns}/{name}"), e))?;
        changed += 1;
    }
    Ok(changed)
}

const WHY_NOT: &str = "quarantine isolates the pods of Deployments, StatefulSets and DaemonSets";

async fn controllers(
    client: &Client,
    scope: &Scope,
    summary: &mut Vec<String>,
) -> Result<Vec<Controller>, String> {
    controller::found(client, scope, &controller::CONTROLLERS, WHY_NOT, summary).await
}

pub async fn apply(client: &Client, scope: &Scope) -> Result<Done, String> {
    let (mut summary, mut ev, mut changed) = (Vec::new(), Vec::new(), false);
    for c in controllers(client, scope, &mut summary).await? {
        let w = c.workload.clone();
        let Some(selector) = c.selector().and_then(|s| serde_json::to_value(s).ok()) else {
            return Err(format!("{w} has no pod selector; cannot isolate its pods"));
        };
        let want = policy(&scope.incident, &w, selector);
        let api: Api<NetworkPolicy> = Api::namespaced(client.clone(), &w.namespace);
        let name = policy_name(&w);
        let existing = api
            .get_opt(&name)
            .await
            .map_err(|e| api_error(&format!("reading network policy {}/{name}", w.namespace), e))?;
        ev.push(Evidence::json(
            format!("before: network policy {}/{name}", w.namespace),
            &existing,
        ));
        let same = existing
            .as_ref()
            .is_some_and(|p| serde_json::to_value(&p.spec).ok() == Some(want["spec"].clone()));
        let after = if same {
            summary.push(format!("{name} already isolates {w}"));
            existing
        } else if existing.is_some() {
            changed = true;
            summary.push(format!("{name} updated to deny all traffic of {w}"));
            Some(
                api.patch(&name, &PatchParams::default(), &Patch::Merge(&want))
                    .await
                    .map_err(|e| api_error(&format!("updating network policy {name}"), e))?,
            )
        } else {
            changed = true;
            summary.push(format!(
                "{name} created: all ingress and egress of {w} denied"
            ));
            let np: NetworkPolicy = serde_json::from_value(want).map_err(|e| e.to_string())?;
            Some(
                api.create(&PostParams::default(), &np)
                    .await
                    .map_err(|e| api_error(&format!("creating network policy {name}"), e))?,
            )
        };
        ev.push(Evidence::json(
            format!("after: network policy {}/{name}", w.namespace),
            &after,
        ));
        let pods = c.pods(client).await?;
        let n = label_pods(client, &pods, Some(&scope.incident)).await?;
        if n > 0 {
            changed = true;
            summary.push(format!(
                "{n} pods labelled {QUARANTINE_LABEL}={}",
                scope.incident
            ));
        }
    }
    Ok(Done::new(changed, summary, ev))
}

pub async fn lift(client: &Client, scope: &Scope) -> Result<Done, String> {
    let (mut summary, mut ev, mut changed) = (Vec::new(), Vec::new(), false);
    for c in controllers(client, scope, &mut summary).await? {
        let w = &c.workload;
        let api: Api<NetworkPolicy> = Api::namespaced(client.clone(), &w.namespace);
        let name = policy_name(w);
        let existing = api
            .get_opt(&name)
            .await
            .map_err(|e| api_error(&format!("reading network policy {name}"), e))?;
        ev.push(Evidence::json(
            format!("before: network policy {}/{name}", w.namespace),
            &existing,
        ));
        if existing.is_some() {
            api.delete(&name, &DeleteParams::default())
                .await
                .map_err(|e| api_error(&format!("deleting network policy {name}"), e))?;
            changed = true;
            summary.push(format!("{name} deleted"));
        } else {
            summary.push(format!("{w} is not quarantined"));
        }
        let n = label_pods(client, &c.pods(client).await?, None).await?;
        if n > 0 {
            changed = true;
            summary.push(format!("label removed from {n} pods"));
        }
    }
    Ok(Done::new(changed, summary, ev))
}
