//! Nodes and pods: cordon (and drain), uncordon, evict.

use super::{Done, Evidence, Scope, api_error, is_not_found};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::Client;
use kube::api::{Api, EvictParams, ListParams, Patch, PatchParams};
use serde_json::json;
use std::time::{Duration, Instant};

pub async fn cordon(
    client: &Client,
    scope: &Scope,
    on: bool,
    drain: bool,
    timeout_secs: u64,
) -> Result<Done, String> {
    let (mut summary, mut ev, mut changed) = (Vec::new(), Vec::new(), false);
    let api: Api<Node> = Api::all(client.clone());
    // The nodes the signals name (where the attacker was seen), not every node the workload
    // ran on: those are in the blast radius, to be looked at, not taken out of service.
    for n in scope.nodes.clone() {
        let node = match api.get(&n).await {
            Ok(node) => node,
            Err(e) if is_not_found(&e) => {
                summary.push(format!("node {n} is gone"));
                continue;
            }
            Err(e) => return Err(api_error(&format!("reading node {n}"), e)),
        };
        let now = node
            .spec
            .as_ref()
            .and_then(|s| s.unschedulable)
            .unwrap_or(false);
        if now == on {
            summary.push(format!(
                "node {n} already {}",
                if on { "cordoned" } else { "schedulable" }
            ));
        } else {
            ev.push(Evidence::json(format!("before: node {n}"), &node));
            let after = api
                .patch(
                    &n,
                    &PatchParams::default(),
                    &Patch::Merge(json!({"spec": {"unschedulable": on}})),
                )
                .await
                .map_err(|e| {
                    api_error(
                        &format!("{} node {n}", if on { "cordoning" } else { "uncordoning" }),
                        e,
                    )
                })?;
            ev.push(Evidence::json(format!("after: node {n}"), &after));
            changed = true;
            summary.push(format!(
                "node {n} {}",
                if on { "cordoned" } else { "uncordoned" }
            ));
        }
        if drain {
            let pods: Api<Pod> = Api::all(client.clone());
            let on_node = pods
                .list(&ListParams::default().fields(&format!("spec.nodeName={n}")))
                .await
                .map_err(|e| api_error(&format!("listing pods on {n}"), e))?
                .items;
            let movable: Vec<Pod> = on_node
                .into_iter()
                .filter(|p| !is_daemon_or_mirror(p))
                .collect();
            let (evicted, refused) = evict_all(client, &movable, timeout_secs).await?;
            if evicted > 0 {
                changed = true;
            }
            summary.push(format!("node {n} drained: {evicted} pods evicted"));
            if !refused.is_empty() {
                return Err(format!(
                    "draining node {n}: {} pods could not be evicted within {timeout_secs}s: {}",
                    refused.len(),
                    refused.join("; ")
                ));
            }
        }
    }
    Ok(Done::new(changed, summary, ev))
}

/// DaemonSet pods and static (mirror) pods are left in place, as `kubectl drain
/// --ignore-daemonsets` does.
fn is_daemon_or_mirror(p: &Pod) -> bool {
    p.metadata
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.kind == "DaemonSet")
        || p.metadata
            .annotations
            .as_ref()
            .is_some_and(|a| a.contains_key("kubernetes.io/config.mirror"))
}

/// Evicts pods, retrying those a disruption budget protects (429) until the timeout. Returns
/// how many went and, for each that did not, why.
async fn evict_all(
    client: &Client,
    pods: &[Pod],
    timeout_secs: u64,
) -> Result<(usize, Vec<String>), String> {
    let deadline = Instant::now() + Duration::from_secs(timeout_secs);
    let mut evicted = 0;
    let mut refused = Vec::new();
    for p in pods {
        let ns = p.metadata.namespace.clone().unwrap_or_default();
        let name = p.metadata.name.clone().unwrap_or_default();
        let api: Api<Pod> = Api::namespaced(client.clone(), &ns);
        loop {
            match api.evict(&name, &EvictParams::default()).await {
                Ok(_) => {
                    evicted += 1;
                    break;
                }
                Err(e) if is_not_found(&e) => break,
                Err(kube::Error::Api(s)) if s.code == 429 => {
                    if Instant::now() >= deadline {
                        refused.push(format!("{ns}/{name}: {}", s.message));
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(e) => return Err(api_error(&format!("evicting {ns}/{name}"), e)),
            }
        }
    }
    Ok((evicted, refused))
}

pub async fn evict_scope(client: &Client, scope: &Scope) -> Result<Done, String> {
    let mut pods = Vec::new();
    let mut summary = Vec::new();
    for p in &scope.pods {
        let (ns, name) = p.split_once('/').unwrap_or(("default", p));
        let api: Api<Pod> = Api::namespaced(client.clone(), ns);
        match api.get(name).await {
            Ok(pod) => pods.push(pod),
            Err(e) if is_not_found(&e) => summary.push(format!("pod {p} already gone")),
            Err(e) => return Err(api_error(&format!("reading pod {p}"), e)),
        }
    }
    let ev: Vec<Evidence> = pods
        .iter()
        .map(|p| {
            Evidence::json(
                format!(
                    "before: pod {}/{}",
                    p.metadata.namespace.clone().unwrap_or_default(),
                    p.metadata.name.clone().unwrap_or_default()
                ),
                p,
            )
        })
        .collect();
    let (evicted, refused) = evict_all(client, &pods, 0).await?;
    if evicted > 0 {
        summary.push(format!("{evicted} pods evicted"));
    }
    if !refused.is_empty() {
        return Err(format!("evictions refused: {}", refused.join("; ")));
    }
    Ok(Done::new(evicted > 0, summary, ev))
}
