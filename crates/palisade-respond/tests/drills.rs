//! The three drills end to end: events → incident → playbook through the real `kube` client
//! against the in-process API server → the phase each must reach, and the cluster after.

use palisade_respond::drill::{self, Drill};
use palisade_respond::incident::Phase;
use palisade_respond::playbook;

async fn run(d: Drill) -> drill::Report {
    let r = drill::run(d, None, &playbook::builtin()).await.unwrap();
    for l in &r.lines {
        eprintln!("{l}");
    }
    assert!(r.passed(), "{}: {:?}", d.name(), r.problems);
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn breakout_is_contained_and_recovered() {
    let r = run(Drill::Breakout).await;
    let inc = r.incident.unwrap();
    assert_eq!(inc.phase(), Phase::Recovered);
    let t = inc.times();
    assert!(t.contain.is_some() && t.recover.is_some() && t.recover >= t.contain);
    let actions: Vec<&str> = inc
        .response
        .actions
        .iter()
        .map(|a| a.action.as_str())
        .collect();
    assert_eq!(
        actions,
        [
            "collect-evidence",
            "quarantine",
            "scale",
            "cordon",
            "revoke-credentials",
            "rollback",
            "scale",
            "lift-quarantine",
            "verify"
        ]
    );
    assert!(
        inc.blast.services.contains("ml/digits"),
        "the service comes from the inventory: {:?}",
        inc.blast.services
    );
    // What reached the API server: the patches, creations and deletions the playbook implies.
    let has = |m: &str| r.changes.iter().any(|c| c.contains(m));
    assert!(
        has("POST /apis/networking.k8s.io/v1/namespaces/ml/networkpolicies"),
        "{:?}",
        r.changes
    );
    assert!(has("PATCH /apis/apps/v1/namespaces/ml/deployments/digits"));
    assert!(has("PATCH /api/v1/nodes/"));
    assert!(
        has("/eviction"),
        "the drain evicts through the eviction API"
    );
    assert!(has(
        "DELETE /api/v1/namespaces/ml/secrets/digits-server-token"
    ));
    assert!(
        has("PUT /apis/apps/v1/namespaces/ml/deployments/digits"),
        "rollout undo replaces the template"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adversarial_model_is_rolled_back_verified_and_closed() {
    let r = run(Drill::Adversarial).await;
    let inc = r.incident.unwrap();
    assert_eq!(inc.phase(), Phase::Closed);
    let verify = inc
        .response
        .actions
        .iter()
        .find(|a| a.action == "verify")
        .unwrap();
    assert!(
        verify
            .summary
            .contains("palisade_guard_probe_accuracy = 0.97"),
        "{}",
        verify.summary
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flood_is_about_one_tenant_and_touches_nothing() {
    let r = run(Drill::Flood).await;
    assert!(r.changes.is_empty());
    assert_eq!(r.incident.unwrap().phase(), Phase::Contained);
}
