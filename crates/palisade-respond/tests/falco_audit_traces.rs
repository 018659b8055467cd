//! Falco's Kubernetes audit traces, replayed through the shipped rules.
//!
//! `../shared/peer/falco/test/falco_k8s_audit_tests.yaml` (falcosecurity/falco 0.35.1,
//! Apache-2.0) says which Falco rule each trace raises. For every case run with Falco's default
//! rules only (no site-specific allow or trust files), the Palisade rules that cover the same
//! concern must fire exactly where Falco's do, as many times, and nowhere else.

use palisade_k8s::yaml;
use palisade_respond::detect::Detector;
use palisade_respond::ingest::{self, Format};
use palisade_respond::rules::RuleSet;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

const FALCO: &str = "../../../shared/peer/falco/test";

/// Falco's rule → the Palisade rule for the same concern.
const COUNTERPARTS: [(&str, &str); 10] = [
    ("Create Privileged Pod", "privileged-pod-created"),
    (
        "Create Sensitive Mount Pod",
        "sensitive-host-mount-pod-created",
    ),
    ("Create HostNetwork Pod", "host-network-pod-created"),
    ("Attach/Exec Pod", "pod-exec-or-attach"),
    ("Anonymous Request Allowed", "anonymous-request-allowed"),
    ("ClusterRole With Wildcard Created", "rbac-wildcard-role"),
    ("ClusterRole With Pod Exec Created", "rbac-escalation-grant"),
    ("Attach to cluster-admin Role", "binding-to-cluster-admin"),
    (
        "Pod Created in Kube Namespace",
        "pod-created-in-kube-namespace",
    ),
    ("Service Account Created in Kube Namespace", "-"),
];

fn detections(trace: &Path, rules: RuleSet) -> (BTreeMap<String, u64>, usize) {
    let text = std::fs::read_to_string(trace).unwrap();
    let parsed = ingest::parse(&text, Format::K8sAudit);
    let mut d = Detector::new(rules);
    let mut fired = BTreeMap::new();
    for s in &parsed.signals {
        for det in d.detect(s) {
            *fired.entry(det.rule).or_insert(0) += det.occurrences;
        }
    }
    (fired, parsed.errors.len())
}

#[test]
fn shipped_audit_rules_fire_where_falco_does_and_only_there() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(FALCO);
    let text = std::fs::read_to_string(dir.join("falco_k8s_audit_tests.yaml"))
        .expect("../shared/peer/falco is present");
    let parsed = yaml::parse(&text, 0);
    assert!(parsed.error.is_none(), "{:?}", parsed.error);
    let cases = parsed.documents[0]
        .root
        .get("trace_files")
        .expect("trace_files");
    let ours: BTreeSet<&str> = COUNTERPARTS
        .iter()
        .map(|(_, o)| *o)
        .filter(|o| *o != "-")
        .collect();
    // trace → expected Palisade rule → count, from the cases that use Falco's defaults only.
    let mut expected: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for (_, case) in cases.entries() {
        let default_only = case
            .get("rules_file")
            .map(|f| f.items())
            .unwrap_or(&[])
            .iter()
            .all(|f| {
                let f = f.as_str().unwrap_or("");
                f.ends_with("/falco_rules.yaml")
                    || f.ends_with("/engine_v4_k8s_audit_rules.yaml")
                    || f.ends_with("/k8s_audit_rules.yaml")
            });
        if !default_only {
            continue;
        }
        let opts = case
            .get("addl_cmdline_opts")
            .and_then(|o| o.as_str())
            .unwrap();
        let trace = opts.rsplit('/').next().unwrap().to_string();
        let entry = expected.entry(trace).or_default();
        for counts in case.get("detect_counts").map(|c| c.items()).unwrap_or(&[]) {
            for (rule, n) in counts.entries() {
                let falco_rule = rule.as_str().unwrap();
                if let Some((_, o)) = COUNTERPARTS.iter().find(|(f, _)| *f == falco_rule)
                    && *o != "-"
                {
                    entry.insert(o.to_string(), n.as_i64().unwrap() as u64);
                }
            }
        }
    }
    assert!(
        expected.len() >= 30,
        "only {} traces with default rules",
        expected.len()
    );
    let mut checked = 0;
    for (trace, want) in &expected {
        let (fired, errors) = detections(
            &dir.join("trace_files/k8s_audit").join(trace),
            RuleSet::builtin(),
        );
        if trace == "fal_01_003.json" {
            // `{"kind": 0}`: not an audit event. Falco must not crash on it; it is an input error here.
            assert_eq!((fired.len(), errors), (0, 1), "{trace}");
            continue;
        }
        assert_eq!(errors, 0, "{trace}");
        let got: BTreeMap<String, u64> = fired
            .into_iter()
            .filter(|(r, _)| ours.contains(r.as_str()))
            .collect();
        assert_eq!(
            &got, want,
            "{trace}: Palisade fired {got:?}, Falco's counterparts {want:?}"
        );
        checked += 1;
    }
    assert!(checked >= 30);
}

#[test]
fn every_trace_reads_and_each_event_carries_its_audit_id() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(FALCO)
        .join("trace_files/k8s_audit");
    let mut signals = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let parsed = ingest::parse(&text, Format::Auto);
        signals += parsed.signals.len();
        for s in &parsed.signals {
            assert!(
                !s.rule.is_empty() && s.id.is_some(),
                "{}: {:?}",
                path.display(),
                s.rule
            );
        }
    }
    assert!(signals >= 50, "{signals}");
}
