//! Services and what sends traffic to them: a Service's selector and ports (with the container
//! port each targets), and the backends of Ingress, Gateway API routes (HTTPRoute, GRPCRoute)
//! and OpenShift Routes. Exposure rules (K8S100) and `palisade reach` (the ingress controller's
//! connections) both follow these paths.

use crate::load::Resource;
use crate::selector::Selector;
use crate::yaml::Node;

/// What a Service port targets on the pods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'n> {
    Number(u16),
    /// A container port's name.
    Name(&'n str),
}

/// One entry of a Service's `spec.ports`.
#[derive(Debug, Clone, Copy)]
pub struct ServicePort<'n> {
    pub node: &'n Node,
    pub name: Option<&'n str>,
    /// `TCP` unless given.
    pub protocol: &'n str,
    pub port: Option<u16>,
    /// `targetPort`, or the port itself when absent.
    pub target: Target<'n>,
}

fn port_number(n: &Node) -> Option<u16> {
    n.as_i64().and_then(|v| u16::try_from(v).ok())
}

impl ServicePort<'_> {
    /// The container port it reaches; a named target is looked up with `named`.
    pub fn container_port(&self, named: impl Fn(&str) -> Option<u16>) -> Option<u16> {
        match self.target {
            Target::Number(n) => Some(n),
            Target::Name(name) => named(name),
        }
    }
}

/// A core Service's selector, when it has a non-empty one (a Service without one selects no
/// pods: its endpoints are managed by hand).
pub fn selector(svc: &Resource) -> Option<Selector> {
    if svc.kind != "Service" || !svc.group().is_empty() {
        return None;
    }
    svc.root
        .path(&["spec", "selector"])
        .map(Selector::from_map)
        .filter(|s| !s.is_empty())
}

/// A Service's ports.
pub fn ports(svc: &Resource) -> Vec<ServicePort<'_>> {
    svc.root
        .path(&["spec", "ports"])
        .map(Node::items)
        .unwrap_or(&[])
        .iter()
        .filter_map(|p| {
            let port = p.get("port").and_then(port_number);
            let target = match p.get("targetPort").filter(|t| !t.is_null()) {
                Some(t) => match t.as_i64() {
                    Some(_) => Target::Number(port_number(t)?),
                    None => Target::Name(t.as_str()?),
                },
                None => Target::Number(port?),
            };
            Some(ServicePort {
                node: p,
                name: p.get("name").and_then(Node::as_str),
                protocol: p
                    .get("protocol")
                    .and_then(Node::as_nonempty_str)
                    .unwrap_or("TCP"),
                port,
                target,
            })
        })
        .collect()
}

/// Which of the Service's ports a backend sends traffic to.
#[derive(Debug, Clone, Copy)]
pub enum BackendPort<'n> {
    /// All of them (a Route without `port`, an HTTPRoute backend without `port`).
    Any,
    /// A Service port by number or name (Ingress, HTTPRoute).
    Service(&'n Node),
    /// A Route's `port.targetPort`: a target port number, or a port name.
    Target(&'n Node),
}

impl BackendPort<'_> {
    pub fn picks(&self, sp: &ServicePort) -> bool {
        match self {
            BackendPort::Any => true,
            BackendPort::Service(want) => match port_number(want) {
                Some(n) => sp.port == Some(n),
                None => want.as_str().is_some() && sp.name == want.as_str(),
            },
            BackendPort::Target(want) => match (port_number(want), want.as_str()) {
                (Some(n), _) => sp.target == Target::Number(n),
                (None, Some(name)) => sp.name == Some(name) || sp.target == Target::Name(name),
                _ => false,
            },
        }
    }
}

/// A Service that a routing object sends traffic to.
#[derive(Debug, Clone, Copy)]
pub struct Backend<'n> {
    /// The backend entry (where a finding about it points).
    pub node: &'n Node,
    pub service: &'n str,
    pub port: BackendPort<'n>,
}

