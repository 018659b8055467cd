//! The workload model: every pod template in the manifests, whichever kind holds it.
//!
//! Core controllers (Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController,
//! Job, CronJob) and the ML platforms' own kinds: KServe InferenceService (predictor, transformer,
//! explainer; framework and `model` specs resolved against ServingRuntime /
//! ClusterServingRuntime in the same manifests) and the runtimes themselves, Seldon
//! SeldonDeployment, KubeRay RayCluster / RayService / RayJob, Kubeflow Notebook, Kubeflow
//! training jobs (`*ReplicaSpecs`), JobSet and LeaderWorkerSet.

use crate::load::{Manifests, Resource};
use crate::yaml::{Node, NodeKind, Pos};
use std::borrow::Cow;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerKind {
    Init,
    Regular,
    Ephemeral,
}

impl ContainerKind {
    pub fn label(self) -> &'static str {
        match self {
            ContainerKind::Init => "init container",
            ContainerKind::Regular => "container",
            ContainerKind::Ephemeral => "ephemeral container",
        }
    }
}

/// One container of a pod template (possibly merged from a serving runtime and an override).
#[derive(Debug)]
pub struct Container<'a> {
    pub name: String,
    pub kind: ContainerKind,
    pub node: Cow<'a, Node>,
    /// How it starts, built on first use by [`Container::launch`](crate::ml).
    pub(crate) launch: std::cell::OnceCell<crate::ml::ContainerLaunch>,
}

impl Container<'_> {
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.node.get(key)
    }

    pub fn security(&self, key: &str) -> Option<&Node> {
        self.node.path(&["securityContext", key])
    }

    pub fn image(&self) -> Option<&str> {
        self.get("image").and_then(Node::as_nonempty_str)
    }

    /// Where a finding about `securityContext.key` points: the key if present, else the
    /// securityContext, else the container.
    pub fn security_pos(&self, key: &str) -> Pos {
        self.node.deepest_key_pos(&["securityContext", key])
    }
}

/// A pod template found in a resource.
#[derive(Debug)]
pub struct PodTemplate<'a> {
    pub resource: &'a Resource,
    /// Where in the resource: `spec.template`, `predictor`, `worker group 'gpu'`…
    pub role: Option<String>,
    /// The PodSpec mapping.
    pub spec: Cow<'a, Node>,
    /// The template's metadata (labels, annotations), if any.
    pub meta: Option<&'a Node>,
    pub containers: Vec<Container<'a>>,
}

impl<'a> PodTemplate<'a> {
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.spec.get(key)
    }

    /// `spec.os.name == windows`
    pub fn is_windows(&self) -> bool {
        self.spec.path(&["os", "name"]).and_then(Node::as_str) == Some("windows")
    }

    /// `spec.hostUsers: false` (user namespaces).
    pub fn host_users_false(&self) -> bool {
        self.spec.get("hostUsers").and_then(Node::as_bool) == Some(false)
    }

    pub fn pod_security(&self, key: &str) -> Option<&Node> {
        self.spec.path(&["securityContext", key])
    }

    pub fn pod_security_pos(&self, key: &str) -> Pos {
        self.spec.deepest_key_pos(&["securityContext", key])
    }

    /// The labels pods from this template carry.
    pub fn labels(&self) -> Vec<(String, String)> {
        match self.meta {
            Some(m) => m.get("labels").map(Node::string_pairs).unwrap_or_default(),
            // A bare Pod's labels are the resource's.
            None => self.resource.labels(),
        }
    }

    /// The pod template's annotations (or the Pod's).
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.meta
            .or_else(|| self.resource.metadata())
            .and_then(|m| m.path(&["annotations", key]))
            .and_then(Node::as_str)
    }

    pub fn service_account(&self) -> &str {
        self.get("serviceAccountName")
            .or_else(|| self.get("serviceAccount"))
            .and_then(Node::as_nonempty_str)
            .unwrap_or("default")
    }

    pub fn volumes(&self) -> &[Node] {
        self.get("volumes").map(Node::items).unwrap_or(&[])
    }
}

