//! What the connectivity is computed over, read from the manifests: namespaces and their
//! labels, workloads and the pods they run (labels, named container ports), and the Services
//! that Ingress, Gateway API routes and OpenShift Routes send outside traffic to.
//!
//! A workload is what netpol-analyzer calls one: `ns/name[Kind]` for a controller (or an ML
//! custom resource), a bare Pod under its owner when it has one. A workload may run several
//! kinds of pod (a RayCluster's head and workers, an InferenceService's predictor and
//! transformer): each is an [`Endpoint`], and the workload's connectivity is the union of its
//! endpoints'.

use crate::ports::{Conns, PortSet, Protocol};
use palisade_k8s::load::{Manifests, Resource};
use palisade_k8s::service;
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

#[derive(Debug, Clone, Default)]
pub struct Topology {
    pub namespaces: BTreeMap<String, Labels>,
    pub workloads: Vec<Workload>,
    pub endpoints: Vec<Endpoint>,
    /// Per endpoint, the ports an ingress controller is sent to (Ingress, routes).
    pub ingress_ports: Vec<Conns>,
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
                let labels = r.labels();
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
        t.ingress_ports = ingress_ports(m, &t.endpoints);
        t
    }

    pub fn namespace_labels(&self, ns: &str) -> &[(String, String)] {
        self.namespaces.get(ns).map(Vec::as_slice).unwrap_or(&[])
    }
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
            let mut out = r.labels();
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
        for (num, name, p) in palisade_k8s::ml::declared_ports(c) {
            if num == 0 {
                continue;
            }
            let proto = p
                .get("protocol")
                .and_then(Node::as_str)
                .and_then(Protocol::parse)
                .unwrap_or(Protocol::Tcp);
            all.push((proto, num));
            if let Some(name) = name.filter(|n| !n.is_empty()) {
                named.push((name.to_string(), proto, num));
            }
        }
    }
    (named, all)
}

/// For each endpoint, what an ingress controller is sent to: the ports of the pods behind the
/// Services that Ingress, Gateway API routes and OpenShift Routes point at.
fn ingress_ports(m: &Manifests, endpoints: &[Endpoint]) -> Vec<Conns> {
    let mut out = vec![Conns::none(); endpoints.len()];
    let services: HashMap<(&str, &str), &Resource> = m
        .resources
        .iter()
        .filter(|r| r.group().is_empty() && r.kind == "Service")
        .map(|r| ((r.effective_namespace(), r.name.as_str()), r))
        .collect();
    for r in &m.resources {
        let ns = r.effective_namespace();
        for b in service::backends(r) {
            let Some(svc) = services.get(&(ns, b.service)) else {
                continue;
            };
            let Some(sel) = service::selector(svc) else {
                continue;
            };
            for sp in service::ports(svc).iter().filter(|sp| b.port.picks(sp)) {
                let Some(protocol) = Protocol::parse(sp.protocol) else {
                    continue;
                };
                for (i, e) in endpoints.iter().enumerate() {
                    if e.namespace != ns || !sel.matches(&e.labels) {
                        continue;
                    }
                    let port = sp.container_port(|name| {
                        e.named_ports
                            .iter()
                            .find(|(pn, pr, _)| pn == name && *pr == protocol)
                            .map(|(_, _, p)| *p)
                    });
                    if let Some(port) = port {
                        out[i].add(&Conns::of(protocol, PortSet::range(port, port)));
                    }
                }
            }
        }
    }
    out
}
