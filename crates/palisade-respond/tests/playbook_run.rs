//! A playbook run as a responder lives it: it stops at each approval gate (and says so in the
//! record), resumes where it stopped, is a no-op when run again, and a dry run changes nothing.
//! Against the in-process API server, through the real `kube` client.

use palisade_apisim::ApiServer;
use palisade_apisim::resources::{DEPLOYMENTS, NETWORK_POLICIES, NODES};
use palisade_respond::actions::{self, Action, Replicas, Scope, Status};
use palisade_respond::drill::scenario;
use palisade_respond::engine::{Clock, Engine, Options};
use palisade_respond::ingest::{self, Format};
use palisade_respond::playbook;
use palisade_respond::rules::RuleSet;
use palisade_respond::runner::{self, Gates, Outcome};
use palisade_respond::store::{Kind, Store};
use std::collections::BTreeMap;
use std::sync::Mutex;

fn incident(engine: &Mutex<Engine>, id: &str) -> palisade_respond::incident::Incident {
    engine.lock().unwrap().incident(id).unwrap().unwrap()
}

async fn setup() -> (ApiServer, kube::Client, Mutex<Engine>, String) {
    let api = ApiServer::start("t0ken").await.unwrap();
    scenario::seed(&api.cluster(), Some(scenario::privileged_release())).unwrap();
    let client = actions::connect_yaml(&api.kubeconfig()).await.unwrap();
    let opts = Options {
        clock: Clock::Wall,
        ..Options::default()
    };
    let mut engine = Engine::new(Store::memory().unwrap(), RuleSet::builtin(), opts).unwrap();
    let (pod, node) = scenario::target_pod(&api.cluster()).unwrap();
    let text: String = scenario::breakout_events(&pod, &node)
        .iter()
        .map(|e| e.to_string() + "\n")
        .collect();
    let out = engine
        .ingest(ingest::parse(&text, Format::Auto), "test")
        .unwrap();
    let id = out.opened[0].clone();
    (api, client, Mutex::new(engine), id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gates_stop_the_run_until_approved_and_a_rerun_changes_nothing() {
    let (api, client, engine, id) = setup().await;
    let books = playbook::builtin();
    let book = playbook::choose(&books, &incident(&engine, &id))
        .unwrap()
        .clone();
    assert_eq!(book.name, "contain-container-escape");
    let none = BTreeMap::new();

    // The run stops before scaling to zero: evidence and quarantine are done, nothing else.
    let out = runner::run(&engine, Some(&client), &book, &id, &Gates::Stop, &none)
        .await
        .unwrap();
    assert_eq!(
        out,
        Outcome::WaitingForApproval {
            step: 2,
            what: "scale".into()
        }
    );
    let digits = api.cluster().get(&DEPLOYMENTS, "ml", "digits").unwrap();
    assert_eq!(digits["spec"]["replicas"], 2, "not scaled before approval");
    assert!(
        api.cluster()
            .get(&NETWORK_POLICIES, "ml", "palisade-quarantine-digits")
            .is_some()
    );
    let inc = incident(&engine, &id);
    assert_eq!(inc.response.pending.as_ref().unwrap().step, 2);

    // Running again while waiting does nothing more.
    let n = inc.response.actions.len();
    let out = runner::run(&engine, Some(&client), &book, &id, &Gates::Stop, &none)
        .await
        .unwrap();
    assert!(matches!(out, Outcome::WaitingForApproval { step: 2, .. }));
    assert_eq!(incident(&engine, &id).response.actions.len(), n);

    // Approve each gate in turn, as alice.
    let mut approvals = 0;
    loop {
        runner::approve(&mut engine.lock().unwrap(), &id, "alice").unwrap();
        approvals += 1;
        match runner::run(&engine, Some(&client), &book, &id, &Gates::Stop, &none)
            .await
            .unwrap()
        {
            Outcome::Completed => break,
            Outcome::WaitingForApproval { .. } => continue,
            Outcome::Failed { error, .. } => panic!("{error}"),
        }
    }
    assert_eq!(approvals, 3, "scale, cordon and rollback are gated");
    let inc = incident(&engine, &id);
    assert_eq!(inc.phase().as_str(), "recovered");
    assert!(inc.response.approved.iter().all(|a| a.by == "alice"));
    assert!(
        runner::approve(&mut engine.lock().unwrap(), &id, "bob")
            .unwrap_err()
            .contains("no step waiting")
    );

    // The record holds each approval and each action with its evidence, and verifies.
    let entries = engine.lock().unwrap().store().entries_for(&id).unwrap();
    let count = |k: Kind| entries.iter().filter(|e| e.kind == k.as_str()).count();
    assert_eq!(count(Kind::Action), inc.response.actions.len());
    assert!(count(Kind::Evidence) >= 20, "{}", count(Kind::Evidence));
    assert_eq!(
        entries
            .iter()
            .filter(|e| e.body.contains("\"approval\""))
            .count(),
        3
    );
    let v = engine.lock().unwrap().store().verify(None).unwrap();
    assert!(v.blobs >= 10);

    // Every action again, on the same scope: nothing changes the second time.
    let scope = Scope::of(&inc);
    for a in [
        Action::Quarantine,
        Action::Scale {
            replicas: Replicas::Count(0),
        },
        Action::Cordon {
            drain: false,
            timeout_seconds: 1,
        },
        Action::RevokeCredentials,
        Action::Restart,
        Action::LiftQuarantine,
        Action::Uncordon,
    ] {
        let first = a.run(&client, &scope).await.unwrap();
        let second = a.run(&client, &scope).await.unwrap();
        assert_eq!(
            second.status,
            Status::Unchanged,
            "{} twice: {} / {}",
            a.name(),
            first.summary,
            second.summary
        );
    }
    let node = inc.blast.nodes.iter().next().unwrap().clone();
    assert_eq!(
        api.cluster().get(&NODES, "", &node).unwrap()["spec"]["unschedulable"],
        false
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_prints_kubectl_and_touches_nothing() {
    let (api, _client, engine, id) = setup().await;
    let inc = incident(&engine, &id);
    let books = playbook::builtin();
    let book = playbook::choose(&books, &inc).unwrap();
    let before = api.cluster().requests().len();
    let plan = runner::plan(book, &inc, &BTreeMap::new()).join("\n");
    for want in [
        "# step 3: scale  [approval required]",
        "kubectl scale deployment/digits -n ml --replicas=0",
        "kubectl apply -n ml -f - <<'EOF'",
        "kind: NetworkPolicy",
        "kubectl drain ",
        "kubectl rollout undo deployment/digits -n ml",
        "kubectl rollout status deployment/digits -n ml --timeout=60s",
        "palisade respond phase INC-0001 recovered",
    ] {
        assert!(plan.contains(want), "missing {want:?} in\n{plan}");
    }
    assert_eq!(api.cluster().requests().len(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovery_is_not_declared_without_a_passing_check() {
    let (_api, client, engine, id) = setup().await;
    let text = "- playbook: hasty\n  match: {}\n  steps:\n    - action: rollback\n    - phase: recovered\n      reason: surely fine\n";
    let book = playbook::load(&[("hasty.yaml", text)]).unwrap().remove(0);
    let out = runner::run(
        &engine,
        Some(&client),
        &book,
        &id,
        &Gates::Stop,
        &BTreeMap::new(),
    )
    .await
    .unwrap();
    let Outcome::Failed { step, error } = out else {
        panic!("{out:?}")
    };
    assert_eq!(step, 1);
    assert!(error.contains("recovery has not been verified"), "{error}");
    assert_eq!(incident(&engine, &id).phase().as_str(), "detected");

    // A check that cannot pass fails the step with its reason, after its timeout.
    let text = "- playbook: probe\n  match: {}\n  steps:\n    - action: verify\n      timeout_seconds: 1\n      checks:\n        - http: {url: 'http://127.0.0.1:9/health'}\n";
    let book = playbook::load(&[("probe.yaml", text)]).unwrap().remove(0);
    let e2 = setup().await;
    let out = runner::run(
        &e2.2,
        Some(&e2.1),
        &book,
        &e2.3,
        &Gates::Stop,
        &BTreeMap::new(),
    )
    .await
    .unwrap();
    let Outcome::Failed { error, .. } = out else {
        panic!("{out:?}")
    };
    assert!(
        error.contains("recovery not confirmed within 1s") && error.contains("127.0.0.1:9"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_playbook_with_labels_is_chosen_only_for_deployments_that_carry_them() {
    let (_api, client, engine, id) = setup().await;
    let yaml = r#"
- playbook: training-only
  match:
    techniques: [T1611]
    labels: {app.kubernetes.io/part-of: training}
  steps:
    - action: collect-evidence
- playbook: inference
  match:
    techniques: [T1611]
    labels: {app.kubernetes.io/part-of: inference, app: digits}
  steps:
    - action: collect-evidence
"#;
    let books = playbook::load(&[("site.yaml", yaml)]).unwrap();
    let inc = incident(&engine, &id);
    // The digits deployment is part of inference: the first playbook is passed over.
    let chosen = playbook::for_incident(&books, &inc, None, Some(&client))
        .await
        .unwrap();
    assert_eq!(chosen.name, "inference");
    // Without the cluster neither can be checked, and the error says why each was passed over.
    let e = playbook::for_incident(&books, &inc, None, None)
        .await
        .unwrap_err();
    assert!(
        e.contains(
            "passed over: 'training-only' (its labels app.kubernetes.io/part-of=training need the cluster to check)"
        ),
        "{e}"
    );
    // Named, a playbook whose labels no deployment in scope carries is refused.
    let e = playbook::for_incident(&books, &inc, Some("training-only"), Some(&client))
        .await
        .unwrap_err();
    assert!(
        e.contains(
            "'training-only' is for workloads labelled app.kubernetes.io/part-of=training; none in"
        ),
        "{e}"
    );
}
