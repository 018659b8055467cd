//! Evidence collection: everything an investigator needs, taken before anything changes.

use super::controller::CONTROLLERS;
use super::{
    Done, Evidence, Scope, api_error, controller, is_not_found, replica_sets_of, to_value,
};
use k8s_openapi::api::core::v1::{Event, Node, Pod, Service};
use kube::Client;
use kube::api::{Api, ListParams, LogParams};
use serde_json::json;
use std::collections::BTreeSet;

pub async fn collect(client: &Client, scope: &Scope, tail: i64) -> Result<Done, String> {
    let mut ev = Vec::new();
    let mut summary = Vec::new();
    let mut pods: Vec<Pod> = Vec::new();
    let why_not = "not a controller of pods; its pods named by the signals are collected";
    for c in controller::found(client, scope, &CONTROLLERS, why_not, &mut summary).await? {
        let w = &c.workload;
        let kind = w.kind.to_lowercase();
        ev.push(Evidence::json(
            format!("{kind} {}/{}", w.namespace, w.name),
            &c.object,
        ));
        if w.kind == "Deployment" {
            let sets = replica_sets_of(client, &c.object.metadata).await?;
            ev.push(Evidence::json(
                format!("replicasets of {}/{}", w.namespace, w.name),
                &sets,
            ));
            summary.push(format!(
                "{w}: the deployment and {} replica sets",
                sets.len()
            ));
        } else {
            summary.push(format!("{w}: the {kind}"));
        }
        pods.extend(c.pods(client).await?);
    }
    // Pods named by the signals that are not part of a workload in scope.
    for p in &scope.pods {
        let (ns, name) = p.split_once('/').unwrap_or(("default", p));
        if pods.iter().any(|x| {
            x.metadata.name.as_deref() == Some(name) && x.metadata.namespace.as_deref() == Some(ns)
        }) {
            continue;
        }
        let api: Api<Pod> = Api::namespaced(client.clone(), ns);
        match api.get(name).await {
            Ok(pod) => pods.push(pod),
            Err(e) if is_not_found(&e) => summary.push(format!("pod {p} is gone")),
            Err(e) => return Err(api_error(&format!("reading pod {p}"), e)),
        }
    }
    let mut nodes: BTreeSet<String> = scope.nodes.iter().cloned().collect();
    let mut images = Vec::new();
    for pod in &pods {
        let ns = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        ev.push(Evidence::json(format!("pod {ns}/{name}"), pod));
        nodes.extend(pod.spec.as_ref().and_then(|s| s.node_name.clone()));
        for cs in pod
            .status
            .as_ref()
            .and_then(|s| s.container_statuses.clone())
            .unwrap_or_default()
        {
            images.push(json!({"pod": format!("{ns}/{name}"), "container": cs.name,
                               "image": cs.image, "imageID": cs.image_id}));
        }
        let api: Api<Pod> = Api::namespaced(client.clone(), &ns);
        let containers: Vec<String> = pod
            .spec
            .as_ref()
            .map(|s| s.containers.iter().map(|c| c.name.clone()).collect())
            .unwrap_or_default();
        for c in containers {
            for previous in [false, true] {
                let lp = LogParams {
                    container: Some(c.clone()),
                    previous,
                    tail_lines: Some(tail),
                    ..LogParams::default()
                };
                let which = if previous { "previous" } else { "current" };
                match api.logs(&name, &lp).await {
                    Ok(text) => ev.push(Evidence::text(
                        format!("logs {ns}/{name}/{c} ({which})"),
                        text,
                    )),
                    // No previous container (it never restarted) is an answer, not a failure.
                    Err(kube::Error::Api(s)) if previous && s.code == 400 => {}
                    Err(e) => {
                        return Err(api_error(&format!("reading logs of {ns}/{name}/{c}"), e));
                    }
                }
            }
        }
        let ev_api: Api<Event> = Api::namespaced(client.clone(), &ns);
        let events = ev_api
            .list(&ListParams::default().fields(&format!("involvedObject.name={name}")))
            .await
            .map_err(|e| api_error(&format!("listing events of {ns}/{name}"), e))?;
        ev.push(Evidence::json(
            format!("events of {ns}/{name}"),
            &events.items,
        ));
    }
    let node_api: Api<Node> = Api::all(client.clone());
    for n in &nodes {
        match node_api.get(n).await {
            Ok(node) => ev.push(Evidence::json(format!("node {n}"), &to_value(&node))),
            Err(e) if is_not_found(&e) => summary.push(format!("node {n} is gone")),
            Err(e) => return Err(api_error(&format!("reading node {n}"), e)),
        }
    }
    if !images.is_empty() {
        ev.push(Evidence::json("image digests", &images));
    }
    // The services that send traffic to these pods: the blast radius by inventory.
    let mut found: Vec<(&'static str, String)> = Vec::new();
    let namespaces: BTreeSet<String> = pods
        .iter()
        .filter_map(|p| p.metadata.namespace.clone())
        .collect();
    for ns in &namespaces {
        let api: Api<Service> = Api::namespaced(client.clone(), ns);
        let services = api
            .list(&ListParams::default())
            .await
            .map_err(|e| api_error(&format!("listing services in {ns}"), e))?;
        for svc in services.items {
            let Some(sel) = svc
                .spec
                .as_ref()
                .and_then(|s| s.selector.clone())
                .filter(|s| !s.is_empty())
            else {
                continue;
            };
            let selects = pods.iter().any(|p| {
                p.metadata.namespace.as_deref() == Some(ns)
                    && sel
                        .iter()
                        .all(|(k, v)| p.metadata.labels.as_ref().and_then(|l| l.get(k)) == Some(v))
            });
            if selects {
                let name = format!("{ns}/{}", svc.metadata.name.clone().unwrap_or_default());
                ev.push(Evidence::json(format!("service {name}"), &svc));
                found.push(("services", name));
            }
        }
    }
    for p in &pods {
        found.push((
            "pods",
            format!(
                "{}/{}",
                p.metadata.namespace.clone().unwrap_or_default(),
                p.metadata.name.clone().unwrap_or_default()
            ),
        ));
    }
    found.extend(nodes.iter().map(|n| ("hosts", n.clone())));
    found.extend(
        images
            .iter()
            .filter_map(|i| i["image"].as_str().map(|s| ("images", s.to_string()))),
    );
    if !pods.is_empty() {
        summary.push(format!(
            "{} pods on {} nodes, {} containers' image digests; {} pieces of evidence",
            pods.len(),
            nodes.len(),
            images.len(),
            ev.len()
        ));
    }
    let mut done = Done::read_only(summary, ev);
    done.found = found;
    Ok(done)
}
