//! The workload controllers that quarantine, scale, restart and revoke act on — Deployments,
//! StatefulSets and DaemonSets — read and patched alike: their selector, replica count,
//! annotations and pod template are in the same places. (Rolling back to a previous revision
//! and the rollout check read a Deployment's replica sets and stay Deployment-only.)

use super::{Evidence, Scope, api_error};
use crate::signal::Workload;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::Client;
use kube::api::{
    Api, ApiResource, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams,
};
use serde_json::Value;

/// The controllers of pods this module reads.
pub const CONTROLLERS: [&str; 3] = ["Deployment", "StatefulSet", "DaemonSet"];

/// Their plural names in the API.
const PLURALS: [(&str, &str); 3] = [
    ("Deployment", "deployments"),
    ("StatefulSet", "statefulsets"),
    ("DaemonSet", "daemonsets"),
];

/// One controller as read from the cluster.
#[derive(Debug, Clone)]
pub struct Controller {
    pub workload: Workload,
    pub object: DynamicObject,
}

fn api(client: &Client, w: &Workload) -> Option<Api<DynamicObject>> {
    let (kind, plural) = PLURALS.iter().find(|(k, _)| *k == w.kind)?;
    let gvk = GroupVersionKind::gvk("apps", "v1", kind);
    let resource = ApiResource::from_gvk_with_plural(&gvk, plural);
    Some(Api::namespaced_with(
        client.clone(),
        &w.namespace,
        &resource,
    ))
}

/// The controllers in scope of the given kinds that exist now. Workloads of other kinds, and
/// ones deleted since the signal, are named in `summary` (`why_not` says why a kind is left
/// out) so that a step never passes over a workload in silence.
pub async fn found(
    client: &Client,
    scope: &Scope,
    kinds: &[&str],
    why_not: &str,
    summary: &mut Vec<String>,
) -> Result<Vec<Controller>, String> {
    let mut out = Vec::new();
    for w in &scope.workloads {
        let api = match api(client, w) {
            Some(api) if kinds.contains(&w.kind.as_str()) => api,
            _ => {
                summary.push(format!("{w} left alone: {why_not}"));
                continue;
            }
        };
        let kind = w.kind.to_lowercase();
        match api
            .get_opt(&w.name)
            .await
            .map_err(|e| api_error(&format!("reading {kind} {}/{}", w.namespace, w.name), e))?
        {
            Some(object) => out.push(Controller {
                workload: w.clone(),
                object,
            }),
            None => summary.push(format!("{kind} {w} not found")),
        }
    }
    Ok(out)
}

impl Controller {
    fn spec(&self) -> &Value {
        &self.object.data["spec"]
    }

    pub fn selector(&self) -> Option<LabelSelector> {
        serde_json::from_value(self.spec()["selector"].clone()).ok()
    }

    /// The replica count (absent means 1); `None` for a DaemonSet, which has none.
    pub fn replicas(&self) -> Option<i32> {
        (self.workload.kind != "DaemonSet").then(|| {
            self.spec()["replicas"]
                .as_i64()
                .map_or(1, |n| n.clamp(0, i32::MAX as i64) as i32)
        })
    }

    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.object
            .metadata
            .annotations
            .as_ref()?
            .get(key)
            .map(String::as_str)
    }

    pub fn template_annotation(&self, key: &str) -> Option<&str> {
        self.spec()["template"]["metadata"]["annotations"][key].as_str()
    }

    /// The service account its pods run as (`default` when none is named).
    pub fn service_account(&self) -> String {
        self.spec()["template"]["spec"]["serviceAccountName"]
            .as_str()
            .unwrap_or("default")
            .to_string()
    }

    /// Applies a patch and records the object before and after as evidence.
    pub async fn patch(
        &self,
        client: &Client,
        patch: Patch<Value>,
        what: &str,
        ev: &mut Vec<Evidence>,
    ) -> Result<Controller, String> {
        let w = &self.workload;
        let api = api(client, w).ok_or_else(|| format!("{w}: not a controller kind"))?;
        let after = api
            .patch(&w.name, &PatchParams::default(), &patch)
            .await
            .map_err(|e| api_error(&format!("{what} {w}"), e))?;
        let kind = w.kind.to_lowercase();
        ev.push(Evidence::json(format!("before: {kind} {w}"), &self.object));
        ev.push(Evidence::json(format!("after: {kind} {w}"), &after));
        Ok(Controller {
            workload: w.clone(),
            object: after,
        })
    }

    /// Its pods: those in its namespace its selector matches (none without a selector, never
    /// the whole namespace).
    pub async fn pods(&self, client: &Client) -> Result<Vec<Pod>, String> {
        let sel = self
            .selector()
            .map(|s| super::selector_string(&s))
            .unwrap_or_default();
        if sel.is_empty() {
            return Ok(Vec::new());
        }
        pods_matching(client, &self.workload.namespace, &sel).await
    }
}

/// The pods in `ns` that a label selector (in its string form) matches.
pub async fn pods_matching(client: &Client, ns: &str, sel: &str) -> Result<Vec<Pod>, String> {
    let api: Api<Pod> = Api::namespaced(client.clone(), ns);
    Ok(api
        .list(&ListParams::default().labels(sel))
        .await
        .map_err(|e| api_error(&format!("listing pods in {ns} ({sel})"), e))?
        .items)
}
