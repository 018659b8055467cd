//! What the connectivity is computed over, read from the manifests: namespaces and their
//! labels, workloads and the pods they run (labels, named container ports), and the Services
//! that Ingress / OpenShift Route objects send outside traffic to.
//!
//! A workload is what netpol-analyzer calls one: `ns/name[Kind]` for a controller (or an ML
//! custom resource), a bare Pod under its owner when it has one. A workload may run several
//! kinds of pod (a RayCluster's head and workers, an InferenceService's predictor and
//! transformer): each is an [`Endpoint`], and the workload's connectivity is the union of its
//! endpoints'.

use crate::ports::{PortSet, Protocol};
use palisade_k8s::load::{Manifests, Resource};
use palisade_k8s::selector::Selector;
use palisade_k8s::workload::{self, PodTemplate};
use palisade_k8s::yaml::{Node, Pos};
use std::collections::{BTreeMap, HashMap};

pub type Labels = Vec<(String, String)>;

/// The label every namespace carries (Kubernetes ≥ 1.21).
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

#[derive(Debug, Clone)]
pub struct Workload {
    pub namespace: String,
    pub name: String,
    pub kind: String,
    /// Where it is defined: its first resource (index into the manifests' resources).
    pub resource: usize,
    pub pos: Pos,
    pub endpoints: Vec<usize>,
    /// The ML servers its containers run (`core::ml::Server` names), if any.
    pub ml_servers: Vec<&'static str>,
}

impl Workload {
    /// `ns/name[Kind]`, netpol-analyzer's notation.
    pub fn id(&self) -> String {
        format!("{}/{}[{}]", self.namespace, self.name, self.kind)
    }
}

/// One kind of pod a workload runs.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub workload: usize,
    pub namespace: String,
    pub labels: Labels,
    /// Named container ports: (name, protocol, number).
    pub named_ports: Vec<(String, Protocol, u16)>,
    /// Every declared container port.
    pub ports: Vec<(Protocol, u16)>,
}

/// A backend that an Ingress or Route sends outside traffic to: the pods behind it on a port.
#[derive(Debug, Clone)]
pub struct IngressTarget {
    pub endpoint: usize,
    pub protocol: Protocol,
    pub port: u16,
    /// `Ingress/ns/name` or `Route/ns/name`.
    pub via: String,
}

#[derive(Debug, Default)]
pub struct Topology {
    pub namespaces: BTreeMap<String, Labels>,
    pub workloads: Vec<Workload>,
    pub endpoints: Vec<Endpoint>,
    pub ingress_targets: Vec<IngressTarget>,
}

/// Kinds that hold pod templates but run no pods themselves.
fn is_template_only(r: &Resource) -> bool {
    matches!(
        r.kind.as_str(),
        "PodTemplate"
            | "ServingRuntime"
            | "ClusterServingRuntime"
            | "TrainingRuntime"
            | "ClusterTrainingRuntime"
    )
}

