use crate::load::{Manifests, Resource};
use crate::ml::{ContainerLaunch, declared_ports, servers, serves_port};
use crate::rules::{Check, Rule, Sink};
use crate::service::{self, BackendPort};
use crate::workload::{Container, PodTemplate};
use crate::yaml::{Node, Pos};
use palisade_core::ml::{Server, has_api_key, insecure_options};
use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Finds ML servers and control planes that are reachable from outside the cluster, and says how:
- a Service of type `LoadBalancer` or `NodePort` that selects the server's pods and targets one
  of its ports;
- an `Ingress` or Gateway API `HTTPRoute` whose backend is a Service in front of the server;
- a `hostPort` on one of the server's ports, or `hostNetwork: true`;
- a KubeRay head service of type `LoadBalancer`/`NodePort` (`headGroupSpec.serviceType`) or
  with `enableIngress: true`;
- a KServe InferenceService without the `networking.kserve.io/visibility: cluster-local` label,
  which the KServe ingress gateway publishes.

Servers are recognised by image, command, arguments and custom resource — never by port number
alone: Jupyter (8888), the Ray head (dashboard 8265, client 10001, GCS 6379), MLflow (5000),
TorchServe (inference 8080, management 8081, metrics 8082), Triton (8000-8002), TF Serving
(8500, 8501), and OpenAI-style servers — vLLM, TGI, SGLang, Ollama — when they run without an
API key. The message names the server, the port's role, the path that exposes it and the
attack it enables.

## Why is this bad?
None of these has authentication that is on by default and safe on the internet. An exposed Ray
dashboard or Jupyter runs any code sent to it (ShadowRay, CVE-2023-48022, was exploited in the
wild against exactly this); TorchServe's management API and Triton's repository API load models,
which run code; MLflow serves and accepts the model registry; an open inference API lets anyone
extract the model through its answers or run up the GPU bill.

## Example
```yaml
kind: Service
spec:
  type: LoadBalancer
  selector: {ray.io/node-type: head}
  ports: [{port: 8265}]
```

## Use instead
`type: ClusterIP`, reached through an authenticating gateway (OAuth2 proxy, Istio
`AuthorizationPolicy`, `palisade guard`) or `kubectl port-forward`; `--api-key` on vLLM/TGI;
`networking.kserve.io/visibility: cluster-local` on internal InferenceServices.

## References
- Ray docs, "Security" (CVE-2023-48022); TorchServe security advisories (CVE-2023-43654);
  Jupyter Server security docs; KServe docs, "Configure InferenceService visibility"
- MITRE ATLAS AML.T0049 Exploit Public-Facing Application, AML.T0040 AI Model Inference API
  Access, AML.T0024 Exfiltration via AI Inference API, AML.T0050, AML.T0035; ATT&CK T1133
"#;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "K8S100",
        name: "ml-server-exposed",
        severity: Severity::High,
        family: "ml-exposure",
        summary: "ML server or control plane reachable from outside the cluster",
        controls: &[],
        techniques: &["AML.T0049", "AML.T0040", "AML.T0024", "T1133"],
        fix: "keep it ClusterIP-only behind an authenticating gateway; enable the server's own authentication (API key, token)",
        doc: DOC,
    },
    check: Check::Manifests(check),
};

/// One server container and what matters about it.
struct Target<'t> {
    t: &'t PodTemplate<'t>,
    c: &'t Container<'t>,
    server: Server,
    severity: Severity,
    note: &'static str,
}

fn severity_of(server: Server, cl: &ContainerLaunch) -> Option<(Severity, &'static str)> {
    let insecure = insecure_options(server, &cl.launch, false);
    if !has_api_key(server, &cl.launch) {
        return Some((Severity::High, " without an API key"));
    }
    Some(match server {
        Server::Jupyter if insecure.iter().any(|o| o.critical) => {
            (Severity::Critical, " with its token disabled")
        }
        Server::TorchServe if insecure.iter().any(|o| o.critical) => {
            (Severity::Critical, " with token authorization disabled")
        }
        Server::Triton if !insecure.is_empty() => {
            (Severity::Critical, " with --model-control-mode=explicit")
        }
        Server::RayHead | Server::Mlflow => (Severity::Critical, ""),
        Server::Jupyter | Server::TorchServe => (Severity::High, ""),
        Server::Vllm | Server::Tgi | Server::Sglang => return None, // has an API key
        _ => (Severity::High, ""),
    })
}

