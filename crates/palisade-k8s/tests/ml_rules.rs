//! The ML rules (K8S100…), Ruff-style: each rule's fixture `tests/fixtures/ml/<CODE>.yaml`
//! against its snapshot `<CODE>.snap` (`line:column severity [resource] message`, that rule's
//! findings only). `PALISADE_BLESS=1 cargo test -p palisade-k8s --test ml_rules` rewrites the
//! snapshots after a deliberate change; review the diff.

use std::path::PathBuf;

#[test]
fn every_ml_rule_matches_its_snapshot() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ml");
    let mut failures = Vec::new();
    let codes: Vec<&str> = palisade_k8s::rules::all()
        .iter()
        .map(|r| r.meta.code)
        .filter(|c| c.starts_with("K8S1"))
        .collect();
    assert_eq!(codes.len(), 10);
    for code in codes {
        let text = std::fs::read_to_string(dir.join(format!("{code}.yaml")))
            .unwrap_or_else(|e| panic!("{code}: no fixture: {e}"));
        let mut report = palisade_k8s::scan::scan_text(&format!("{code}.yaml"), &text);
        report.sort();
        assert!(report.errors.is_empty(), "{code}: {:?}", report.errors);
        let got: String = report
            .findings
            .iter()
            .filter(|f| f.rule == code)
            .map(|f| f.snapshot_line())
            .collect();
        assert!(!got.is_empty(), "{code}: the fixture raises nothing");
        let snap = dir.join(format!("{code}.snap"));
        if std::env::var_os("PALISADE_BLESS").is_some() {
            std::fs::write(&snap, &got).unwrap();
        } else if std::fs::read_to_string(&snap).unwrap_or_default() != got {
            failures.push(format!(
                "{code}:\n--- want\n{}--- got\n{got}",
                std::fs::read_to_string(&snap).unwrap_or_default()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// K8S112 pairs model weights on a hostPath with a privileged pod of the same deployment unit
/// (same folder, or the same namespace written on both), not with any privileged pod anywhere
/// in a scanned tree: on the real-world corpus a RayCluster from one project was taken for the
/// neighbour of another project's TorchServe.
#[test]
fn weights_on_host_need_a_privileged_neighbour() {
    let serving = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: ts}\nspec:\n  template:\n    spec:\n      containers:\n      - name: ts\n        image: pytorch/torchserve:0.11.0-cpu\n        volumeMounts: [{name: m, mountPath: /models, readOnly: true}]\n      volumes: [{name: m, hostPath: {path: /mnt/models}}]\n";
    let privileged = "apiVersion: v1\nkind: Pod\nmetadata: {name: dbg}\nspec:\n  containers:\n  - {name: d, image: busybox:1.36, securityContext: {privileged: true}}\n";
    let k8s112 = |a: &str, b: &str| {
        let mut m = palisade_k8s::load::Manifests::default();
        palisade_k8s::load::load_text(&mut m, a.into(), serving.into());
        palisade_k8s::load::load_text(&mut m, b.into(), privileged.into());
        let report = palisade_k8s::scan::scan_manifests(m);
        report
            .findings
            .iter()
            .filter(|f| f.rule == "K8S112")
            .count()
    };
    assert_eq!(k8s112("app/serving.yaml", "app/debug.yaml"), 1);
    assert_eq!(k8s112("projA/serving.yaml", "projB/debug.yaml"), 0);
}