impl Topology {
    pub fn build(m: &Manifests) -> Topology {
        let mut t = Topology::default();
        let mut index: HashMap<(String, String, String), usize> = HashMap::new();
        for r in &m.resources {
            if r.group().is_empty() && r.kind == "Namespace" {
                let labels = map_labels(r.root.path(&["metadata", "labels"]));
                t.namespaces.insert(r.name.clone(), labels);
            }
        }
        for (ri, r) in m.resources.iter().enumerate() {
            if is_template_only(r) {
                continue;
            }
            for tmpl in workload::pod_templates(m, r) {
                let (name, kind) = owner(r);
                let ns = r.effective_namespace().to_string();
                let key = (ns.clone(), name.clone(), kind.clone());
                let w = *index.entry(key).or_insert_with(|| {
                    t.workloads.push(Workload {
                        namespace: ns.clone(),
                        name,
                        kind,
                        resource: ri,
                        pos: r.pos(),
                        endpoints: Vec::new(),
                        ml_servers: Vec::new(),
                    });
                    t.workloads.len() - 1
                });
                for (_, server, _) in palisade_k8s::ml::servers(&tmpl) {
                    let s = server.label();
                    if !t.workloads[w].ml_servers.contains(&s) {
                        t.workloads[w].ml_servers.push(s);
                    }
                }
                let mut labels = tmpl.labels();
                labels.extend(operator_labels(&tmpl));
                let (named_ports, ports) = container_ports(&tmpl);
                t.workloads[w].endpoints.push(t.endpoints.len());
                t.endpoints.push(Endpoint {
                    workload: w,
                    namespace: ns,
                    labels,
                    named_ports,
                    ports,
                });
            }
        }
        for e in &t.endpoints {
            t.namespaces.entry(e.namespace.clone()).or_default();
        }
        for (name, labels) in t.namespaces.iter_mut() {
            if !labels.iter().any(|(k, _)| k == NAMESPACE_NAME_LABEL) {
                labels.push((NAMESPACE_NAME_LABEL.to_string(), name.clone()));
            }
        }
        t.ingress_targets = ingress_targets(m, &t);
        t
    }

    pub fn namespace_labels(&self, ns: &str) -> &[(String, String)] {
        self.namespaces.get(ns).map(Vec::as_slice).unwrap_or(&[])
    }
}

fn map_labels(n: Option<&Node>) -> Labels {
    n.map(|l| {
        l.entries()
            .filter_map(|(k, v)| Some((k.as_str()?.to_string(), v.as_str()?.to_string())))
            .collect()
    })
    .unwrap_or_default()
}

/// The workload a resource's pods belong to: a bare Pod's controlling owner, else itself. A
/// static pod (owned by its Node) is its own workload.
fn owner(r: &Resource) -> (String, String) {
    if r.kind == "Pod" {
        let owners = r
            .root
            .path(&["metadata", "ownerReferences"])
            .map(Node::items)
            .unwrap_or(&[]);
        let chosen = owners
            .iter()
            .find(|o| o.get("controller").is_some_and(Node::is_true))
            .or(owners.first());
        if let Some(o) = chosen
            && let Some(name) = o.get("name").and_then(Node::as_nonempty_str)
        {
            let kind = o
                .get("kind")
                .and_then(Node::as_nonempty_str)
                .unwrap_or("Pod");
            if kind != "Node" {
                return (name.to_string(), kind.to_string());
            }
        }
    }
    (r.name.clone(), r.kind.clone())
}

/// Labels an ML operator puts on the pods it creates, beside the template's own.
fn operator_labels(t: &PodTemplate) -> Labels {
    let r = t.resource;
    let name = r.name.clone();
    let role = t.role.as_deref().unwrap_or("");
    let quoted = role.split('\'').nth(1).unwrap_or("").to_string();
    let l = |k: &str, v: String| (k.to_string(), v);
    match (r.group(), r.kind.as_str()) {
        ("serving.kserve.io", "InferenceService") => {
            let mut out = map_labels(r.root.path(&["metadata", "labels"]));
            out.push(l("serving.kserve.io/inferenceservice", name));
            out.push(l("component", role.to_string()));
            out
        }
        ("ray.io", _) if role == "head group" => vec![
            l("ray.io/cluster", name),
            l("ray.io/node-type", "head".into()),
            l("ray.io/group", "headgroup".into()),
        ],
        ("ray.io", _) if role.starts_with("worker group") => vec![
            l("ray.io/cluster", name),
            l("ray.io/node-type", "worker".into()),
            l("ray.io/group", quoted),
        ],
        ("kubeflow.org", "Notebook") => {
            vec![l("notebook-name", name.clone()), l("statefulset", name)]
        }
        ("kubeflow.org", _) if role.starts_with("replica") => vec![
            l("training.kubeflow.org/job-name", name),
            l("training.kubeflow.org/replica-type", quoted.to_lowercase()),
        ],
        ("machinelearning.seldon.io", "SeldonDeployment") => {
            vec![l("seldon-deployment-id", name)]
        }
        _ => Vec::new(),
    }
}