/// The Service backends of an Ingress, HTTPRoute / GRPCRoute or OpenShift Route (in the
/// object's own namespace); nothing for other kinds.
pub fn backends(r: &Resource) -> Vec<Backend<'_>> {
    let mut out = Vec::new();
    let Some(spec) = r.spec() else {
        return out;
    };
    match (r.kind.as_str(), r.group()) {
        ("Ingress", "networking.k8s.io" | "extensions") => {
            let mut entries: Vec<&Node> = Vec::new();
            entries.extend(spec.get("defaultBackend").or_else(|| spec.get("backend")));
            for rule in spec.get("rules").map(Node::items).unwrap_or(&[]) {
                for p in rule
                    .path(&["http", "paths"])
                    .map(Node::items)
                    .unwrap_or(&[])
                {
                    entries.extend(p.get("backend"));
                }
            }
            for b in entries {
                if let Some(name) = b.path(&["service", "name"]).and_then(Node::as_str) {
                    let port = b
                        .path(&["service", "port", "number"])
                        .or_else(|| b.path(&["service", "port", "name"]));
                    out.push(Backend {
                        node: b,
                        service: name,
                        port: port.map_or(BackendPort::Any, BackendPort::Service),
                    });
                } else if let Some(name) = b.get("serviceName").and_then(Node::as_str) {
                    out.push(Backend {
                        node: b,
                        service: name,
                        port: b
                            .get("servicePort")
                            .map_or(BackendPort::Any, BackendPort::Service),
                    });
                }
            }
        }
        ("HTTPRoute" | "GRPCRoute", "gateway.networking.k8s.io") => {
            for rule in spec.get("rules").map(Node::items).unwrap_or(&[]) {
                for b in rule.get("backendRefs").map(Node::items).unwrap_or(&[]) {
                    let kind = b.get("kind").and_then(Node::as_str).unwrap_or("Service");
                    if kind == "Service"
                        && let Some(name) = b.get("name").and_then(Node::as_str)
                    {
                        out.push(Backend {
                            node: b,
                            service: name,
                            port: b.get("port").map_or(BackendPort::Any, BackendPort::Service),
                        });
                    }
                }
            }
        }
        ("Route", "route.openshift.io") => {
            let port = spec
                .path(&["port", "targetPort"])
                .filter(|n| !n.is_null())
                .map_or(BackendPort::Any, BackendPort::Target);
            let mut tos: Vec<&Node> = spec.get("to").into_iter().collect();
            tos.extend(
                spec.get("alternateBackends")
                    .map(Node::items)
                    .unwrap_or(&[]),
            );
            for to in tos {
                let kind = to.get("kind").and_then(Node::as_str).unwrap_or("Service");
                if kind == "Service"
                    && let Some(name) = to.get("name").and_then(Node::as_str)
                {
                    out.push(Backend {
                        node: to,
                        service: name,
                        port,
                    });
                }
            }
        }
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::{Manifests, load_text};

    fn load(s: &str) -> Manifests {
        let mut m = Manifests::default();
        load_text(&mut m, "t.yaml".into(), s.into());
        m
    }

    #[test]
    fn service_ports_and_their_targets() {
        let m = load(
            "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  selector: {app: a}\n  ports:\n  - {name: http, port: 80, targetPort: web}\n  - {port: 53, protocol: UDP}\n",
        );
        let svc = &m.resources[0];
        assert!(selector(svc).is_some());
        let p = ports(svc);
        assert_eq!(p[0].target, Target::Name("web"));
        assert_eq!(
            p[0].container_port(|n| (n == "web").then_some(8080)),
            Some(8080)
        );
        assert_eq!((p[1].protocol, p[1].target), ("UDP", Target::Number(53)));
    }

    #[test]
    fn backends_of_ingress_httproute_and_route() {
        let m = load(
            "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: i}\nspec:\n  rules:\n  - http:\n      paths:\n      - backend: {service: {name: s, port: {name: http}}}\n---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: h}\nspec:\n  rules:\n  - backendRefs: [{name: s, port: 80}]\n---\napiVersion: route.openshift.io/v1\nkind: Route\nmetadata: {name: r}\nspec:\n  to: {kind: Service, name: s}\n  port: {targetPort: web}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  selector: {app: a}\n  ports: [{name: http, port: 80, targetPort: web}, {name: admin, port: 81}]\n",
        );
        let svc = &m.resources[3];
        let sp = ports(svc);
        for r in &m.resources[..3] {
            let b = backends(r);
            assert_eq!(b.len(), 1, "{}", r.kind);
            assert_eq!(b[0].service, "s");
            let picked: Vec<bool> = sp.iter().map(|p| b[0].port.picks(p)).collect();
            assert_eq!(picked, [true, false], "{}", r.kind);
        }
    }
}
