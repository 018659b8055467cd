//! `palisade respond` from the command line, as a responder uses it on Falco's audit traces.

mod common;

use common::{outcome, run, shared, tempdir};
use std::path::Path;

fn traces() -> Vec<String> {
    let dir = shared().join("peer/falco/test/trace_files/k8s_audit");
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| p.display().to_string())
        .collect();
    v.sort();
    v
}

#[test]
fn replay_show_phase_report_verify_and_tamper() {
    let dir = tempdir("respond-cli");
    let db = dir.join("ir.db");
    let db = db.to_str().unwrap();

    let mut args = vec!["respond", "replay", "--db", db];
    let files = traces();
    args.extend(files.iter().map(String::as_str));
    let o = run(&args);
    let out = outcome(&o).1;
    assert!(o.status.success(), "{out}");
    assert!(
        out.contains("fal_01_003.json: not a recognised event"),
        "{out}"
    );
    assert!(out.contains("(1 could not be read: see above)"), "{out}");
    assert!(
        out.contains("minikube-user bound minikube to cluster-admin"),
        "{out}"
    );

    let o = run(&["respond", "incidents", "--db", db, "--json"]);
    let list: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let exec = list
        .as_array()
        .unwrap()
        .iter()
        .find(|i| {
            i["findings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["code"] == "RSP001")
        })
        .expect("an exec incident");
    let id = exec["id"].as_str().unwrap();
    assert!(
        exec["blast_radius"]["workloads"]
            .as_array()
            .unwrap()
            .contains(&"default/nginx-deployment[Deployment]".into())
    );

    let o = run(&["respond", "show", id, "--db", db]);
    let out = outcome(&o).1;
    assert!(
        out.contains("Timeline (NIST phases):") && out.contains("T1609"),
        "{out}"
    );

    let o = run(&[
        "respond",
        "phase",
        id,
        "contained",
        "--by",
        "alice",
        "--reason",
        "isolated",
        "--db",
        db,
    ]);
    assert!(o.status.success(), "{}", outcome(&o).1);
    let o = run(&["respond", "phase", id, "triaged", "--by", "bob", "--db", db]);
    assert_eq!(o.status.code(), Some(2));
    assert!(outcome(&o).1.contains("can only move forward"));

    let o = run(&["respond", "report", "--db", db, "--json"]);
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["mttc"]["incidents"], 1);
    assert!(r["incidents"].as_u64().unwrap() >= 5);

    let o = run(&["respond", "verify", "--db", db]);
    assert!(
        o.status.success() && outcome(&o).1.contains("chain intact"),
        "{}",
        outcome(&o).1
    );

    // Someone rewrites history: the contained phase becomes "recovered".
    let store = palisade_respond::store::Store::open(Path::new(db)).unwrap();
    store
        .connection()
        .execute_batch(
            "UPDATE chain SET body = replace(body, 'contained', 'recovered') WHERE kind = 'phase'",
        )
        .unwrap();
    drop(store);
    let o = run(&["respond", "verify", "--db", db]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        outcome(&o).1.contains(&format!(
            "(phase, {id}): its contents do not match its hash"
        )),
        "{}",
        outcome(&o).1
    );

    let o = run(&[
        "respond",
        "report",
        "--db",
        dir.join("typo.db").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(outcome(&o).1.contains("no response database at"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn drills_print_their_times_and_fail_loudly() {
    let o = run(&["respond", "drill", "flood"]);
    let out = outcome(&o).1;
    assert!(o.status.success(), "{out}");
    assert!(
        out.contains("drill flood: PASSED (INC-0001 reached contained)"),
        "{out}"
    );
    assert!(out.contains("response times: MTTD "), "{out}");
    let o = run(&["respond", "drill", "earthquake"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        outcome(&o)
            .1
            .contains("no drill 'earthquake': breakout, adversarial, flood or all")
    );
}

#[test]
fn a_dry_run_prints_the_playbook_as_kubectl() {
    let dir = tempdir("respond-dry-run");
    let db = dir.join("ir.db");
    let db = db.to_str().unwrap();
    let alert = serde_json::json!({"rule": "Detect release_agent File Container Escapes", "priority": "Critical",
        "source": "syscall", "time": "2026-11-22T10:00:00Z", "hostname": "gpu-node-7", "tags": ["T1611"],
        "output": "escape", "output_fields": {"k8s.ns.name": "ml", "k8s.pod.name": "digits-6d4cf56db6-x8k2p"}});
    let events = dir.join("alert.json");
    std::fs::write(&events, alert.to_string()).unwrap();
    assert!(
        run(&["respond", "replay", "--db", db, events.to_str().unwrap()])
            .status
            .success()
    );
    let o = run(&["respond", "run", "INC-0001", "--db", db, "--dry-run"]);
    let out = outcome(&o).1;
    assert!(o.status.success(), "{out}");
    for want in [
        "# playbook contain-container-escape for INC-0001",
        "kubectl scale deployment/digits -n ml --replicas=0",
        "kubectl cordon gpu-node-7",
        "kubectl drain gpu-node-7 --ignore-daemonsets",
    ] {
        assert!(out.contains(want), "missing {want:?}:\n{out}");
    }
    let o = run(&["respond", "playbooks"]);
    assert!(outcome(&o).1.contains("4 playbooks"));
    let bad = dir.join("bad.yaml");
    std::fs::write(
        &bad,
        "- playbook: x\n  match: {}\n  steps: [{action: nuke}]\n",
    )
    .unwrap();
    let o = run(&["respond", "playbooks", "--playbooks", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(outcome(&o).1.contains("bad.yaml:3"), "{}", outcome(&o).1);
}

#[test]
fn falco_rules_are_printed_and_checked() {
    let dir = tempdir("respond-falco-rules");
    let o = run(&["respond", "falco-rules"]);
    assert!(o.status.success());
    let ours = dir.join("palisade_ml_rules.yaml");
    std::fs::write(&ours, &o.stdout).unwrap();
    let o = run(&["respond", "falco-rules", "--check", ours.to_str().unwrap()]);
    assert!(o.status.success(), "{}", outcome(&o).1);
    let broken = dir.join("broken.yaml");
    std::fs::write(
        &broken,
        "- rule: x\n  desc: d\n  condition: proc.name = sh and\n  output: o\n  priority: WARNING\n",
    )
    .unwrap();
    let o = run(&[
        "respond",
        "falco-rules",
        "--check",
        broken.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        outcome(&o)
            .1
            .contains("broken.yaml:1: rule 'x': expected a condition"),
        "{}",
        outcome(&o).1
    );
}