type PortLists = (Vec<(String, Protocol, u16)>, Vec<(Protocol, u16)>);

fn container_ports(t: &PodTemplate) -> PortLists {
    let mut named = Vec::new();
    let mut all = Vec::new();
    for c in &t.containers {
        if c.kind != workload::ContainerKind::Regular {
            continue;
        }
        for p in c.get("ports").map(Node::items).unwrap_or(&[]) {
            let Some(num) = p
                .get("containerPort")
                .and_then(Node::as_i64)
                .and_then(|v| u16::try_from(v).ok())
                .filter(|v| *v > 0)
            else {
                continue;
            };
            let proto = p
                .get("protocol")
                .and_then(Node::as_str)
                .and_then(Protocol::parse)
                .unwrap_or(Protocol::Tcp);
            all.push((proto, num));
            if let Some(name) = p.get("name").and_then(Node::as_nonempty_str) {
                named.push((name.to_string(), proto, num));
            }
        }
    }
    (named, all)
}

/// A Service port: its name, protocol, port, and target (number or container port name).
struct ServicePort<'n> {
    name: Option<&'n str>,
    protocol: Protocol,
    port: Option<u16>,
    target: Target<'n>,
}

enum Target<'n> {
    Number(u16),
    Name(&'n str),
}

fn service_ports(svc: &Resource) -> Vec<ServicePort<'_>> {
    svc.root
        .path(&["spec", "ports"])
        .map(Node::items)
        .unwrap_or(&[])
        .iter()
        .filter_map(|p| {
            let port = p
                .get("port")
                .and_then(Node::as_i64)
                .and_then(|v| u16::try_from(v).ok());
            let target = match p.get("targetPort").filter(|t| !t.is_null()) {
                Some(t) => match t.as_i64() {
                    Some(v) => Target::Number(u16::try_from(v).ok()?),
                    None => Target::Name(t.as_str()?),
                },
                None => Target::Number(port?),
            };
            Some(ServicePort {
                name: p.get("name").and_then(Node::as_str),
                protocol: p
                    .get("protocol")
                    .and_then(Node::as_str)
                    .and_then(Protocol::parse)
                    .unwrap_or(Protocol::Tcp),
                port,
                target,
            })
        })
        .collect()
}

/// Which service ports a backend reference picks.
#[derive(Clone, Copy)]
enum PortPick<'a> {
    All,
    /// An Ingress backend's `port.number` / `port.name` (the Service's port).
    ServicePort(Option<u16>, Option<&'a str>),
    /// A Route's `port.targetPort`: a target port number or a port name.
    RouteTarget(Option<u16>, Option<&'a str>),
}

fn picks(p: &PortPick, sp: &ServicePort) -> bool {
    match p {
        PortPick::All => true,
        PortPick::ServicePort(num, name) => {
            (num.is_some() && *num == sp.port) || (name.is_some() && *name == sp.name)
        }
        PortPick::RouteTarget(num, name) => match (&sp.target, num, name) {
            (Target::Number(t), Some(n), _) => t == n,
            (Target::Name(t), _, Some(n)) => t == n || sp.name == Some(*n),
            (_, _, Some(n)) => sp.name == Some(*n),
            _ => false,
        },
    }
}

fn int_or_name(n: Option<&Node>) -> (Option<u16>, Option<&str>) {
    match n.filter(|n| !n.is_null()) {
        None => (None, None),
        Some(n) => match n.as_i64() {
            Some(v) => (u16::try_from(v).ok(), None),
            None => (None, n.as_str()),
        },
    }
}

/// An Ingress backend (`service: {name, port}` or the old `serviceName`/`servicePort`).
fn ingress_backend<'n>(b: &'n Node, out: &mut Vec<(&'n str, PortPick<'n>)>) {
    if let Some(svc) = b.get("service") {
        if let Some(name) = svc.get("name").and_then(Node::as_str) {
            let port = svc.get("port");
            let num = port
                .and_then(|p| p.get("number"))
                .and_then(Node::as_i64)
                .and_then(|v| u16::try_from(v).ok());
            let pname = port.and_then(|p| p.get("name")).and_then(Node::as_str);
            out.push((name, PortPick::ServicePort(num, pname)));
        }
    } else if let Some(name) = b.get("serviceName").and_then(Node::as_str) {
        let (num, pname) = int_or_name(b.get("servicePort"));
        out.push((name, PortPick::ServicePort(num, pname)));
    }
}