/// The Service ports (with the container port they reach) that lead to the target's server,
/// among those `port` picks.
fn service_ports<'s>(svc: &'s Resource, tg: &Target, port: BackendPort) -> Vec<(&'s Node, u16)> {
    let selects = svc.effective_namespace() == tg.t.resource.effective_namespace()
        && service::selector(svc).is_some_and(|s| s.matches(&tg.t.labels()));
    if !selects {
        return Vec::new();
    }
    let declared = declared_ports(tg.c);
    service::ports(svc)
        .into_iter()
        .filter(|sp| port.picks(sp))
        .filter_map(|sp| {
            let cp = sp.container_port(|name| {
                declared
                    .iter()
                    .find(|(_, n, _)| *n == Some(name))
                    .map(|(p, _, _)| *p)
            })?;
            serves_port(tg.server, tg.c, cp).then_some((sp.node, cp))
        })
        .collect()
}

fn role(server: Server, port: u16) -> String {
    match server.port_role(port) {
        Some(r) => format!("port {port} ({r})"),
        None => format!("port {port}"),
    }
}

fn what(tg: &Target) -> String {
    let who = match &tg.t.role {
        Some(r) => format!("{} {} {r}", tg.t.resource.kind, tg.t.resource.name),
        None => format!("{} {}", tg.t.resource.kind, tg.t.resource.name),
    };
    format!(
        "{}{} (container '{}' of {who})",
        tg.server.label(),
        tg.note,
        tg.c.name
    )
}

fn report(sink: &mut Sink, tg: &Target, on: &Resource, pos: Pos, msg: String, severity: Severity) {
    if let Some(f) = sink.report(on, pos, msg) {
        f.severity = severity;
        f.techniques = tg
            .server
            .exposure_techniques()
            .iter()
            .map(|s| (*s).into())
            .collect();
    }
}