/// Containers of a PodSpec-shaped node, in init, regular, ephemeral order.
fn containers_of(spec: &Node) -> Vec<Container<'_>> {
    let mut out = Vec::new();
    for (key, kind) in [
        ("initContainers", ContainerKind::Init),
        ("containers", ContainerKind::Regular),
        ("ephemeralContainers", ContainerKind::Ephemeral),
    ] {
        for c in spec.get(key).map(Node::items).unwrap_or(&[]) {
            if !c.is_map() {
                continue;
            }
            out.push(Container {
                name: c
                    .get("name")
                    .and_then(Node::as_str)
                    .unwrap_or("<unnamed>")
                    .to_string(),
                kind,
                node: Cow::Borrowed(c),
                launch: Default::default(),
            });
        }
    }
    out
}

/// A `PodTemplateSpec` (`metadata` + `spec`), when present and well-formed.
fn template<'a>(
    resource: &'a Resource,
    role: Option<String>,
    tmpl: Option<&'a Node>,
) -> Option<PodTemplate<'a>> {
    let tmpl = tmpl?;
    let spec = tmpl.get("spec").filter(|s| s.is_map())?;
    Some(pod_spec(resource, role, spec, tmpl.get("metadata")))
}

/// A `PodSpec` with the metadata its pods carry.
fn pod_spec<'a>(
    resource: &'a Resource,
    role: Option<String>,
    spec: &'a Node,
    meta: Option<&'a Node>,
) -> PodTemplate<'a> {
    PodTemplate {
        resource,
        role,
        containers: containers_of(spec),
        spec: Cow::Borrowed(spec),
        meta,
    }
}

/// KServe's predictor framework keys; each names its model format.
const KSERVE_FRAMEWORKS: &[&str] = &[
    "sklearn",
    "xgboost",
    "tensorflow",
    "pytorch",
    "triton",
    "onnx",
    "pmml",
    "lightgbm",
    "paddle",
    "huggingface",
];

/// Deep merge for container specs the way KServe overlays an InferenceService's model spec on
/// its runtime's container: mappings merge key by key, anything else is replaced.
pub fn overlay(base: &Node, over: &Node) -> Node {
    match (&base.kind, &over.kind) {
        (NodeKind::Map(b), NodeKind::Map(o)) => {
            let mut entries: Vec<(Node, Node)> = Vec::new();
            for (k, v) in b {
                let key = k.as_str();
                match o.iter().rev().find(|(ok, _)| ok.as_str() == key) {
                    Some((ok, ov)) => entries.push((ok.clone(), overlay(v, ov))),
                    None => entries.push((k.clone(), v.clone())),
                }
            }
            for (k, v) in o {
                if !b.iter().any(|(bk, _)| bk.as_str() == k.as_str()) {
                    entries.push((k.clone(), v.clone()));
                }
            }
            Node {
                pos: over.pos,
                kind: NodeKind::Map(entries.into_boxed_slice()),
            }
        }
        _ => over.clone(),
    }
}

/// Fields of a KServe model/framework spec that are KServe's, not the container's.
const KSERVE_MODEL_ONLY: &[&str] = &[
    "storageUri",
    "runtimeVersion",
    "protocolVersion",
    "modelFormat",
    "runtime",
    "storage",
];

/// Find the ServingRuntime that serves `format` (or is named `runtime`) in the manifests.
fn find_runtime<'a>(
    manifests: &'a Manifests,
    isvc: &Resource,
    format: Option<&str>,
    runtime: Option<&str>,
) -> Option<&'a Resource> {
    let candidates = manifests.resources.iter().filter(|r| {
        (r.kind == "ServingRuntime" && r.namespace == isvc.namespace)
            || r.kind == "ClusterServingRuntime"
    });
    let mut best: Option<&Resource> = None;
    for r in candidates {
        if let Some(name) = runtime {
            if r.name == name {
                return Some(r);
            }
            continue;
        }
        let Some(format) = format else { continue };
        let serves = r
            .spec()
            .and_then(|s| s.get("supportedModelFormats"))
            .map(Node::items)
            .unwrap_or(&[])
            .iter()
            .any(|f| {
                f.get("name").and_then(Node::as_str) == Some(format)
                    && f.get("autoSelect").and_then(Node::as_bool) != Some(false)
            });
        if serves
            && r.spec()
                .and_then(|s| s.get("disabled"))
                .and_then(Node::as_bool)
                != Some(true)
        {
            // Namespaced runtimes win over cluster ones, as in KServe.
            if best.is_none() || r.kind == "ServingRuntime" {
                best = Some(r);
            }
        }
    }
    best
}

