//! The connectivity itself, as Kubernetes defines it: a connection needs egress allowed at the
//! source and ingress allowed at the destination; policies add up; a pod that no policy selects
//! in a direction is open in that direction; named ports resolve against the destination pod.
//!
//! Peer matching is one function, [`Network::admits`]. A full matrix first caches each rule's
//! admitted pods as a bitset ([`Network::index_peers`]) and enumerates, per destination, only
//! the sources some rule admits; a focused query (`--to`/`--from`) checks the few pairs it needs
//! directly, so its cost follows policies × selected workloads, not all pairs.

use crate::bitset::BitSet;
use crate::ipblock::{IpRange, Segments};
use crate::policy::{self, Direction, Peer, Policy, PolicyError, Rule};
use crate::ports::{Conns, Protocol};
use crate::topology::{self, Labels, Topology};
use palisade_k8s::load::Manifests;
use palisade_k8s::selector::Selector;
use std::cell::OnceCell;
use std::collections::{BTreeSet, HashMap};

/// Namespaces the supported ingress controllers run in (nginx, OpenShift router), by the
/// labels they carry: a rule admits the ingress controller when a peer selects all pods of a
/// namespace like these.
const INGRESS_CONTROLLER_NAMESPACES: &[&[(&str, &str)]] = &[
    &[(topology::NAMESPACE_NAME_LABEL, "ingress-nginx")],
    &[
        (topology::NAMESPACE_NAME_LABEL, "openshift-ingress-operator"),
        ("namespace.name", "openshift-ingress-operator"),
        ("openshift.io/cluster-monitoring", "true"),
        ("network.openshift.io/policy-group", "ingress"),
    ],
];

/// A focused query indexes every rule's peers (a pass over all rules and endpoints) when it
/// has more pairs than this many per endpoint; below, matching pair by pair is cheaper.
const INDEX_PAIRS_PER_ENDPOINT: usize = 64;

/// A rule: (direction, policy index, rule index).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RuleId {
    pub dir: Direction,
    pub policy: usize,
    pub rule: usize,
    /// Its index among all rules (for the per-rule caches).
    slot: usize,
}

/// The other end of a connection, seen from a pod.
#[derive(Debug, Clone, Copy)]
pub enum Remote {
    Endpoint(usize),
    Outside(IpRange),
    IngressController,
}

/// One end of a connection in a result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Node {
    Workload(usize),
    Outside(IpRange),
    IngressController,
}

/// Why one side (egress at the source, ingress at the destination) allows what it allows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SideWhy {
    /// No policy selects the pod in this direction.
    pub open: bool,
    /// Policies that select it in this direction.
    pub policies: BTreeSet<usize>,
    /// Rules among theirs that admit the other end.
    pub rules: BTreeSet<RuleId>,
}

impl SideWhy {
    fn merge(&mut self, o: &SideWhy) {
        self.open |= o.open;
        self.policies.extend(&o.policies);
        self.rules.extend(&o.rules);
    }
}

#[derive(Debug, Clone)]
pub struct Edge {
    pub src: Node,
    pub dst: Node,
    pub conns: Conns,
    pub egress: SideWhy,
    pub ingress: SideWhy,
}

/// What a query returns beside the allowed connections.
#[derive(Debug, Clone, Copy, Default)]
pub struct Want {
    /// Workload pairs with no connection too.
    pub denied: bool,
    /// The policies and rules behind each side.
    pub why: bool,
}

impl Want {
    pub const WHY: Want = Want {
        denied: false,
        why: true,
    };
    pub const ALL: Want = Want {
        denied: true,
        why: true,
    };
}

/// Which end a query keeps.
#[derive(Debug, Clone)]
pub enum Focus {
    /// Pods whose labels match.
    Labels(Selector),
    /// Workloads by `ns/name`, `ns/*` or `ns/name[Kind]`.
    Workload {
        namespace: String,
        name: Option<String>,
        kind: Option<String>,
    },
    /// Addresses outside the cluster.
    Outside,
}

