//! `palisade respond` from the command line, as a responder uses it on Falco's audit traces.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn palisade(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(args)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn traces() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/peer/falco/test/trace_files/k8s_audit");
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
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("respond-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("ir.db");
    let db = db.to_str().unwrap();

    let mut args = vec!["respond", "replay", "--db", db];
    let files = traces();
    args.extend(files.iter().map(String::as_str));
    let o = palisade(&args);
    let out = text(&o);
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

    let o = palisade(&["respond", "incidents", "--db", db, "--json"]);
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

    let o = palisade(&["respond", "show", id, "--db", db]);
    let out = text(&o);
    assert!(
        out.contains("Timeline (NIST phases):") && out.contains("T1609"),
        "{out}"
    );

    let o = palisade(&[
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
    assert!(o.status.success(), "{}", text(&o));
    let o = palisade(&["respond", "phase", id, "triaged", "--by", "bob", "--db", db]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("can only move forward"));

    let o = palisade(&["respond", "report", "--db", db, "--json"]);
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["mttc"]["incidents"], 1);
    assert!(r["incidents"].as_u64().unwrap() >= 5);

    let o = palisade(&["respond", "verify", "--db", db]);
    assert!(
        o.status.success() && text(&o).contains("chain intact"),
        "{}",
        text(&o)
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
    let o = palisade(&["respond", "verify", "--db", db]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains(&format!(
            "(phase, {id}): its contents do not match its hash"
        )),
        "{}",
        text(&o)
    );

    let o = palisade(&[
        "respond",
        "report",
        "--db",
        dir.join("typo.db").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("no response database at"));
    let _ = std::fs::remove_dir_all(&dir);
}
