//! K8S130 (ML server reachable without restriction) and K8S131 (assertion failed) as
//! `palisade scan` reports them.

use palisade_k8s::load::{Manifests, load_text};
use palisade_reach::scan::scan;

const JUPYTER: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: nb, namespace: ds}\nspec:\n  template:\n    metadata: {labels: {app: nb}}\n    spec:\n      containers:\n      - name: nb\n        image: jupyter/base-notebook:2024-01-01\n        ports: [{containerPort: 8888}]\n";

fn findings(extra: &str) -> Vec<String> {
    let mut m = Manifests::default();
    load_text(&mut m, "t.yaml".into(), format!("{JUPYTER}{extra}"));
    let r = scan(&m, &[]);
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    r.findings
        .iter()
        .map(|f| format!("{}:{} {} {}", f.line, f.column, f.rule, f.message))
        .collect()
}

fn policy(ingress: &str) -> String {
    format!(
        "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: nb-in, namespace: ds}}\nspec:\n  podSelector: {{matchLabels: {{app: nb}}}}\n  ingress:\n{ingress}"
    )
}

#[test]
fn open_notebook_is_reported_at_the_workload() {
    let f = findings("");
    assert_eq!(f.len(), 1, "{f:?}");
    assert!(
        f[0].starts_with("1:1 K8S130 Jupyter in ds/nb[Deployment] can be reached from every pod"),
        "{f:?}"
    );
}

#[test]
fn rules_that_admit_everyone_are_reported_at_the_rule() {
    let f = findings(&policy("  - ports: [{port: 8888}]\n"));
    assert_eq!(f.len(), 1, "{f:?}");
    assert!(f[0].starts_with("19:5 K8S130"), "{f:?}");
    assert!(
        f[0].contains("open to everyone on TCP 8888") && f[0].contains("no `from`"),
        "{f:?}"
    );
    let f = findings(&policy("  - from: [{namespaceSelector: {}}]\n"));
    assert!(f[0].contains("every pod of every namespace"), "{f:?}");
    let f = findings(&policy("  - from: [{ipBlock: {cidr: 0.0.0.0/0}}]\n"));
    assert!(f[0].contains("whole internet"), "{f:?}");
}

#[test]
fn a_restricted_notebook_is_not_reported() {
    assert!(
        findings(&policy(
            "  - from: [{podSelector: {matchLabels: {app: hub}}}]\n"
        ))
        .is_empty()
    );
    // A custom API on 8888 is not Jupyter: no finding without a policy either.
    let mut m = Manifests::default();
    load_text(
        &mut m,
        "t.yaml".into(),
        JUPYTER.replace("jupyter/base-notebook:2024-01-01", "acme/api:1"),
    );
    assert!(scan(&m, &[]).findings.is_empty());
}

#[test]
fn suppressed_inline_like_every_rule() {
    let f = findings(&policy(
        "  # palisade:ignore K8S130 the hub proxies every request\n  - ports: [{port: 8888}]\n",
    ));
    assert!(f.is_empty(), "{f:?}");
}