impl Focus {
    /// `app=model-server`, `tier in (a,b)`, `!canary`, `ml/model-server`, `ml/*`,
    /// `ml/model[Deployment]`, or `outside`.
    pub fn parse(s: &str) -> Result<Focus, String> {
        let s = s.trim();
        if matches!(s, "outside" | "external" | "internet") {
            return Ok(Focus::Outside);
        }
        // A namespace is a DNS label (no dots); a label key's prefix is a DNS subdomain
        // (`app.kubernetes.io/name`), so `ml/x` is a workload and `app.kubernetes.io/x` a key.
        let is_namespace = |ns: &str| {
            !ns.is_empty()
                && ns
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        };
        if let Some((ns, rest)) = s.split_once('/')
            && is_namespace(ns)
            && !rest.contains(['=', ' ', ','])
        {
            let (name, kind) = match rest.split_once('[') {
                Some((n, k)) => (n, Some(k.trim_end_matches(']').to_string())),
                None => (rest, None),
            };
            return Ok(Focus::Workload {
                namespace: ns.to_string(),
                name: (name != "*" && !name.is_empty()).then(|| name.to_string()),
                kind,
            });
        }
        crate::selector_text::parse(s).map(Focus::Labels)
    }
}

/// The policies that select an endpoint in one direction, and their rules.
#[derive(Debug, Clone, Default)]
struct Governed {
    policies: Vec<usize>,
    rules: Vec<RuleId>,
}

pub struct Network {
    pub topo: Topology,
    pub policies: Vec<Policy>,
    pub errors: Vec<PolicyError>,
    /// Per direction, per endpoint: what governs it (None: no policy selects it, so it is open).
    governed: [Vec<Option<Governed>>; 2],
    /// The labels of the namespaces ingress controllers run in.
    ingress_controller_namespaces: Vec<Labels>,
    /// The outside, partitioned by the ipBlocks of ingress rules and of egress rules.
    pub segments_in: Segments,
    pub segments_out: Segments,
    by_namespace: HashMap<String, Vec<usize>>,
    /// Per (direction, policy, rule): the endpoints it admits, once computed.
    peer_cache: Vec<OnceCell<BitSet>>,
    /// Per rule: the connections its ports admit, when no named port makes them depend on
    /// the destination.
    fixed_conns: Vec<Option<Conns>>,
    /// Per policy and direction: its rules' ids.
    rule_ids: Vec<[Vec<RuleId>; 2]>,
}

impl Network {
    pub fn build(m: &Manifests) -> Network {
        let mut errors = Vec::new();
        let policies = policy::read_all(m, &mut errors);
        Network::new(Topology::build(m), policies, errors)
    }

