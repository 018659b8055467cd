use crate::load::{Manifests, Resource};
use crate::rules::{Check, Rule, Sink};
use crate::workload::PodTemplate;
use crate::yaml::Node;
use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Follows RoleBindings and ClusterRoleBindings in the manifests from a workload's service account
to its roles and flags grants that hand the workload the cluster: `cluster-admin` (or the
built-in `admin`/`edit`), wildcard verbs or resources, reading Secrets, or exec/attach into pods.

## Why is this bad?
Whatever runs in the pod — including a malicious model file or a notebook user — gets these
rights through the mounted token: read every Secret (registry, cloud and Hugging Face
credentials), exec into other model servers, or take over the cluster.

## Example
```yaml
kind: ClusterRoleBinding
roleRef: {kind: ClusterRole, name: cluster-admin}
subjects: [{kind: ServiceAccount, name: model-server, namespace: ml}]
```

## Use instead
A Role with the few verbs and resources the workload uses, bound in its namespace — or no
binding and `automountServiceAccountToken: false`.

## References
- CIS Kubernetes Benchmark 5.1.1–5.1.3
- MITRE ATLAS AML.T0012 Valid Accounts; ATT&CK T1078.004, T1552.007
"#;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "K8S031",
        name: "rbac-overprivileged-service-account",
        severity: Severity::High,
        family: "hardening",
        summary: "Workload's service account has wildcard, secrets, exec or admin rights",
        controls: &[],
        techniques: &["AML.T0012", "T1078.004", "T1552.007"],
        fix: "bind the service account to a namespaced Role with only the verbs and resources it needs",
        doc: DOC,
    },
    check: Check::Manifests(check),
};

fn strings(n: Option<&Node>) -> Vec<&str> {
    n.map(Node::items)
        .unwrap_or(&[])
        .iter()
        .filter_map(Node::as_str)
        .collect()
}

/// What is dangerous in a role's rules, in words.
fn dangerous_grants(role: &Resource) -> Vec<String> {
    let mut out = Vec::new();
    for rule in role.root.get("rules").map(Node::items).unwrap_or(&[]) {
        let verbs = strings(rule.get("verbs"));
        let resources = strings(rule.get("resources"));
        let any_verb = |vs: &[&str]| verbs.iter().any(|v| *v == "*" || vs.contains(v));
        if verbs.contains(&"*") && resources.contains(&"*") {
            out.push("all verbs on all resources".to_string());
            continue;
        }
        if resources.contains(&"*") && !verbs.is_empty() {
            out.push(format!("{} on all resources", verbs.join("/")));
        }
        if resources.contains(&"secrets") && any_verb(&["get", "list", "watch"]) {
            out.push("reading Secrets".to_string());
        }
        if resources
            .iter()
            .any(|r| *r == "pods/exec" || *r == "pods/attach")
            && any_verb(&["create", "get"])
        {
            out.push("exec/attach into pods".to_string());
        }
        if verbs.contains(&"*") && !resources.contains(&"*") && !resources.is_empty() {
            out.push(format!("all verbs on {}", resources.join(", ")));
        }
        if resources.iter().any(|r| {
            matches!(
                *r,
                "roles" | "clusterroles" | "rolebindings" | "clusterrolebindings"
            )
        }) && any_verb(&["escalate", "bind", "create", "update", "patch"])
        {
            out.push("changing RBAC".to_string());
        }
    }
    out.dedup();
    out
}

fn check(m: &Manifests, templates: &[PodTemplate], sink: &mut Sink) {
    let bindings: Vec<&Resource> = m
        .resources
        .iter()
        .filter(|r| {
            r.group() == "rbac.authorization.k8s.io"
                && (r.kind == "RoleBinding" || r.kind == "ClusterRoleBinding")
        })
        .collect();
    if bindings.is_empty() {
        return;
    }
    for t in templates {
        let sa = t.service_account();
        let ns = t.resource.effective_namespace();
        for b in &bindings {
            let binds_sa = b
                .root
                .get("subjects")
                .map(Node::items)
                .unwrap_or(&[])
                .iter()
                .any(|s| {
                    s.get("kind").and_then(Node::as_str) == Some("ServiceAccount")
                        && s.get("name").and_then(Node::as_str) == Some(sa)
                        && s.get("namespace")
                            .and_then(Node::as_str)
                            .unwrap_or(b.effective_namespace())
                            == ns
                });
            if !binds_sa || (b.kind == "RoleBinding" && b.effective_namespace() != ns) {
                continue;
            }
            let role_kind = b
                .root
                .path(&["roleRef", "kind"])
                .and_then(Node::as_str)
                .unwrap_or("");
            let role_name = b
                .root
                .path(&["roleRef", "name"])
                .and_then(Node::as_str)
                .unwrap_or("");
            let mut grants = Vec::new();
            if role_kind == "ClusterRole" && matches!(role_name, "cluster-admin" | "admin" | "edit")
            {
                grants.push(format!("the built-in '{role_name}' role"));
            }
            if let Some(role) = m.resources.iter().find(|r| {
                r.kind == role_kind
                    && r.name == role_name
                    && (role_kind == "ClusterRole"
                        || r.effective_namespace() == b.effective_namespace())
            }) {
                grants.extend(dangerous_grants(role));
            }
            if grants.is_empty() {
                continue;
            }
            let pos = t.spec.deepest_key_pos(&["serviceAccountName"]);
            sink.pod(
                t,
                pos,
                format!(
                    "service account '{sa}' is granted {} through {}/{} → {role_kind}/{role_name}",
                    grants.join(", "),
                    b.kind,
                    b.name
                ),
            );
        }
    }
}
