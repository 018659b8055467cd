//! `palisade reach --generate`: least-privilege NetworkPolicies for a stated intent — default
//! deny (ingress and egress) for every namespace the intent touches, DNS egress to kube-dns, and
//! exactly the allowed edges — then a proof: the generated YAML is parsed back into policies,
//! added to the manifests' own, and the connectivity recomputed, so what is printed is what was
//! checked.

use crate::analysis::{Focus, Network, Node, Want};
use crate::policy;
use crate::ports::{Conns, Protocol};
use crate::topology::{Labels, NAMESPACE_NAME_LABEL};
use palisade_k8s::load::{Manifests, load_text};

use std::collections::BTreeSet;
use std::fmt::Write;

/// One allowed edge: `FROM -> TO` or `FROM -> TO : TCP 8501`.
#[derive(Debug, Clone)]
pub struct AllowEdge {
    pub text: String,
    pub from: Focus,
    pub to: Focus,
    pub ports: Option<Conns>,
}

#[derive(Debug, Clone, Default)]
pub struct Intent {
    pub edges: Vec<AllowEdge>,
}

impl Intent {
    pub fn parse(list: &[String]) -> Result<Intent, String> {
        if list.is_empty() {
            return Err("--generate needs at least one --allow 'FROM -> TO [: PORTS]'".into());
        }
        let edges = list
            .iter()
            .map(|s| {
                let (ends, ports) = match s.split_once(" : ") {
                    Some((e, p)) => (e, Some(p)),
                    None => (s.as_str(), None),
                };
                let (from, to) = ends
                    .split_once("->")
                    .ok_or_else(|| format!("--allow '{s}': write it as 'FROM -> TO [: PORTS]'"))?;
                let ports = ports
                    .map(|p| {
                        Conns::parse(p).filter(|c| !c.is_empty()).ok_or_else(|| {
                            format!("--allow '{s}': cannot read ports '{p}' (e.g. TCP 8501)")
                        })
                    })
                    .transpose()?;
                Ok(AllowEdge {
                    text: s.clone(),
                    from: Focus::parse(from).map_err(|e| format!("--allow '{s}': {e}"))?,
                    to: Focus::parse(to).map_err(|e| format!("--allow '{s}': {e}"))?,
                    ports,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        if edges
            .iter()
            .any(|e| matches!(e.from, Focus::Outside) && matches!(e.to, Focus::Outside))
        {
            return Err("--allow: an edge from outside to outside is not a cluster policy".into());
        }
        Ok(Intent { edges })
    }
}

pub struct Generated {
    pub yaml: String,
}

/// Labels every pod of the workload carries (what selects exactly its pods).
fn workload_labels(net: &Network, w: usize) -> Labels {
    let eps = &net.topo.workloads[w].endpoints;
    let mut common: Labels = net.topo.endpoints[eps[0]].labels.clone();
    for &e in &eps[1..] {
        let l = &net.topo.endpoints[e].labels;
        common.retain(|kv| l.contains(kv));
    }
    common.sort();
    common.dedup();
    common
}

fn matching(net: &Network, f: &Focus) -> Vec<usize> {
    (0..net.topo.workloads.len())
        .filter(|&w| net.node_matches(f, Node::Workload(w)))
        .collect()
}

/// A YAML scalar: plain when it reads back as the same string, double-quoted otherwise.
fn q(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
        && s.starts_with(|c: char| c.is_ascii_alphabetic())
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n" | "null"
        );
    if plain {
        s.to_string()
    } else {
        serde_json::to_string(s).expect("string serialises")
    }
}

fn selector_yaml(out: &mut String, indent: &str, key: &str, labels: &Labels) {
    if labels.is_empty() {
        let _ = writeln!(out, "{indent}{key}: {{}}");
        return;
    }
    let _ = writeln!(out, "{indent}{key}:");
    let _ = writeln!(out, "{indent}  matchLabels:");
    for (k, v) in labels {
        let _ = writeln!(out, "{indent}    {}: {}", q(k), q(v));
    }
}

fn ports_yaml(out: &mut String, indent: &str, c: &Conns) {
    if c.is_all() {
        return;
    }
    let _ = writeln!(out, "{indent}ports:");
    for p in Protocol::ALL {
        for &(lo, hi) in c.ports(p).ranges() {
            let _ = write!(out, "{indent}- {{protocol: {}, port: {lo}", p.as_str());
            if hi != lo {
                let _ = write!(out, ", endPort: {hi}");
            }
            out.push_str("}\n");
        }
    }
}

fn header(out: &mut String, name: &str, ns: &str, why: &str) {
    out.push_str("---\n");
    let _ = writeln!(out, "# {why}");
    out.push_str("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n");
    let _ = writeln!(out, "  name: {}", q(name));
    let _ = writeln!(out, "  namespace: {}", q(ns));
    out.push_str("  labels: {app.kubernetes.io/managed-by: palisade}\n");
}

/// The ports an edge allows towards a workload: the stated ones, else the ports its
/// containers declare, else all.
fn edge_ports(net: &Network, e: &AllowEdge, dst: Option<usize>) -> Conns {
    if let Some(p) = &e.ports {
        return p.clone();
    }
    let Some(w) = dst else { return Conns::all() };
    let mut c = Conns::none();
    for &ep in &net.topo.workloads[w].endpoints {
        for &(proto, port) in &net.topo.endpoints[ep].ports {
            c.add(&Conns::of(proto, crate::ports::PortSet::range(port, port)));
        }
    }
    if c.is_empty() { Conns::all() } else { c }
}

fn slug(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    out.truncate(40);
    out.trim_matches('-').to_string()
}

fn peer_yaml(out: &mut String, indent: &str, net: &Network, w: usize) {
    let wl = &net.topo.workloads[w];
    let _ = writeln!(out, "{indent}- namespaceSelector:");
    let _ = writeln!(
        out,
        "{indent}    matchLabels: {{{}: {}}}",
        q(NAMESPACE_NAME_LABEL),
        q(&wl.namespace)
    );
    selector_yaml(
        out,
        &format!("{indent}  "),
        "podSelector",
        &workload_labels(net, w),
    );
}

pub fn generate(net: &Network, intent: &Intent) -> Result<Generated, String> {
    let mut namespaces = BTreeSet::new();
    let mut resolved = Vec::new();
    for e in &intent.edges {
        let side = |f: &Focus| -> Result<Option<Vec<usize>>, String> {
            if matches!(f, Focus::Outside) {
                return Ok(None);
            }
            let ws = matching(net, f);
            if ws.is_empty() {
                return Err(format!("--allow '{}': no workload matches", e.text));
            }
            for &w in &ws {
                if workload_labels(net, w).is_empty() {
                    return Err(format!(
                        "--allow '{}': {} has no labels, so no policy can select its pods",
                        e.text,
                        net.topo.workloads[w].id()
                    ));
                }
            }
            Ok(Some(ws))
        };
        let (srcs, dsts) = (side(&e.from)?, side(&e.to)?);
        for w in srcs.iter().chain(dsts.iter()).flatten() {
            namespaces.insert(net.topo.workloads[*w].namespace.clone());
        }
        resolved.push((e, srcs, dsts));
    }

    let mut y = String::new();
    let _ = writeln!(
        y,
        "# Generated by `palisade reach --generate` for:\n{}",
        intent
            .edges
            .iter()
            .map(|e| format!("#   {}", e.text))
            .collect::<Vec<_>>()
            .join("\n")
    );
    for ns in &namespaces {
        header(
            &mut y,
            "palisade-default-deny",
            ns,
            "deny all ingress and egress not allowed below",
        );
        y.push_str("spec:\n  podSelector: {}\n  policyTypes: [Ingress, Egress]\n");
        header(
            &mut y,
            "palisade-allow-dns",
            ns,
            "every pod may resolve names through kube-dns",
        );
        y.push_str("spec:\n  podSelector: {}\n  policyTypes: [Egress]\n  egress:\n  - to:\n");
        let _ = writeln!(
            y,
            "    - namespaceSelector:\n        matchLabels: {{{}: \"kube-system\"}}\n      podSelector:\n        matchLabels: {{k8s-app: kube-dns}}",
            q(NAMESPACE_NAME_LABEL)
        );
        y.push_str(
            "    ports:\n    - {protocol: UDP, port: 53}\n    - {protocol: TCP, port: 53}\n",
        );
    }
    for (i, (e, srcs, dsts)) in resolved.iter().enumerate() {
        // Ingress at each destination.
        for &d in dsts.iter().flatten() {
            let wl = &net.topo.workloads[d];
            header(
                &mut y,
                &format!("palisade-allow-{}-ingress-{}", i + 1, slug(&wl.name)),
                &wl.namespace,
                &format!("{}: ingress at {}", e.text, wl.id()),
            );
            y.push_str("spec:\n");
            selector_yaml(&mut y, "  ", "podSelector", &workload_labels(net, d));
            y.push_str("  policyTypes: [Ingress]\n  ingress:\n  - from:\n");
            match srcs {
                None => y.push_str("    - ipBlock: {cidr: 0.0.0.0/0}\n"),
                Some(ws) => ws.iter().for_each(|&s| peer_yaml(&mut y, "    ", net, s)),
            }
            ports_yaml(&mut y, "    ", &edge_ports(net, e, Some(d)));
        }
        // Egress at each source.
        for &s in srcs.iter().flatten() {
            let wl = &net.topo.workloads[s];
            header(
                &mut y,
                &format!("palisade-allow-{}-egress-{}", i + 1, slug(&wl.name)),
                &wl.namespace,
                &format!("{}: egress from {}", e.text, wl.id()),
            );
            y.push_str("spec:\n");
            selector_yaml(&mut y, "  ", "podSelector", &workload_labels(net, s));
            y.push_str("  policyTypes: [Egress]\n  egress:\n");
            match dsts {
                None => {
                    y.push_str("  - to:\n    - ipBlock: {cidr: 0.0.0.0/0}\n");
                    ports_yaml(&mut y, "    ", &edge_ports(net, e, None));
                }
                Some(ws) => {
                    for &d in ws {
                        y.push_str("  - to:\n");
                        peer_yaml(&mut y, "    ", net, d);
                        ports_yaml(&mut y, "    ", &edge_ports(net, e, Some(d)));
                    }
                }
            }
        }
    }
    Ok(Generated { yaml: y })
}

pub struct Proof {
    pub holds: bool,
    pub summary: String,
}

/// Read the generated policies back beside the manifests and check that exactly the intent
/// holds: each allowed edge gets its ports, and nothing else reaches the intent's destinations.
pub fn prove(before: &Network, yaml: &str, intent: &Intent) -> Result<Proof, String> {
    let mut generated = Manifests::default();
    load_text(&mut generated, "<generated>".into(), yaml.to_string());
    let mut errors = Vec::new();
    let read_back = policy::read_all(&generated, &mut errors);
    if let Some(e) = generated.errors.first() {
        return Err(format!(
            "generated policies do not read back: {}",
            e.message
        ));
    }
    if let Some(e) = errors.first() {
        return Err(format!(
            "generated policies do not read back: {}",
            e.message
        ));
    }
    // The manifests' workloads and policies as they were, plus the generated ones as read.
    let mut policies = before.policies.clone();
    policies.extend(read_back);
    let net = Network::new(before.topo.clone(), policies, Vec::new());
    let mut s = String::new();
    let mut holds = true;
    let _ = writeln!(
        s,
        "proof (the generated policies read back with the manifests):"
    );
    for e in &intent.edges {
        let edges = net.connectivity(Some(&e.from), Some(&e.to), Want::ALL);
        let mut ok = !edges.is_empty();
        for edge in &edges {
            let want = edge_ports(
                &net,
                e,
                match edge.dst {
                    Node::Workload(w) => Some(w),
                    _ => None,
                },
            );
            if !edge.conns.covers(&want) {
                ok = false;
                let _ = writeln!(
                    s,
                    "  FAIL {} => {}: needs {want}, allowed {}",
                    net.node_name(edge.src),
                    net.node_name(edge.dst),
                    if edge.conns.is_empty() {
                        "nothing".to_string()
                    } else {
                        edge.conns.to_string()
                    }
                );
            }
        }
        let _ = writeln!(s, "  {} {}", if ok { "ok  " } else { "FAIL" }, e.text);
        holds &= ok;
    }
    // Nothing outside the intent reaches its destinations.
    for e in &intent.edges {
        for edge in net.connectivity(None, Some(&e.to), Want::WHY) {
            let intended = intent
                .edges
                .iter()
                .any(|i| net.node_matches(&i.from, edge.src) && net.node_matches(&i.to, edge.dst));
            if !intended {
                holds = false;
                let _ = writeln!(
                    s,
                    "  FAIL {} => {} : {} is allowed by other policies ({})",
                    net.node_name(edge.src),
                    net.node_name(edge.dst),
                    edge.conns,
                    crate::output::side_reason(
                        &net,
                        crate::policy::Direction::Ingress,
                        &edge.ingress,
                        &net.node_name(edge.dst)
                    )
                );
            }
        }
    }
    let _ = writeln!(
        s,
        "{}",
        if holds {
            "the intent holds: each edge is allowed, and nothing else reaches its destinations"
        } else {
            "the intent does NOT hold (see FAIL lines)"
        }
    );
    Ok(Proof { holds, summary: s })
}