    pub fn new(topo: Topology, policies: Vec<Policy>, errors: Vec<PolicyError>) -> Network {
        let mut by_namespace: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, e) in topo.endpoints.iter().enumerate() {
            by_namespace.entry(e.namespace.clone()).or_default().push(i);
        }
        let n = topo.endpoints.len();
        let mut governed: [Vec<Option<Governed>>; 2] = [vec![None; n], vec![None; n]];
        let mut peer_cache = Vec::new();
        let mut fixed_conns = Vec::new();
        let mut rule_ids = Vec::with_capacity(policies.len());
        for (pi, p) in policies.iter().enumerate() {
            let mut ids: [Vec<RuleId>; 2] = Default::default();
            for dir in [Direction::Ingress, Direction::Egress] {
                for (ri, r) in p.rules(dir).unwrap_or(&[]).iter().enumerate() {
                    ids[dir as usize].push(RuleId {
                        dir,
                        policy: pi,
                        rule: ri,
                        slot: peer_cache.len(),
                    });
                    peer_cache.push(OnceCell::new());
                    fixed_conns.push((!r.has_named_port()).then(|| rule_ports(r, &[])));
                }
            }
            rule_ids.push(ids);
            for &e in by_namespace
                .get(&p.namespace)
                .map(Vec::as_slice)
                .unwrap_or(&[])
            {
                if !p.pod_selector.matches(&topo.endpoints[e].labels) {
                    continue;
                }
                for dir in [Direction::Ingress, Direction::Egress] {
                    if p.rules(dir).is_some() {
                        let g = governed[dir as usize][e].get_or_insert_with(Governed::default);
                        g.policies.push(pi);
                        g.rules.extend(&rule_ids[pi][dir as usize]);
                    }
                }
            }
        }
        let blocks = |dir: Direction| {
            policies
                .iter()
                .flat_map(move |p| p.rules(dir).unwrap_or(&[]))
                .flat_map(|r| r.peers.iter().flatten())
                .filter_map(|peer| match peer {
                    Peer::Ip(b) => Some(b),
                    _ => None,
                })
        };
        let segments_in = Segments::new(blocks(Direction::Ingress));
        let segments_out = Segments::new(blocks(Direction::Egress));
        let ingress_controller_namespaces = INGRESS_CONTROLLER_NAMESPACES
            .iter()
            .map(|labels| {
                labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect()
            })
            .collect();
        Network {
            topo,
            policies,
            errors,
            governed,
            ingress_controller_namespaces,
            segments_in,
            segments_out,
            by_namespace,
            peer_cache,
            fixed_conns,
            rule_ids,
        }
    }

    /// The connections a rule's ports admit towards a destination with these named ports.
    pub fn rule_conns(&self, id: RuleId, dst_named: &[(String, Protocol, u16)]) -> Conns {
        match &self.fixed_conns[id.slot] {
            Some(c) => c.clone(),
            None => rule_ports(self.rule(id), dst_named),
        }
    }

    fn governed(&self, dir: Direction, e: usize) -> Option<&Governed> {
        self.governed[dir as usize][e].as_ref()
    }

    /// The rules governing an endpoint's ingress; None when no policy selects it.
    pub fn ingress_rules(&self, e: usize) -> Option<&[RuleId]> {
        self.governed(Direction::Ingress, e)
            .map(|g| g.rules.as_slice())
    }

    pub fn rule(&self, id: RuleId) -> &Rule {
        &self.policies[id.policy]
            .rules(id.dir)
            .expect("rule id of a real rule")[id.rule]
    }

    /// Whether a pod peer (of a policy in `policy_ns`) admits pods of namespace `ns`: the
    /// policy's own namespace without a namespace selector, else those the selector matches.
    fn peer_namespace(&self, namespaces: &Option<Selector>, policy_ns: &str, ns: &str) -> bool {
        match namespaces {
            None => ns == policy_ns,
            Some(sel) => sel.matches(self.topo.namespace_labels(ns)),
        }
    }

    /// Whether a pod peer's selector admits endpoint `e` (in an admitted namespace).
    fn peer_pods(pods: &Option<Selector>, labels: &[(String, String)]) -> bool {
        pods.as_ref().is_none_or(|s| s.matches(labels))
    }

    /// Whether a peer of a policy in `policy_ns` admits endpoint `e`.
    fn peer_admits(&self, peer: &Peer, policy_ns: &str, e: usize) -> bool {
        let ep = &self.topo.endpoints[e];
        match peer {
            Peer::Pods { namespaces, pods } => {
                self.peer_namespace(namespaces, policy_ns, &ep.namespace)
                    && Self::peer_pods(pods, &ep.labels)
            }
            Peer::Ip(_) | Peer::Invalid => false,
        }
    }

    /// Whether a rule admits the remote end. The one definition of peer matching.
    pub fn admits(&self, id: RuleId, remote: Remote) -> bool {
        let rule = self.rule(id);
        let Some(peers) = &rule.peers else {
            return true;
        };
        match remote {
            Remote::Endpoint(e) => {
                if let Some(set) = self.peer_cache[id.slot].get() {
                    return set.contains(e);
                }
                let ns = &self.policies[id.policy].namespace;
                peers.iter().any(|p| self.peer_admits(p, ns, e))
            }
            Remote::Outside(r) => peers
                .iter()
                .any(|p| matches!(p, Peer::Ip(b) if b.contains(&r))),
            Remote::IngressController => peers.iter().any(|p| match p {
                Peer::Pods {
                    namespaces: Some(ns),
                    pods,
                } => {
                    pods.as_ref().is_none_or(Selector::is_empty)
                        && self
                            .ingress_controller_namespaces
                            .iter()
                            .any(|labels| ns.matches(labels))
                }
                _ => false,
            }),
        }
    }

    /// Compute every rule's admitted endpoints once (for a full matrix).
    pub fn index_peers(&self) {
        let n = self.topo.endpoints.len();
        for id in self.rule_ids.iter().flatten().flatten() {
            self.peer_cache[id.slot].get_or_init(|| {
                let rule = self.rule(*id);
                let Some(peers) = &rule.peers else {
                    return BitSet::full(n);
                };
                let ns = &self.policies[id.policy].namespace;
                let mut set = BitSet::new(n);
                for p in peers {
                    let Peer::Pods { namespaces, pods } = p else {
                        continue;
                    };
                    // peer_admits, a namespace at a time: the namespaces the peer admits,
                    // then the pods there its selector admits.
                    for (_, eps) in self
                        .by_namespace
                        .iter()
                        .filter(|(k, _)| self.peer_namespace(namespaces, ns, k))
                    {
                        for &e in eps {
                            if Self::peer_pods(pods, &self.topo.endpoints[e].labels) {
                                set.insert(e);
                            }
                        }
                    }
                }
                set
            });
        }
    }

    /// What one side allows: egress at `local` towards `remote`, or ingress at `local` from it.
    /// `dst_named` are the destination pod's named ports (where named ports resolve).
    pub fn side(
        &self,
        dir: Direction,
        local: usize,
        remote: Remote,
        dst_named: &[(String, Protocol, u16)],
        want_why: bool,
    ) -> (Conns, SideWhy) {
        let Some(g) = self.governed(dir, local) else {
            return (
                Conns::all(),
                SideWhy {
                    open: true,
                    ..SideWhy::default()
                },
            );
        };
        let mut why = SideWhy::default();
        if want_why {
            why.policies = g.policies.iter().copied().collect();
        }
        let mut conns = Conns::none();
        for &id in &g.rules {
            if !self.admits(id, remote) {
                continue;
            }
            let allowed = self.rule_conns(id, dst_named);
            if !allowed.is_empty() {
                conns.add(&allowed);
                if want_why {
                    why.rules.insert(id);
                }
            }
        }
        (conns, why)
    }

    fn named(&self, e: usize) -> &[(String, Protocol, u16)] {
        &self.topo.endpoints[e].named_ports
    }

    /// Connections from endpoint `s` to endpoint `d`.
    pub fn between(&self, s: usize, d: usize, why: bool) -> (Conns, SideWhy, SideWhy) {
        let named = self.named(d);
        let (eg, egw) = self.side(Direction::Egress, s, Remote::Endpoint(d), named, why);
        if eg.is_empty() && !why {
            return (eg, egw, SideWhy::default());
        }
        let (ing, ingw) = self.side(Direction::Ingress, d, Remote::Endpoint(s), named, why);
        (eg.intersect(&ing), egw, ingw)
    }

    /// Whether a result end matches a focus: a workload when any of its pods does; the
    /// outside and the ingress controller (which relays outside traffic) match `outside`.
    pub fn node_matches(&self, f: &Focus, n: Node) -> bool {
        match n {
            Node::Workload(w) => self.topo.workloads[w]
                .endpoints
                .iter()
                .any(|&e| self.endpoint_matches(f, e)),
            Node::Outside(_) | Node::IngressController => matches!(f, Focus::Outside),
        }
    }

    fn endpoint_matches(&self, f: &Focus, e: usize) -> bool {
        let ep = &self.topo.endpoints[e];
        let w = &self.topo.workloads[ep.workload];
        match f {
            Focus::Labels(sel) => sel.matches(&ep.labels),
            Focus::Workload {
                namespace,
                name,
                kind,
            } => {
                &w.namespace == namespace
                    && name.as_ref().is_none_or(|n| n == &w.name)
                    && kind.as_ref().is_none_or(|k| k == &w.kind)
            }
            Focus::Outside => false,
        }
    }

    /// Whether rules admit the outside at all (an ipBlock or no peer list): when none of an
    /// isolated pod's rules does, no outside range needs checking.
    fn admits_outside(&self, rules: &[RuleId]) -> bool {
        rules.iter().any(|&id| {
            self.rule(id)
                .peers
                .as_ref()
                .is_none_or(|ps| ps.iter().any(|p| matches!(p, Peer::Ip(_))))
        })
    }

    fn outside_possible(&self, dir: Direction, e: usize) -> bool {
        self.governed(dir, e)
            .is_none_or(|g| self.admits_outside(&g.rules))
    }

    /// The connectivity, optionally focused on sources and/or destinations. `want.denied`
    /// returns workload pairs with no connection too (for `--explain`); `want.why` fills each
    /// edge's reasons.
    pub fn connectivity(&self, from: Option<&Focus>, to: Option<&Focus>, want: Want) -> Vec<Edge> {
        let keep_denied = want.denied;
        let n = self.topo.endpoints.len();
        let pick = |f: Option<&Focus>| -> Vec<usize> {
            (0..n)
                .filter(|&e| f.is_none_or(|f| self.endpoint_matches(f, e)))
                .collect()
        };
        let srcs = pick(from);
        let dsts = pick(to);
        let outside_src = from.is_none_or(|f| matches!(f, Focus::Outside));
        let outside_dst = to.is_none_or(|f| matches!(f, Focus::Outside));
        let focused = from.is_some() || to.is_some();

        let mut acc: HashMap<(Node, Node), Edge> = HashMap::new();
        let mut put = |src: Node, dst: Node, conns: Conns, eg: SideWhy, ing: SideWhy| {
            if conns.is_empty() && !keep_denied {
                return;
            }
            let e = acc.entry((src, dst)).or_insert_with(|| Edge {
                src,
                dst,
                conns: Conns::none(),
                egress: SideWhy::default(),
                ingress: SideWhy::default(),
            });
            e.conns.add(&conns);
            e.egress.merge(&eg);
            e.ingress.merge(&ing);
        };
        let wl = |e: usize| self.topo.endpoints[e].workload;

        if focused {
            // Many pairs: one pass over the rules to index their peers is cheaper than
            // matching selectors pair by pair.
            if srcs.len().saturating_mul(dsts.len()) > INDEX_PAIRS_PER_ENDPOINT * n {
                self.index_peers();
            }
            for &d in &dsts {
                for &s in &srcs {
                    if wl(s) == wl(d) {
                        continue;
                    }
                    let (c, eg, ing) = self.between(s, d, want.why);
                    put(Node::Workload(wl(s)), Node::Workload(wl(d)), c, eg, ing);
                }
            }
        } else {
            self.index_peers();
            for d in 0..n {
                let candidates = match self.governed(Direction::Ingress, d) {
                    None => BitSet::full(n),
                    Some(g) => {
                        let mut b = BitSet::new(n);
                        for id in &g.rules {
                            if let Some(set) = self.peer_cache[id.slot].get() {
                                b.union_with(set);
                            }
                        }
                        b
                    }
                };
                for s in candidates.iter() {
                    if wl(s) == wl(d) {
                        continue;
                    }
                    let (c, eg, ing) = self.between(s, d, want.why);
                    put(Node::Workload(wl(s)), Node::Workload(wl(d)), c, eg, ing);
                }
            }
        }

        if outside_src {
            for &d in dsts
                .iter()
                .filter(|&&d| self.outside_possible(Direction::Ingress, d))
            {
                for seg in &self.segments_in.ranges {
                    let (c, ing) = self.side(
                        Direction::Ingress,
                        d,
                        Remote::Outside(*seg),
                        self.named(d),
                        want.why,
                    );
                    if !c.is_empty() {
                        put(Node::Outside(*seg), Node::Workload(wl(d)), c, open(), ing);
                    }
                }
            }
        }
        if outside_dst {
            for &s in srcs
                .iter()
                .filter(|&&s| self.outside_possible(Direction::Egress, s))
            {
                for seg in &self.segments_out.ranges {
                    let (c, eg) =
                        self.side(Direction::Egress, s, Remote::Outside(*seg), &[], want.why);
                    if !c.is_empty() {
                        put(Node::Workload(wl(s)), Node::Outside(*seg), c, eg, open());
                    }
                }
            }
        }
        if outside_src {
            for &d in &dsts {
                let offered = &self.topo.ingress_ports[d];
                if offered.is_empty() {
                    continue;
                }
                let (c, ing) = self.side(
                    Direction::Ingress,
                    d,
                    Remote::IngressController,
                    self.named(d),
                    want.why,
                );
                let c = c.intersect(offered);
                if !c.is_empty() {
                    put(
                        Node::IngressController,
                        Node::Workload(wl(d)),
                        c,
                        open(),
                        ing,
                    );
                }
            }
        }
        let mut edges: Vec<Edge> = acc.into_values().collect();
        edges.sort_by_cached_key(|e| (self.node_name(e.src), self.node_name(e.dst)));
        edges
    }

    /// Name of a result end, netpol-analyzer style.
    pub fn node_name(&self, n: Node) -> String {
        match n {
            Node::Workload(w) => self.topo.workloads[w].id(),
            Node::Outside(r) => format!("{r}[External]"),
            Node::IngressController => "{ingress-controller}".to_string(),
        }
    }
}

fn rule_ports(rule: &Rule, dst_named: &[(String, Protocol, u16)]) -> Conns {
    match &rule.ports {
        None => Conns::all(),
        Some(ports) => ports.iter().fold(Conns::none(), |acc, p| {
            acc.union(&Conns::of(p.protocol, p.resolve(dst_named)))
        }),
    }
}

fn open() -> SideWhy {
    SideWhy {
        open: true,
        ..SideWhy::default()
    }
}
