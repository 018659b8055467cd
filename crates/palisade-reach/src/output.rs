//! Rendering connectivity: netpol-analyzer's connlist lines, a readable text report (with
//! `--explain` reasons), and JSON.

use crate::analysis::{Edge, Network, Node, SideWhy};
use crate::policy::Direction;
use serde_json::{Value, json};

/// `src => dst : conns`, one line per edge, sorted: netpol-analyzer's `connlist` format.
pub fn connlist(net: &Network, edges: &[Edge]) -> String {
    let mut lines: Vec<String> = edges
        .iter()
        .filter(|e| !e.conns.is_empty())
        .map(|e| {
            format!(
                "{} => {} : {}",
                net.node_name(e.src),
                net.node_name(e.dst),
                e.conns
            )
        })
        .collect();
    lines.sort();
    let mut out = lines.join("\n");
    if !out.is_empty() {
        out.push('\n');
    }
    out
}

/// Why one side allows or denies, in words.
pub fn side_reason(net: &Network, dir: Direction, why: &SideWhy, who: &str) -> String {
    if why.open {
        return format!("no NetworkPolicy selects {who} for {} (open)", dir.as_str());
    }
    let key = dir.as_str();
    if why.rules.is_empty() {
        let names: Vec<String> = why.policies.iter().map(|p| net.policies[*p].id()).collect();
        return format!(
            "{} denied: {} select{} {who} and no {key} rule admits this peer and port",
            dir.as_str(),
            names.join(", "),
            if names.len() == 1 { "s" } else { "" }
        );
    }
    let rules: Vec<String> = why
        .rules
        .iter()
        .map(|r| {
            let p = &net.policies[r.policy];
            format!("NetworkPolicy {} spec.{key}[{}]", p.id(), r.rule)
        })
        .collect();
    format!("{} allowed by {}", dir.as_str(), rules.join(", "))
}

/// Both sides' reasons for an edge (egress at a workload source, ingress at a workload
/// destination).
pub fn reasons(net: &Network, e: &Edge) -> Vec<String> {
    let mut out = Vec::new();
    if let Node::Workload(_) = e.src {
        out.push(side_reason(
            net,
            Direction::Egress,
            &e.egress,
            &net.node_name(e.src),
        ));
    }
    if let Node::Workload(_) = e.dst {
        out.push(side_reason(
            net,
            Direction::Ingress,
            &e.ingress,
            &net.node_name(e.dst),
        ));
    }
    out
}

/// The text report: one line per edge, the reasons under it with `explain`.
pub fn text(net: &Network, edges: &[Edge], explain: bool) -> String {
    let mut out = String::new();
    let width = edges
        .iter()
        .map(|e| net.node_name(e.src).len())
        .max()
        .unwrap_or(0);
    for e in edges {
        let conns = if e.conns.is_empty() {
            "denied".to_string()
        } else {
            e.conns.to_string()
        };
        out.push_str(&format!(
            "{:<width$} => {} : {}\n",
            net.node_name(e.src),
            net.node_name(e.dst),
            conns
        ));
        if explain {
            for r in reasons(net, e) {
                out.push_str(&format!("    {r}\n"));
            }
        }
    }
    let allowed = edges.iter().filter(|e| !e.conns.is_empty()).count();
    out.push_str(&format!(
        "\n{allowed} allowed connection{} between {} workloads, {} NetworkPolic{}.\n",
        if allowed == 1 { "" } else { "s" },
        net.topo.workloads.len(),
        net.policies.len(),
        if net.policies.len() == 1 { "y" } else { "ies" },
    ));
    out.push_str(
        "Addresses outside the cluster are shown as IP ranges; ipBlocks are assumed not to match pod IPs (pod IPs are not in manifests).\n",
    );
    out
}

fn node_json(net: &Network, n: Node) -> Value {
    match n {
        Node::Workload(w) => {
            let w = &net.topo.workloads[w];
            json!({"kind": w.kind, "namespace": w.namespace, "name": w.name})
        }
        Node::Outside(r) => json!({"outside": r.to_string()}),
        Node::IngressController => json!({"ingress_controller": true}),
    }
}

/// JSON: `{"connections": [{src, dst, connections, allowed_by?}], "errors": [...]}`.
pub fn json(net: &Network, edges: &[Edge], explain: bool) -> Value {
    let conns: Vec<Value> = edges
        .iter()
        .map(|e| {
            let mut v = json!({
                "src": node_json(net, e.src),
                "dst": node_json(net, e.dst),
                "allowed": !e.conns.is_empty(),
                "connections": if e.conns.is_empty() { String::new() } else { e.conns.to_string() },
            });
            if explain {
                v["why"] = json!(reasons(net, e));
            }
            v
        })
        .collect();
    json!({
        "workloads": net.topo.workloads.len(),
        "policies": net.policies.len(),
        "connections": conns,
        "note": "ipBlocks are assumed not to match pod IPs",
    })
}
