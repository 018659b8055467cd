//! NetworkPolicy objects read into the model the analysis evaluates, with every field the API
//! defines: pod selector, policy types and their defaults, ingress/egress rules, peers
//! (podSelector, namespaceSelector, both, ipBlock with except), ports (protocol, number or name,
//! endPort).
//!
//! What the API server would reject is an error naming the policy and the line, and the part
//! it concerns allows nothing: a malformed peer never turns into "everyone".

use crate::ipblock::{IpBlock, IpRange};
use crate::ports::{PortSet, Protocol};
use palisade_k8s::load::{Manifests, Resource};
use palisade_k8s::selector::Selector;
use palisade_k8s::yaml::{Node, Pos};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Direction {
    Ingress,
    Egress,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        }
    }
}

/// A port as a rule names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortRef {
    /// No port: every port of the protocol.
    Any,
    /// `port` (to `endPort` when given).
    Range(u16, u16),
    /// A container port's name, resolved against the destination pod.
    Named(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortSpec {
    pub protocol: Protocol,
    pub port: PortRef,
}

/// Who a rule admits.
#[derive(Debug, Clone)]
pub enum Peer {
    /// Pods: in the policy's namespace (no namespace selector) or in the namespaces the
    /// selector matches; all pods there when no pod selector.
    Pods {
        namespaces: Option<Selector>,
        pods: Option<Selector>,
    },
    /// Addresses outside the cluster.
    Ip(IpBlock),
    /// A peer that was malformed: it admits nothing (the error is reported).
    Invalid,
}

#[derive(Debug, Clone)]
pub struct Rule {
    /// Position in `spec.ingress` / `spec.egress`.
    pub index: usize,
    pub pos: Pos,
    /// `None`: every peer (the `from`/`to` list is absent or empty).
    pub peers: Option<Vec<Peer>>,
    /// `None`: every port and protocol.
    pub ports: Option<Vec<PortSpec>>,
}

impl Rule {
    pub fn has_named_port(&self) -> bool {
        self.ports
            .iter()
            .flatten()
            .any(|p| matches!(p.port, PortRef::Named(_)))
    }
}

#[derive(Debug, Clone)]
pub struct Policy {
    pub namespace: String,
    pub name: String,
    pub pos: Pos,
    pub pod_selector: Selector,
    /// Present when the policy governs ingress (even with no rules: deny all).
    pub ingress: Option<Vec<Rule>>,
    pub egress: Option<Vec<Rule>>,
}

impl Policy {
    pub fn rules(&self, d: Direction) -> Option<&[Rule]> {
        match d {
            Direction::Ingress => self.ingress.as_deref(),
            Direction::Egress => self.egress.as_deref(),
        }
    }

    /// `ns/name`
    pub fn id(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// A problem in a policy, at a position.
#[derive(Debug, Clone)]
pub struct PolicyError {
    pub pos: Pos,
    pub message: String,
}

/// Every `networking.k8s.io` NetworkPolicy in the manifests.
pub fn read_all(m: &Manifests, errors: &mut Vec<PolicyError>) -> Vec<Policy> {
    m.resources
        .iter()
        .filter(|r| r.kind == "NetworkPolicy" && r.group() == "networking.k8s.io")
        .map(|r| read(r, errors))
        .collect()
}

/// Read a `networking.k8s.io` NetworkPolicy. Errors are collected; the policy is kept with the
/// broken parts admitting nothing.
pub fn read(r: &Resource, errors: &mut Vec<PolicyError>) -> Policy {
    let (namespace, name) = (r.effective_namespace(), r.name.as_str());
    let mut err = |pos: Pos, msg: String| {
        errors.push(PolicyError {
            pos,
            message: format!("NetworkPolicy {namespace}/{name}: {msg}"),
        })
    };
    let empty = Node {
        pos: r.pos(),
        kind: palisade_k8s::yaml::NodeKind::Map(Box::new([])),
    };
    let spec = r.spec().unwrap_or(&empty);
    let pod_selector = match spec.get("podSelector") {
        Some(n) => selector(n, "podSelector", &mut err).unwrap_or_else(nothing_selector),
        None => Selector::default(),
    };

    let types: Option<Vec<&str>> = spec
        .get("policyTypes")
        .filter(|n| !n.is_null())
        .map(|n| n.items().iter().filter_map(Node::as_str).collect());
    let has_egress_rules = spec.get("egress").is_some_and(|e| !e.items().is_empty());
    let (does_ingress, does_egress) = match &types {
        Some(t) => {
            for bad in t.iter().filter(|t| !matches!(**t, "Ingress" | "Egress")) {
                err(
                    spec.key_pos("policyTypes"),
                    format!("unknown policyType '{bad}' (Ingress or Egress)"),
                );
            }
            (t.contains(&"Ingress"), t.contains(&"Egress"))
        }
        None => (true, has_egress_rules),
    };
    let mut read_rules = |key: &str, peers_key: &str| -> Vec<Rule> {
        spec.get(key)
            .map(Node::items)
            .unwrap_or(&[])
            .iter()
            .enumerate()
            .map(|(index, n)| rule(index, n, key, peers_key, &mut err))
            .collect()
    };
    let ingress = does_ingress.then(|| read_rules("ingress", "from"));
    let egress = does_egress.then(|| read_rules("egress", "to"));
    Policy {
        pos: r.pos(),
        namespace: namespace.to_string(),
        name: name.to_string(),
        pod_selector,
        ingress,
        egress,
    }
}

/// A selector that matches nothing: a policy whose podSelector fails to parse is one the API
/// server rejects, so it applies to no pod (it neither isolates nor admits anything).
fn nothing_selector() -> Selector {
    Selector {
        requirements: vec![palisade_k8s::selector::Requirement::In(
            String::new(),
            Vec::new(),
        )],
    }
}

fn selector(n: &Node, what: &str, err: &mut impl FnMut(Pos, String)) -> Option<Selector> {
    if n.is_null() {
        return Some(Selector::default());
    }
    match Selector::parse(n) {
        Ok(s) => Some(s),
        Err(e) => {
            err(n.pos, format!("{what}: {e}"));
            None
        }
    }
}

fn rule(
    index: usize,
    n: &Node,
    key: &str,
    peers_key: &str,
    err: &mut impl FnMut(Pos, String),
) -> Rule {
    let peers = n
        .get(peers_key)
        .map(Node::items)
        .filter(|p| !p.is_empty())
        .map(|items| items.iter().map(|p| peer(p, key, peers_key, err)).collect());
    let ports = n
        .get("ports")
        .map(Node::items)
        .filter(|p| !p.is_empty())
        .map(|items| items.iter().filter_map(|p| port(p, err)).collect());
    Rule {
        index,
        pos: n.pos,
        peers,
        ports,
    }
}

fn peer(n: &Node, key: &str, peers_key: &str, err: &mut impl FnMut(Pos, String)) -> Peer {
    let pods = n.get("podSelector");
    let namespaces = n.get("namespaceSelector");
    let ip = n.get("ipBlock");
    let here = format!("{key}.{peers_key}");
    if pods.is_none() && namespaces.is_none() && ip.is_none() {
        err(
            n.pos,
            format!(
                "empty peer in {here}: a peer needs podSelector, namespaceSelector or ipBlock; it admits nothing here (the API server rejects it)"
            ),
        );
        return Peer::Invalid;
    }
    if let Some(ip) = ip {
        if pods.is_some() || namespaces.is_some() {
            err(
                n.pos,
                format!(
                    "peer in {here} mixes ipBlock with a selector, which the API server rejects; it admits nothing here"
                ),
            );
            return Peer::Invalid;
        }
        return match ip_block(ip) {
            Ok(b) => Peer::Ip(b),
            Err(e) => {
                err(
                    ip.pos,
                    format!("ipBlock in {here}: {e}; it admits nothing here"),
                );
                Peer::Invalid
            }
        };
    }
    let pods = match pods.map(|p| selector(p, "podSelector", err)) {
        Some(None) => return Peer::Invalid,
        Some(Some(s)) => Some(s),
        None => None,
    };
    let namespaces = match namespaces.map(|p| selector(p, "namespaceSelector", err)) {
        Some(None) => return Peer::Invalid,
        Some(Some(s)) => Some(s),
        None => None,
    };
    Peer::Pods { namespaces, pods }
}

fn ip_block(n: &Node) -> Result<IpBlock, String> {
    let cidr = n
        .get("cidr")
        .and_then(Node::as_nonempty_str)
        .ok_or("no cidr")?;
    let cidr = IpRange::parse_cidr(cidr)?;
    let mut except = Vec::new();
    for e in n.get("except").map(Node::items).unwrap_or(&[]) {
        let text = e.as_str().unwrap_or("");
        let r = IpRange::parse_cidr(text)?;
        if !cidr.contains(&r) || r == cidr {
            return Err(format!("except '{text}' is not strictly inside the cidr"));
        }
        except.push(r);
    }
    Ok(IpBlock { cidr, except })
}

fn port(n: &Node, err: &mut impl FnMut(Pos, String)) -> Option<PortSpec> {
    let protocol = match n.get("protocol").filter(|p| !p.is_null()) {
        None => Protocol::Tcp,
        Some(p) => match p.as_str().and_then(Protocol::parse) {
            Some(p) => p,
            None => {
                err(
                    p.pos,
                    format!(
                        "unknown protocol '{}' (TCP, UDP or SCTP); this port admits nothing",
                        p.as_str().unwrap_or("?")
                    ),
                );
                return None;
            }
        },
    };
    let end = n.get("endPort").filter(|e| !e.is_null());
    let port = match n.get("port").filter(|p| !p.is_null()) {
        None => {
            if let Some(e) = end {
                err(
                    e.pos,
                    "endPort without port; this port admits nothing".into(),
                );
                return None;
            }
            PortRef::Any
        }
        Some(p) => match p.as_i64() {
            Some(v) => {
                let Some(lo) = valid_port(v) else {
                    err(
                        p.pos,
                        format!("port {v} is outside 1-65535; it admits nothing"),
                    );
                    return None;
                };
                let hi = match end {
                    None => lo,
                    Some(e) => match e.as_i64().and_then(valid_port) {
                        Some(hi) if hi >= lo => hi,
                        _ => {
                            err(
                                e.pos,
                                format!(
                                    "endPort {} must be a port at or above port {lo}; this port admits nothing",
                                    e.as_str().unwrap_or("?")
                                ),
                            );
                            return None;
                        }
                    },
                };
                PortRef::Range(lo, hi)
            }
            None => {
                let name = p.as_str().unwrap_or("").to_string();
                if let Some(e) = end {
                    err(
                        e.pos,
                        format!(
                            "endPort with the named port '{name}' (the API server rejects it); this port admits nothing"
                        ),
                    );
                    return None;
                }
                if let Ok(v) = name.parse::<i64>() {
                    match valid_port(v) {
                        Some(v) => PortRef::Range(v, v),
                        None => {
                            err(
                                p.pos,
                                format!("port {v} is outside 1-65535; it admits nothing"),
                            );
                            return None;
                        }
                    }
                } else {
                    PortRef::Named(name)
                }
            }
        },
    };
    Some(PortSpec { protocol, port })
}

fn valid_port(v: i64) -> Option<u16> {
    u16::try_from(v).ok().filter(|p| *p >= 1)
}

impl PortSpec {
    /// The ports this spec admits on a destination whose named ports are `named`.
    pub fn resolve(&self, named: &[(String, Protocol, u16)]) -> PortSet {
        match &self.port {
            PortRef::Any => PortSet::all(),
            PortRef::Range(lo, hi) => PortSet::range(*lo, *hi),
            PortRef::Named(n) => named
                .iter()
                .filter(|(name, proto, _)| name == n && *proto == self.protocol)
                .fold(PortSet::default(), |acc, (_, _, p)| {
                    acc.union(&PortSet::range(*p, *p))
                }),
        }
    }
}
