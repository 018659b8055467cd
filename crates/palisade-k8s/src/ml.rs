//! ML servers in pod templates: which container runs which server (by image, command, args
//! and the custom resource it belongs to — never by port alone), how it was started, and the
//! ports it serves.

use crate::workload::{Container, PodTemplate};
use crate::yaml::{Node, Pos};
use palisade_core::ml::{self, Launch, Server};
use palisade_core::shell;

/// How a container starts: the `ml` launch plus the position of each argv word. Built once
/// per container ([`Container::launch`]) and shared by every rule.
#[derive(Debug)]
pub struct ContainerLaunch {
    pub launch: Launch,
    pub argv_pos: Vec<Pos>,
    /// Position of each env entry's value (or of the entry when it has no value), by name.
    env_pos: Vec<(String, Pos)>,
}

impl Container<'_> {
    /// How this container starts (computed on first use).
    pub fn launch(&self) -> &ContainerLaunch {
        self.launch.get_or_init(|| ContainerLaunch::of(self))
    }
}

impl ContainerLaunch {
    fn of(c: &Container) -> Self {
        let mut words: Vec<&str> = Vec::new();
        let mut pos: Vec<Pos> = Vec::new();
        for key in ["command", "args"] {
            for n in c.get(key).map(Node::items).unwrap_or(&[]) {
                if let Some(s) = n.as_str() {
                    words.push(s);
                    pos.push(n.pos);
                }
            }
        }
        // `sh -c SCRIPT`: the script's words all point at the script.
        let argv_pos = match shell::shell_c_script(&words) {
            Some((i, script)) => {
                let inner: usize = shell::parse(&script).iter().map(|c| c.words.len()).sum();
                let mut p = pos[..i - 1].to_vec();
                p.extend(std::iter::repeat_n(pos[i], inner));
                p.extend_from_slice(&pos[i + 1..]);
                p
            }
            None => pos,
        };
        let mut env = Vec::new();
        let mut env_pos = Vec::new();
        for e in c.get("env").map(Node::items).unwrap_or(&[]) {
            let Some(name) = e.get("name").and_then(Node::as_str) else {
                continue;
            };
            match e.get("value") {
                Some(v) => {
                    env.push((name, v.as_str().unwrap_or("")));
                    env_pos.push((name.to_string(), v.pos));
                }
                // A value from a Secret or ConfigMap: set, but not known here.
                None => {
                    env.push((name, "$(ref)"));
                    env_pos.push((name.to_string(), e.pos));
                }
            }
        }
        ContainerLaunch {
            launch: Launch::new(c.image(), &words, env),
            argv_pos,
            env_pos,
        }
    }

    /// Where an `ml` finding points: its argv word, its env entry, or the container.
    pub fn locate(&self, opt: &ml::InsecureOption, c: &Container) -> Pos {
        if let Some(i) = opt.arg
            && let Some(p) = self.argv_pos.get(i)
        {
            return *p;
        }
        if let Some(name) = &opt.env
            && let Some((_, p)) = self.env_pos.iter().rev().find(|(n, _)| n == name)
        {
            return *p;
        }
        c.node.pos
    }
}

/// The ML server a container runs, if Palisade knows it.
pub fn server_of(t: &PodTemplate, c: &Container, l: &Launch) -> Option<Server> {
    let r = t.resource;
    if r.group() == "ray.io" {
        // KubeRay starts `ray start --head` itself; the head group's Ray container is the head.
        let is_ray_container = c
            .image()
            .is_some_and(|i| i.contains("ray") || i.contains("vllm"))
            && t.containers.first().is_some_and(|f| f.name == c.name);
        return (t.role.as_deref() == Some("head group") && is_ray_container)
            .then_some(Server::RayHead);
    }
    ml::identify(l)
}

/// Every container of a template that runs a known ML server, with how it starts.
pub fn servers<'t>(t: &'t PodTemplate) -> Vec<(&'t Container<'t>, Server, &'t ContainerLaunch)> {
    t.containers
        .iter()
        .filter_map(|c| {
            let cl = c.launch();
            server_of(t, c, &cl.launch).map(|s| (c, s, cl))
        })
        .collect()
}

/// The ports a container declares: (containerPort, name, the port entry).
pub fn declared_ports<'n>(c: &'n Container) -> Vec<(u16, Option<&'n str>, &'n Node)> {
    c.get("ports")
        .map(Node::items)
        .unwrap_or(&[])
        .iter()
        .filter_map(|p| {
            let n = p.get("containerPort")?.as_i64()?;
            Some((
                u16::try_from(n).ok()?,
                p.get("name").and_then(Node::as_str),
                p,
            ))
        })
        .collect()
}

/// Whether `port` is one this server serves in this container: a port it declares, or one of
/// the server's well-known ports.
pub fn serves_port(s: Server, c: &Container, port: u16) -> bool {
    s.port_role(port).is_some() || declared_ports(c).iter().any(|(p, _, _)| *p == port)
}

/// Words that say a volume holds models.
pub fn names_models(s: &str) -> bool {
    let s = s.to_ascii_lowercase();
    [
        "model",
        "weights",
        "checkpoint",
        "ckpt",
        "hf-cache",
        "huggingface",
        "hf_home",
    ]
    .iter()
    .any(|w| s.contains(w))
}

