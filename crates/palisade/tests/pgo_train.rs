//! The training run of the profile-guided build (`scripts/pgo-train.py`, called by
//! `scripts/pgo-build.sh`) against this build of the binary: it must drive the guard through
//! every kind of answer it means to train on, or the optimised build learns from the wrong
//! paths.

mod common;

use common::repo;
use std::process::Command;

#[test]
fn the_training_run_exercises_accepted_and_each_refused_kind() {
    let out = Command::new("python3")
        .arg(repo().join("scripts/pgo-train.py"))
        .arg(env!("CARGO_BIN_EXE_palisade"))
        .args(["--seconds", "2"])
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let line = stdout
        .lines()
        .find(|l| l.starts_with("pgo-train: "))
        .unwrap_or_else(|| panic!("no summary in {stdout}"));
    for status in ["200: ", "400: ", "401: ", "413: ", "429: "] {
        assert!(line.contains(status), "{status} missing from {line}");
    }
    assert!(!line.contains("502") && !line.contains("503"), "{line}");
}
