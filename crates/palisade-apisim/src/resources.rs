//! The resources the server knows: where each lives in the REST API and what its objects are.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resource {
    /// The plural name in paths (`pods`).
    pub plural: &'static str,
    /// The API group (`""` for the core group).
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub namespaced: bool,
}

impl Resource {
    /// `v1` or `apps/v1`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The collection path for a namespace (ignored for cluster-scoped resources).
    pub fn path(&self, namespace: &str) -> String {
        let base = if self.group.is_empty() {
            format!("/api/{}", self.version)
        } else {
            format!("/apis/{}/{}", self.group, self.version)
        };
        if self.namespaced {
            format!("{base}/namespaces/{namespace}/{}", self.plural)
        } else {
            format!("{base}/{}", self.plural)
        }
    }
}

const fn r(
    plural: &'static str,
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    namespaced: bool,
) -> Resource {
    Resource {
        plural,
        group,
        version,
        kind,
        namespaced,
    }
}

pub const PODS: Resource = r("pods", "", "v1", "Pod", true);
pub const NODES: Resource = r("nodes", "", "v1", "Node", false);
pub const NAMESPACES: Resource = r("namespaces", "", "v1", "Namespace", false);
pub const EVENTS: Resource = r("events", "", "v1", "Event", true);
pub const SECRETS: Resource = r("secrets", "", "v1", "Secret", true);
pub const SERVICE_ACCOUNTS: Resource = r("serviceaccounts", "", "v1", "ServiceAccount", true);
pub const SERVICES: Resource = r("services", "", "v1", "Service", true);
pub const CONFIG_MAPS: Resource = r("configmaps", "", "v1", "ConfigMap", true);
pub const DEPLOYMENTS: Resource = r("deployments", "apps", "v1", "Deployment", true);
pub const REPLICA_SETS: Resource = r("replicasets", "apps", "v1", "ReplicaSet", true);
/// Stored and served; no controller runs them (tests create their pods).
pub const STATEFUL_SETS: Resource = r("statefulsets", "apps", "v1", "StatefulSet", true);
pub const DAEMON_SETS: Resource = r("daemonsets", "apps", "v1", "DaemonSet", true);
pub const NETWORK_POLICIES: Resource = r(
    "networkpolicies",
    "networking.k8s.io",
    "v1",
    "NetworkPolicy",
    true,
);
pub const PDBS: Resource = r(
    "poddisruptionbudgets",
    "policy",
    "v1",
    "PodDisruptionBudget",
    true,
);

pub const ALL: [Resource; 14] = [
    PODS,
    NODES,
    NAMESPACES,
    EVENTS,
    SECRETS,
    SERVICE_ACCOUNTS,
    SERVICES,
    CONFIG_MAPS,
    DEPLOYMENTS,
    REPLICA_SETS,
    STATEFUL_SETS,
    DAEMON_SETS,
    NETWORK_POLICIES,
    PDBS,
];

pub fn by_path(group: &str, version: &str, plural: &str) -> Option<Resource> {
    ALL.into_iter()
        .find(|r| r.group == group && r.version == version && r.plural == plural)
}

pub fn by_kind(api_version: &str, kind: &str) -> Option<Resource> {
    ALL.into_iter()
        .find(|r| r.kind == kind && r.api_version() == api_version)
}