/// A KServe component (predictor, transformer, explainer).
fn kserve_component<'a>(
    manifests: &'a Manifests,
    resource: &'a Resource,
    role: &str,
    comp: &'a Node,
) -> PodTemplate<'a> {
    let mut t = pod_spec(resource, Some(role.to_string()), comp, None);
    // Framework / model spec: resolved against a serving runtime when one is in the manifests.
    let model = comp
        .get("model")
        .map(|m| ("model", m))
        .or_else(|| {
            KSERVE_FRAMEWORKS
                .iter()
                .find_map(|f| comp.get(f).map(|m| (*f, m)))
        })
        .filter(|(_, m)| m.is_map());
    if let Some((key, spec)) = model {
        let format = if key == "model" {
            spec.path(&["modelFormat", "name"]).and_then(Node::as_str)
        } else {
            Some(key)
        };
        let runtime_name = spec.get("runtime").and_then(Node::as_str);
        let stripped = strip_keys(spec, KSERVE_MODEL_ONLY);
        let runtime = find_runtime(manifests, resource, format, runtime_name);
        let runtime_container = runtime.and_then(|r| {
            r.spec()?
                .get("containers")?
                .items()
                .iter()
                .find(|c| c.get("name").and_then(Node::as_str) == Some("kserve-container"))
                .or_else(|| r.spec()?.get("containers")?.items().first())
        });
        let merged = match runtime_container {
            Some(base) => overlay(base, &stripped),
            None => stripped,
        };
        t.containers.insert(
            0,
            Container {
                name: "kserve-container".to_string(),
                kind: ContainerKind::Regular,
                node: Cow::Owned(merged),
                launch: Default::default(),
            },
        );
        if let Some(rt) = runtime {
            // Pod-level fields of the runtime (volumes, hostNetwork…) apply too, with the
            // InferenceService's own winning; the runtime's other containers run beside it.
            if let Some(rs) = rt.spec() {
                let mut pod_level = strip_keys(
                    rs,
                    &[
                        "containers",
                        "supportedModelFormats",
                        "multiModel",
                        "disabled",
                        "protocolVersions",
                        "builtInAdapter",
                        "grpcEndpoint",
                        "grpcDataEndpoint",
                        "httpDataEndpoint",
                        "replicas",
                        "storageHelper",
                    ],
                );
                pod_level = overlay(&pod_level, &strip_keys(comp, &["containers"]));
                t.spec = Cow::Owned(pod_level);
                t.containers
                    .extend(containers_of(rs).into_iter().filter(|c| {
                        !runtime_container.is_some_and(|main| std::ptr::eq(main, c.node.as_ref()))
                    }));
            }
        }
    }
    t
}

fn strip_keys(n: &Node, keys: &[&str]) -> Node {
    match &n.kind {
        NodeKind::Map(e) => Node {
            pos: n.pos,
            kind: NodeKind::Map(
                e.iter()
                    .filter(|(k, _)| !k.as_str().is_some_and(|k| keys.contains(&k)))
                    .cloned()
                    .collect::<Vec<_>>()
                    .into_boxed_slice(),
            ),
        },
        _ => n.clone(),
    }
}

fn ray_cluster<'a>(out: &mut Vec<PodTemplate<'a>>, r: &'a Resource, spec: Option<&'a Node>) {
    let Some(spec) = spec else { return };
    out.extend(template(
        r,
        Some("head group".into()),
        spec.path(&["headGroupSpec", "template"]),
    ));
    for g in spec.get("workerGroupSpecs").map(Node::items).unwrap_or(&[]) {
        let name = g.get("groupName").and_then(Node::as_str).unwrap_or("?");
        out.extend(template(
            r,
            Some(format!("worker group '{name}'")),
            g.get("template"),
        ));
    }
}

fn replicated_jobs<'a>(
    out: &mut Vec<PodTemplate<'a>>,
    r: &'a Resource,
    jobset_spec: Option<&'a Node>,
) {
    for j in jobset_spec
        .and_then(|s| s.get("replicatedJobs"))
        .map(Node::items)
        .unwrap_or(&[])
    {
        let name = j.get("name").and_then(Node::as_str).unwrap_or("?");
        out.extend(template(
            r,
            Some(format!("replicated job '{name}'")),
            j.path(&["template", "spec", "template"]),
        ));
    }
}

