//! The committed corpus (`tests/corpus`, made and verified by `scripts/model-corpus.py` with the
//! real libraries): every benign model scans with nothing above `info`, every malicious sample
//! is caught by the rule its manifest names.

use palisade_core::Severity;
use palisade_core::walk::Input;
use palisade_model::scan::{Options, scan};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

fn samples() -> Vec<Value> {
    let text = std::fs::read_to_string(corpus().join("manifest.json")).expect("manifest");
    let doc: Value = serde_json::from_str(&text).expect("manifest JSON");
    doc["samples"].as_array().expect("samples").clone()
}

fn scan_one(rel: &str) -> palisade_model::scan::ModelScan {
    let input = Input::File {
        path: corpus().join(rel),
        display: rel.to_string(),
        explicit: true,
    };
    scan(&[input], &Options::default())
}

fn describe(r: &palisade_model::scan::ModelScan) -> String {
    r.report
        .findings
        .iter()
        .map(|f| {
            format!(
                "  {} {} {} @{:?} {}\n",
                f.severity, f.rule, f.path, f.offset, f.message
            )
        })
        .collect()
}

#[test]
fn benign_models_have_nothing_above_info() {
    let mut bad = Vec::new();
    let mut n = 0;
    for s in samples().iter().filter(|s| s["kind"] == "benign") {
        n += 1;
        let rel = s["file"].as_str().unwrap();
        let r = scan_one(rel);
        assert_eq!(
            r.artifacts.len(),
            1,
            "{rel} not recognised: {:?}",
            r.report.skipped
        );
        if r.report
            .findings
            .iter()
            .any(|f| f.severity > Severity::Info)
            || !r.report.errors.is_empty()
        {
            bad.push(format!("{rel}:\n{}", describe(&r)));
        }
    }
    assert!(n >= 20, "only {n} benign samples");
    assert!(bad.is_empty(), "false positives:\n{}", bad.join(""));
}

#[test]
fn every_malicious_sample_is_caught_by_its_rule() {
    let mut missed = Vec::new();
    let mut n = 0;
    for s in samples().iter().filter(|s| s["kind"] == "malicious") {
        n += 1;
        let rel = s["file"].as_str().unwrap();
        let expect = s["expect"].as_str().unwrap();
        let r = scan_one(rel);
        let caught = r
            .report
            .findings
            .iter()
            .any(|f| f.rule == expect && f.severity >= Severity::High);
        if !caught {
            missed.push(format!(
                "{rel} ({}), expected {expect}:\n{}",
                s["technique"].as_str().unwrap_or(""),
                describe(&r)
            ));
        }
    }
    assert!(n >= 40, "only {n} malicious samples");
    assert!(missed.is_empty(), "missed:\n{}", missed.join(""));
}