fn ingress_targets(m: &Manifests, t: &Topology) -> Vec<IngressTarget> {
    let services: HashMap<(&str, &str), &Resource> = m
        .resources
        .iter()
        .filter(|r| r.group().is_empty() && r.kind == "Service")
        .map(|r| ((r.effective_namespace(), r.name.as_str()), r))
        .collect();
    let mut out = Vec::new();
    for r in &m.resources {
        let ns = r.effective_namespace();
        let mut backends: Vec<(&str, PortPick)> = Vec::new();
        match (r.group(), r.kind.as_str()) {
            ("networking.k8s.io" | "extensions", "Ingress") => {
                let Some(spec) = r.spec() else { continue };
                for key in ["defaultBackend", "backend"] {
                    if let Some(b) = spec.get(key) {
                        ingress_backend(b, &mut backends);
                    }
                }
                for rule in spec.get("rules").map(Node::items).unwrap_or(&[]) {
                    for p in rule
                        .path(&["http", "paths"])
                        .map(Node::items)
                        .unwrap_or(&[])
                    {
                        if let Some(b) = p.get("backend") {
                            ingress_backend(b, &mut backends);
                        }
                    }
                }
            }
            ("route.openshift.io", "Route") => {
                let Some(spec) = r.spec() else { continue };
                let pick = match spec.path(&["port", "targetPort"]) {
                    None => PortPick::All,
                    Some(tp) => {
                        let (num, name) = int_or_name(Some(tp));
                        PortPick::RouteTarget(num, name)
                    }
                };
                let mut tos: Vec<&Node> = spec.get("to").into_iter().collect();
                tos.extend(
                    spec.get("alternateBackends")
                        .map(Node::items)
                        .unwrap_or(&[]),
                );
                for to in tos {
                    if let Some(name) = to.get("name").and_then(Node::as_str) {
                        backends.push((name, pick));
                    }
                }
            }
            _ => continue,
        }
        for (svc_name, pick) in backends {
            let Some(svc) = services.get(&(ns, svc_name)) else {
                continue;
            };
            let Some(sel) = svc.root.path(&["spec", "selector"]) else {
                continue;
            };
            let sel = Selector::from_map(sel);
            if sel.is_empty() {
                continue;
            }
            for sp in service_ports(svc).iter().filter(|sp| picks(&pick, sp)) {
                for (i, e) in t.endpoints.iter().enumerate() {
                    if e.namespace != ns || !sel.matches(&e.labels) {
                        continue;
                    }
                    let port = match sp.target {
                        Target::Number(n) => Some(n),
                        Target::Name(n) => e
                            .named_ports
                            .iter()
                            .find(|(pn, pr, _)| pn == n && *pr == sp.protocol)
                            .map(|(_, _, p)| *p),
                    };
                    if let Some(port) = port {
                        out.push(IngressTarget {
                            endpoint: i,
                            protocol: sp.protocol,
                            port,
                            via: format!("{}/{}/{}", r.kind, ns, r.name),
                        });
                    }
                }
            }
        }
    }
    out
}

/// The ports an ingress controller is sent to on an endpoint.
pub fn ingress_ports(t: &Topology, endpoint: usize) -> crate::ports::Conns {
    let mut c = crate::ports::Conns::none();
    for it in t
        .ingress_targets
        .iter()
        .filter(|it| it.endpoint == endpoint)
    {
        c.add(&crate::ports::Conns::of(
            it.protocol,
            PortSet::range(it.port, it.port),
        ));
    }
    c
}
