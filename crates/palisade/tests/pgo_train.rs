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
        .find_map(|l| l.strip_prefix("pgo-train: "))
        .unwrap_or_else(|| panic!("no summary in {stdout}"));
    // "N requests through the guard (200: A, 400: B, …)": the statuses that occurred.
    let counts = line
        .split_once('(')
        .and_then(|(_, rest)| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("no counts in {line}"));
    let statuses: Vec<u16> = counts
        .split(", ")
        .map(|c| c.split_once(": ").and_then(|(s, _)| s.parse().ok()))
        .collect::<Option<_>>()
        .unwrap_or_else(|| panic!("unreadable counts in {line}"));
    for status in [200, 400, 401, 413, 429] {
        assert!(statuses.contains(&status), "{status} missing from {line}");
    }
    assert!(statuses.iter().all(|&s| s < 500), "{line}");
}
