//! Pod Security Standards conformance: every fixture of Kubernetes' pod-security-admission
//! (policy v1.37, `../shared/peer/pod-security-admission`).
//!
//! A `fail/<check>N.yaml` fixture must produce a finding whose controls hold
//! `pss-<level of the check>:<checkID>` (at restricted, a baseline check a restricted check
//! overrides is expected as the overriding control). A `pass/` fixture must produce no control
//! of its level (restricted includes baseline).

use std::path::{Path, PathBuf};

const CHECKS: &[(&str, &str, &str)] = &[
    // (file stem prefix, level, check ID)
    ("apparmorprofile", "baseline", "appArmorProfile"),
    ("capabilities_baseline", "baseline", "capabilities_baseline"),
    ("hostnamespaces", "baseline", "hostNamespaces"),
    ("hostpathvolumes", "baseline", "hostPathVolumes"),
    ("hostports", "baseline", "hostPorts"),
    (
        "hostprobesandhostlifecycle",
        "baseline",
        "hostProbesAndHostLifecycle",
    ),
    ("privileged", "baseline", "privileged"),
    ("procmount_restricted", "restricted", "procMount_restricted"),
    ("procmount", "baseline", "procMount"),
    (
        "seccompprofile_baseline",
        "baseline",
        "seccompProfile_baseline",
    ),
    (
        "seccompprofile_restricted",
        "restricted",
        "seccompProfile_restricted",
    ),
    ("selinuxoptions", "baseline", "seLinuxOptions"),
    ("sysctls", "baseline", "sysctls"),
    ("windowshostprocess", "baseline", "windowsHostProcess"),
    (
        "allowprivilegeescalation",
        "restricted",
        "allowPrivilegeEscalation",
    ),
    (
        "capabilities_restricted",
        "restricted",
        "capabilities_restricted",
    ),
    ("restrictedvolumes", "restricted", "restrictedVolumes"),
    ("runasnonroot", "restricted", "runAsNonRoot"),
    ("runasuser", "restricted", "runAsUser"),
];

/// At restricted, these baseline checks are enforced by the restricted check that overrides them.
const OVERRIDES: &[(&str, &str)] = &[
    ("capabilities_baseline", "capabilities_restricted"),
    ("hostPathVolumes", "restrictedVolumes"),
    ("seccompProfile_baseline", "seccompProfile_restricted"),
    ("procMount", "procMount_restricted"),
];

fn fixtures_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/peer/pod-security-admission/testdata")
}

fn expected_control(enforce_level: &str, stem: &str) -> String {
    let base = stem.trim_end_matches(|c: char| c.is_ascii_digit());
    let (_, level, check) = CHECKS
        .iter()
        .find(|(prefix, _, _)| *prefix == base)
        .unwrap_or_else(|| panic!("no check for fixture {stem}"));
    if enforce_level == "restricted"
        && let Some((_, over)) = OVERRIDES.iter().find(|(b, _)| b == check)
    {
        return format!("pss-restricted:{over}");
    }
    format!("pss-{level}:{check}")
}

fn controls_of(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    let report = palisade_k8s::scan::scan_text(&path.display().to_string(), &text);
    assert!(
        report.errors.is_empty(),
        "{}: {:?}",
        path.display(),
        report.errors
    );
    assert_eq!(report.resources, 1, "{}", path.display());
    report
        .findings
        .iter()
        .flat_map(|f| f.controls.iter().map(|c| c.to_string()))
        .filter(|c| c.starts_with("pss-"))
        .collect()
}

fn files(dir: PathBuf) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e} (is ../shared beside the repo?)", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    v.sort();
    v
}

#[test]
fn every_fail_fixture_is_rejected_by_its_check() {
    let mut failures = Vec::new();
    let mut n = 0;
    for level in ["baseline", "restricted"] {
        for path in files(fixtures_root().join(level).join("v1.37/fail")) {
            n += 1;
            let stem = path.file_stem().unwrap().to_str().unwrap();
            let want = expected_control(level, stem);
            let got = controls_of(&path);
            if !got.contains(&want) {
                failures.push(format!("{level}/fail/{stem}: want {want}, got {got:?}"));
            }
        }
    }
    assert_eq!(n, 110, "fixture count changed");
    assert!(
        failures.is_empty(),
        "{} of {n} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_pass_fixture_is_allowed_at_its_level() {
    let mut failures = Vec::new();
    let mut n = 0;
    for level in ["baseline", "restricted"] {
        for path in files(fixtures_root().join(level).join("v1.37/pass")) {
            n += 1;
            let stem = path.file_stem().unwrap().to_str().unwrap();
            let bad: Vec<String> = controls_of(&path)
                .into_iter()
                .filter(|c| level == "restricted" || c.starts_with("pss-baseline:"))
                .collect();
            if !bad.is_empty() {
                failures.push(format!("{level}/pass/{stem}: unexpected {bad:?}"));
            }
        }
    }
    assert_eq!(n, 38, "fixture count changed");
    assert!(
        failures.is_empty(),
        "{} of {n} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