fn check(m: &Manifests, templates: &[PodTemplate], sink: &mut Sink) {
    let mut targets = Vec::new();
    for t in templates {
        if t.resource.kind.ends_with("ServingRuntime") {
            continue;
        }
        for (c, server, cl) in servers(t) {
            if let Some((severity, note)) = severity_of(server, cl) {
                targets.push(Target {
                    t,
                    c,
                    server,
                    severity,
                    note,
                });
            }
        }
    }
    for tg in &targets {
        let t = tg.t;
        // hostNetwork / hostPort
        if t.get("hostNetwork").is_some_and(Node::is_true) {
            let pos = t.spec.key_pos("hostNetwork");
            report(
                sink,
                tg,
                t.resource,
                pos,
                format!(
                    "{} listens on the node's network (hostNetwork: true): every port it serves is reachable at the node address",
                    what(tg)
                ),
                tg.severity,
            );
        }
        for (p, _, node) in declared_ports(tg.c) {
            if let Some(hp) = node
                .get("hostPort")
                .filter(|h| h.as_i64().is_some_and(|n| n > 0))
            {
                report(
                    sink,
                    tg,
                    t.resource,
                    hp.pos,
                    format!(
                        "{} publishes {} on every node it runs on (hostPort {})",
                        what(tg),
                        role(tg.server, p),
                        hp.as_str().unwrap_or("?")
                    ),
                    tg.severity,
                );
            }
        }
        // Services of type LoadBalancer / NodePort.
        for svc in &m.resources {
            let ty = svc
                .root
                .path(&["spec", "type"])
                .and_then(Node::as_str)
                .unwrap_or("");
            if ty != "LoadBalancer" && ty != "NodePort" {
                continue;
            }
            let restricted = svc
                .root
                .path(&["spec", "loadBalancerSourceRanges"])
                .is_some_and(|n| !n.items().is_empty());
            for (p, cp) in service_ports(svc, tg, BackendPort::Any) {
                let sev = if restricted {
                    Severity::Medium
                } else {
                    tg.severity
                };
                let ranges = if restricted {
                    " (source ranges restricted)"
                } else {
                    ""
                };
                report(
                    sink,
                    tg,
                    svc,
                    p.pos,
                    format!(
                        "{} is exposed outside the cluster by Service {} of type {ty}{ranges} on {}",
                        what(tg),
                        svc.name,
                        role(tg.server, cp)
                    ),
                    sev,
                );
            }
        }
        // Ingress and HTTPRoute backends.
        for ing in &m.resources {
            if ing.effective_namespace() != t.resource.effective_namespace() {
                continue;
            }
            for backend in service::backends(ing) {
                for svc in m
                    .resources
                    .iter()
                    .filter(|s| s.name == backend.service && s.kind == "Service")
                {
                    for (_, cp) in service_ports(svc, tg, backend.port) {
                        report(
                            sink,
                            tg,
                            ing,
                            backend.node.pos,
                            format!(
                                "{} is published by {} {} through Service {} on {}",
                                what(tg),
                                ing.kind,
                                ing.name,
                                svc.name,
                                role(tg.server, cp)
                            ),
                            tg.severity,
                        );
                    }
                }
            }
        }
    }
    // KubeRay head services and KServe visibility.
    for tg in &targets {
        let r = tg.t.resource;
        if tg.server == Server::RayHead
            && tg.t.role.as_deref() == Some("head group")
            && let Some(head) = ray_head_spec(r)
        {
            if let Some(st) = head.get("serviceType")
                && matches!(st.as_str(), Some("LoadBalancer" | "NodePort"))
            {
                report(
                    sink,
                    tg,
                    r,
                    st.pos,
                    format!(
                        "{} is exposed outside the cluster: the head service is of type {} (dashboard 8265, client 10001, GCS 6379)",
                        what(tg),
                        st.as_str().unwrap_or("")
                    ),
                    tg.severity,
                );
            }
            if let Some(ei) = head.get("enableIngress").filter(|n| n.is_true()) {
                report(
                    sink,
                    tg,
                    r,
                    ei.pos,
                    format!(
                        "{} dashboard is published through an Ingress (enableIngress: true)",
                        what(tg)
                    ),
                    tg.severity,
                );
            }
        }
        if r.kind == "InferenceService"
            && r.group() == "serving.kserve.io"
            && tg.t.role.as_deref() == Some("predictor")
        {
            let local = r
                .root
                .path(&["metadata", "labels", "networking.kserve.io/visibility"])
                .and_then(Node::as_str)
                == Some("cluster-local");
            if !local {
                report(
                    sink,
                    tg,
                    r,
                    r.pos(),
                    format!(
                        "{} is published by the KServe ingress gateway (no networking.kserve.io/visibility: cluster-local label)",
                        what(tg)
                    ),
                    gateway_severity(tg.severity),
                );
            }
        }
    }
}

/// Behind the KServe gateway, which may authenticate (an Istio AuthorizationPolicy): one level
/// lower than a bare exposure, and at least medium.
fn gateway_severity(s: Severity) -> Severity {
    match s {
        Severity::Critical => Severity::High,
        _ => Severity::Medium,
    }
}

/// The head group of a RayCluster / RayService / RayJob.
fn ray_head_spec(r: &Resource) -> Option<&Node> {
    let spec = r.spec()?;
    match r.kind.as_str() {
        "RayCluster" => spec.get("headGroupSpec"),
        "RayService" => spec.path(&["rayClusterConfig", "headGroupSpec"]),
        "RayJob" => spec.path(&["rayClusterSpec", "headGroupSpec"]),
        _ => None,
    }
}
