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