/// Whether an argument or variable name says it holds where a model comes from
/// (`--model-uri`, `--model_base_path`, `STORAGE_URI`, `MODEL_URL`, `--model-repository`).
pub fn names_model_source(name: &str) -> bool {
    let n = name
        .trim_start_matches('-')
        .to_ascii_lowercase()
        .replace('-', "_");
    let model = ["model", "weights", "checkpoint"]
        .iter()
        .any(|w| n.contains(w));
    let source = [
        "uri", "url", "path", "location", "source", "repo", "store", "dir",
    ]
    .iter()
    .any(|w| n.contains(w));
    model && source || n == "storage_uri" || n == "storageuri" || n == "storage_url"
}

/// Whether a container's image or launch says it uses GPUs.
pub fn uses_gpu(c: &Container) -> bool {
    let limits = ["limits", "requests"].iter().any(|k| {
        c.node.path(&["resources", k]).is_some_and(|m| {
            m.entries()
                .any(|(k, _)| k.as_str().is_some_and(is_gpu_resource))
        })
    });
    let image = c.image().unwrap_or("").to_ascii_lowercase();
    limits
        || [
            "cuda",
            "nvidia",
            "gpu",
            "rocm",
            "tritonserver",
            "vllm",
            "tensorrt",
        ]
        .iter()
        .any(|w| image.contains(w))
}

/// Extended resources that are accelerators the device plugins allocate: `nvidia.com/gpu`,
/// MIG slices (`nvidia.com/mig-1g.10gb`), `amd.com/gpu`, `gpu.intel.com/*`, `google.com/tpu`.
pub fn is_gpu_resource(name: &str) -> bool {
    name == "nvidia.com/gpu"
        || name.starts_with("nvidia.com/mig-")
        || name == "amd.com/gpu"
        || name.starts_with("gpu.intel.com/")
        || name == "google.com/tpu"
}

/// A volume a container mounts, resolved to its source.
pub struct MountedVolume<'n> {
    pub mount: &'n Node,
    pub mount_path: &'n str,
    pub volume: &'n Node,
    pub volume_name: &'n str,
    pub read_only: bool,
    pub source: VolumeSource<'n>,
}

/// Where a volume's data lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VolumeSource<'n> {
    HostPath(&'n str),
    Pvc(&'n str),
    Nfs(String),
    Other,
}

impl VolumeSource<'_> {
    /// How messages name it.
    pub fn describe(&self) -> String {
        match self {
            VolumeSource::HostPath(p) => format!("hostPath {p}"),
            VolumeSource::Pvc(c) => format!("PVC {c}"),
            VolumeSource::Nfs(s) => format!("NFS {s}"),
            VolumeSource::Other => "volume".into(),
        }
    }
}

/// The volumes a container mounts, with their sources. A PVC is read-only when the mount or
/// the pod's `persistentVolumeClaim.readOnly` says so.
pub fn mounted_volumes<'n>(t: &'n PodTemplate, c: &'n Container) -> Vec<MountedVolume<'n>> {
    let mut out = Vec::new();
    for m in c.get("volumeMounts").map(Node::items).unwrap_or(&[]) {
        let Some(name) = m.get("name").and_then(Node::as_str) else {
            continue;
        };
        let Some(v) = t
            .volumes()
            .iter()
            .find(|v| v.get("name").and_then(Node::as_str) == Some(name))
        else {
            continue;
        };
        let mut read_only = m.get("readOnly").is_some_and(Node::is_true);
        let source = if let Some(h) = v.get("hostPath") {
            VolumeSource::HostPath(h.get("path").and_then(Node::as_str).unwrap_or(""))
        } else if let Some(p) = v.get("persistentVolumeClaim") {
            read_only |= p.get("readOnly").is_some_and(Node::is_true);
            VolumeSource::Pvc(p.get("claimName").and_then(Node::as_str).unwrap_or(""))
        } else if let Some(n) = v.get("nfs") {
            read_only |= n.get("readOnly").is_some_and(Node::is_true);
            VolumeSource::Nfs(format!(
                "{}:{}",
                n.get("server").and_then(Node::as_str).unwrap_or(""),
                n.get("path").and_then(Node::as_str).unwrap_or("")
            ))
        } else {
            VolumeSource::Other
        };
        out.push(MountedVolume {
            mount: m,
            mount_path: m.get("mountPath").and_then(Node::as_str).unwrap_or(""),
            volume: v,
            volume_name: name,
            read_only,
            source,
        });
    }
    out
}

/// Whether a mounted volume holds models: its name, claim, host path or mount path says so,
/// or the server's arguments point into it (`--model-repository=/models/…`).
pub fn holds_models(mv: &MountedVolume, argv: &[String]) -> bool {
    let src = match &mv.source {
        VolumeSource::HostPath(p) | VolumeSource::Pvc(p) => p.to_string(),
        VolumeSource::Nfs(s) => s.clone(),
        VolumeSource::Other => String::new(),
    };
    let points_into = |v: &str| mv.mount_path.len() > 1 && v.starts_with(mv.mount_path);
    names_models(mv.volume_name)
        || names_models(&src)
        || names_models(mv.mount_path)
        || argv
            .iter()
            .enumerate()
            .any(|(i, a)| match a.split_once('=') {
                Some((flag, v)) => names_model_source(flag) && points_into(v),
                None => points_into(a) && i > 0 && names_model_source(&argv[i - 1]),
            })
}
