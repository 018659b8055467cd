//! Each rule's fixture (`tests/fixtures/<CODE>.Dockerfile`) against its snapshot
//! (`<CODE>.snap`: one `line:column severity message` per finding). Set `PALISADE_BLESS=1` to
//! rewrite the snapshots after a deliberate change, then review the diff.

use super::all;
use crate::scan::scan_text;
use std::path::PathBuf;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

#[test]
fn every_rule_matches_its_snapshot() {
    let mut failures = Vec::new();
    for rule in all() {
        let code = rule.meta.code;
        let path = fixtures().join(format!("{code}.Dockerfile"));
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{code} has no fixture {}: {e}", path.display()));
        let report = scan_text(&format!("{code}.Dockerfile"), &text);
        assert!(
            report.errors.is_empty(),
            "{code} fixture has parse errors: {:?}",
            report.errors
        );
        let mut got = String::new();
        for f in report.findings.iter().filter(|f| f.rule == code) {
            got.push_str(&f.snapshot_line());
        }
        assert!(!got.is_empty(), "{code}: the fixture raises nothing");
        let snap = fixtures().join(format!("{code}.snap"));
        if std::env::var_os("PALISADE_BLESS").is_some() {
            std::fs::write(&snap, &got).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&snap).unwrap_or_default();
        if want != got {
            failures.push(format!("{code}:\n--- want\n{want}--- got\n{got}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