/// Every pod template in one resource.
pub fn pod_templates<'a>(manifests: &'a Manifests, r: &'a Resource) -> Vec<PodTemplate<'a>> {
    let mut out = Vec::new();
    let Some(spec) = r.spec() else { return out };
    if !spec.is_map() {
        return out;
    }
    match (r.group(), r.kind.as_str()) {
        ("", "Pod") => out.push(pod_spec(r, None, spec, None)),
        (
            "apps" | "extensions" | "",
            "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "ReplicationController",
        )
        | ("batch", "Job")
        | ("", "PodTemplate") => out.extend(template(r, None, spec.get("template"))),
        ("batch", "CronJob") => out.extend(template(
            r,
            None,
            spec.path(&["jobTemplate", "spec", "template"]),
        )),
        ("serving.kserve.io", "InferenceService") => {
            for role in ["predictor", "transformer", "explainer"] {
                if let Some(c) = spec.get(role).filter(|c| c.is_map()) {
                    out.push(kserve_component(manifests, r, role, c));
                }
            }
        }
        ("serving.kserve.io", "ServingRuntime" | "ClusterServingRuntime") => {
            out.push(pod_spec(r, None, spec, None));
        }
        ("machinelearning.seldon.io", "SeldonDeployment") => {
            for p in spec.get("predictors").map(Node::items).unwrap_or(&[]) {
                let pname = p.get("name").and_then(Node::as_str).unwrap_or("?");
                let specs = p.get("componentSpecs").map(Node::items).unwrap_or(&[]);
                for (i, cs) in specs.iter().enumerate() {
                    // Each componentSpec is a pod of its own: name it when there are several.
                    let role = if specs.len() > 1 {
                        format!("predictor '{pname}' componentSpecs[{i}]")
                    } else {
                        format!("predictor '{pname}'")
                    };
                    if let Some(s) = cs.get("spec").filter(|s| s.is_map()) {
                        out.push(pod_spec(r, Some(role), s, cs.get("metadata")));
                    }
                }
            }
        }
        ("ray.io", "RayCluster") => ray_cluster(&mut out, r, Some(spec)),
        ("ray.io", "RayService") => ray_cluster(&mut out, r, spec.get("rayClusterConfig")),
        ("ray.io", "RayJob") => {
            ray_cluster(&mut out, r, spec.get("rayClusterSpec"));
            out.extend(template(
                r,
                Some("submitter".into()),
                spec.get("submitterPodTemplate"),
            ));
        }
        ("kubeflow.org", "Notebook") => out.extend(template(r, None, spec.get("template"))),
        ("kubeflow.org", _) => {
            // PyTorchJob, TFJob, MPIJob, XGBoostJob, PaddleJob, MXJob, JAXJob…
            for (k, v) in spec.entries() {
                if k.as_str().is_some_and(|k| k.ends_with("ReplicaSpecs")) {
                    for (role, rs) in v.entries() {
                        let role = role.as_str().unwrap_or("?");
                        out.extend(template(
                            r,
                            Some(format!("replica '{role}'")),
                            rs.get("template"),
                        ));
                    }
                }
            }
        }
        ("jobset.x-k8s.io", "JobSet") => replicated_jobs(&mut out, r, Some(spec)),
        ("trainer.kubeflow.org", "ClusterTrainingRuntime" | "TrainingRuntime") => {
            // Kubeflow Trainer v2: a JobSet template.
            replicated_jobs(&mut out, r, spec.path(&["template", "spec"]))
        }
        ("leaderworkerset.x-k8s.io", "LeaderWorkerSet") => {
            let lwt = spec.get("leaderWorkerTemplate");
            out.extend(template(
                r,
                Some("leader".into()),
                lwt.and_then(|l| l.get("leaderTemplate")),
            ));
            out.extend(template(
                r,
                Some("worker".into()),
                lwt.and_then(|l| l.get("workerTemplate")),
            ));
        }
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::load_text;

    fn manifests(s: &str) -> Manifests {
        let mut m = Manifests::default();
        load_text(&mut m, "t.yaml".into(), s.into());
        m
    }

    #[test]
    fn finds_ray_groups_and_training_replicas() {
        let m = manifests(
            "apiVersion: ray.io/v1\nkind: RayCluster\nmetadata: {name: rc}\nspec:\n  headGroupSpec:\n    template:\n      spec:\n        containers: [{name: head, image: rayproject/ray}]\n  workerGroupSpecs:\n  - groupName: gpu\n    template:\n      spec:\n        containers: [{name: w, image: rayproject/ray}]\n---\napiVersion: kubeflow.org/v1\nkind: PyTorchJob\nmetadata: {name: pj}\nspec:\n  pytorchReplicaSpecs:\n    Master:\n      template:\n        spec:\n          containers: [{name: pytorch, image: x}]\n",
        );
        let all: Vec<(String, String)> = m
            .resources
            .iter()
            .flat_map(|r| pod_templates(&m, r))
            .flat_map(|t| {
                let role = t.role.clone().unwrap_or_default();
                t.containers
                    .iter()
                    .map(move |c| (role.clone(), c.name.clone()))
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(
            all,
            vec![
                ("head group".to_string(), "head".to_string()),
                ("worker group 'gpu'".to_string(), "w".to_string()),
                ("replica 'Master'".to_string(), "pytorch".to_string()),
            ]
        );
    }

    #[test]
    fn finds_notebook_lws_and_trainer_runtime() {
        let m = manifests(
            "apiVersion: kubeflow.org/v1\nkind: Notebook\nmetadata: {name: nb}\nspec:\n  template:\n    spec:\n      containers: [{name: nb, image: jupyter}]\n---\napiVersion: leaderworkerset.x-k8s.io/v1\nkind: LeaderWorkerSet\nmetadata: {name: l}\nspec:\n  leaderWorkerTemplate:\n    workerTemplate:\n      spec:\n        containers: [{name: w, image: vllm}]\n---\napiVersion: trainer.kubeflow.org/v1alpha1\nkind: ClusterTrainingRuntime\nmetadata: {name: t}\nspec:\n  template:\n    spec:\n      replicatedJobs:\n      - name: node\n        template:\n          spec:\n            template:\n              spec:\n                containers: [{name: trainer, image: pytorch}]\n",
        );
        let names: Vec<String> = m
            .resources
            .iter()
            .flat_map(|r| pod_templates(&m, r))
            .flat_map(|t| {
                t.containers
                    .iter()
                    .map(|c| c.name.clone())
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(names, vec!["nb", "w", "trainer"]);
    }

    #[test]
    fn seldon_component_specs_are_told_apart() {
        let m = manifests(
            "apiVersion: machinelearning.seldon.io/v1\nkind: SeldonDeployment\nmetadata: {name: s}\nspec:\n  predictors:\n  - name: p\n    componentSpecs:\n    - spec: {containers: [{name: a, image: x}]}\n    - spec: {containers: [{name: b, image: y}]}\n",
        );
        let roles: Vec<String> = pod_templates(&m, &m.resources[0])
            .into_iter()
            .map(|t| t.role.unwrap())
            .collect();
        assert_eq!(
            roles,
            vec![
                "predictor 'p' componentSpecs[0]",
                "predictor 'p' componentSpecs[1]"
            ]
        );
    }

    #[test]
    fn kserve_resolves_serving_runtime() {
        let m = manifests(
            "apiVersion: serving.kserve.io/v1alpha1\nkind: ServingRuntime\nmetadata: {name: sk, namespace: ml}\nspec:\n  supportedModelFormats: [{name: sklearn, autoSelect: true}]\n  containers:\n  - name: kserve-container\n    image: kserve/sklearnserver:v0.14\n    securityContext: {privileged: true, runAsNonRoot: true}\n---\napiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\nmetadata: {name: iris, namespace: ml}\nspec:\n  predictor:\n    model:\n      modelFormat: {name: sklearn}\n      storageUri: gs://b/m\n      securityContext: {runAsNonRoot: false}\n",
        );
        let isvc = &m.resources[1];
        let t = pod_templates(&m, isvc);
        let c = &t[0].containers[0];
        assert_eq!(c.image(), Some("kserve/sklearnserver:v0.14"));
        assert!(c.security("privileged").unwrap().is_true());
        let ran = c.security("runAsNonRoot").unwrap();
        assert_eq!(ran.as_bool(), Some(false));
        assert_eq!(
            ran.pos.line, 19,
            "points at the InferenceService's override"
        );
        assert!(c.get("storageUri").is_none());
    }
}
