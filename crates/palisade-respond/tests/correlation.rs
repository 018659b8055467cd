//! The seeds' incidents, as events, through the whole pipeline into the record.

use palisade_core::Severity;
use palisade_respond::engine::{Clock, Engine, Options};
use palisade_respond::incident::{Incident, Phase};
use palisade_respond::ingest::{self, Format};
use palisade_respond::rules::RuleSet;
use palisade_respond::signal::Workload;
use palisade_respond::store::Store;
use serde_json::{Value, json};

fn engine() -> Engine {
    let mut opts = Options {
        clock: Clock::Event,
        ..Options::default()
    };
    opts.models.insert(
        "digits".into(),
        Workload {
            namespace: "ml".into(),
            kind: "Deployment".into(),
            name: "digits".into(),
        },
    );
    Engine::new(Store::memory().unwrap(), RuleSet::builtin(), opts).unwrap()
}

fn lines(events: &[Value]) -> String {
    events.iter().map(|e| e.to_string() + "\n").collect()
}

fn falco(rule: &str, priority: &str, secs: u32, tags: &[&str], uuid: &str) -> Value {
    json!({
        "uuid": uuid, "rule": rule, "priority": priority, "source": "syscall",
        "time": format!("2026-11-22T10:00:{secs:02}.000000000Z"), "hostname": "gpu-node-7",
        "tags": tags, "output": format!("{rule} (k8s.pod=digits-6d4cf56db6-x8k2p)"),
        "output_fields": {"k8s.ns.name": "ml", "k8s.pod.name": "digits-6d4cf56db6-x8k2p",
                          "container.name": "server", "proc.name": "cat", "fd.name": "/models/digits/model.joblib"}
    })
}

fn guard(
    rule: &str,
    name: &str,
    severity: &str,
    tenant: Option<&str>,
    secs: u32,
    suppressed: u64,
) -> Value {
    let time = format!("2026-11-22T11:{:02}:{:02}Z", secs / 60, secs % 60);
    palisade_respond::drill::scenario::guard_event(rule, name, severity, tenant, &time, suppressed)
}

fn only(engine: &Engine) -> Vec<Incident> {
    engine
        .store()
        .incidents(false)
        .unwrap()
        .iter()
        .map(|v| Incident::from_json(v).unwrap())
        .collect()
}

#[test]
fn a_container_breakout_becomes_one_incident_with_its_techniques_and_blast_radius() {
    let mut e = engine();
    let alerts = [
        falco(
            "Detect release_agent File Container Escapes",
            "Critical",
            1,
            &["T1611", "container", "mitre_privilege_escalation"],
            "u1",
        ),
        falco(
            "Palisade Model Weights Read By Unexpected Process",
            "Warning",
            5,
            &["ml"],
            "u2",
        ),
        falco(
            "Palisade Outbound Connection From Inference Pod",
            "Notice",
            9,
            &["ml", "network"],
            "u3",
        ),
        // Falco repeats itself; Falcosidekick re-sends on retry.
        falco(
            "Palisade Outbound Connection From Inference Pod",
            "Notice",
            9,
            &["ml", "network"],
            "u3",
        ),
        falco(
            "Palisade Outbound Connection From Inference Pod",
            "Notice",
            12,
            &["ml", "network"],
            "u4",
        ),
    ];
    let out = e
        .ingest(ingest::parse(&lines(&alerts), Format::Auto), "test")
        .unwrap();
    assert_eq!((out.accepted, out.opened.len(), out.duplicates), (5, 1, 1));
    let incs = only(&e);
    assert_eq!(incs.len(), 1);
    let inc = &incs[0];
    assert_eq!(inc.severity, Severity::Critical);
    let codes: Vec<&str> = inc.findings.iter().map(|f| f.code.as_str()).collect();
    assert_eq!(codes, ["RSP034", "RSP030", "RSP032"]);
    assert_eq!(
        inc.findings[2].count, 2,
        "the re-sent alert is counted once"
    );
    for t in ["T1611", "AML.T0105", "AML.T0035", "AML.T0025"] {
        assert!(
            inc.techniques.contains(t),
            "{t} missing from {:?}",
            inc.techniques
        );
    }
    assert!(inc.blast.workloads.contains("ml/digits[Deployment]"));
    assert!(inc.blast.nodes.contains("gpu-node-7"));
    assert_eq!(
        inc.entered(Phase::Detected).unwrap().to_string(),
        "2026-11-22T10:00:01Z"
    );
    assert_eq!(e.store().verify(None).unwrap().entries, 5 + 1 + 4);
}

#[test]
fn adversarial_traffic_and_a_probe_failure_join_through_the_model() {
    let mut e = engine();
    // Nine out-of-distribution inputs are below the burst threshold of ten…
    let mut evs: Vec<Value> = (0..9)
        .map(|i| {
            guard(
                "GRD007",
                "input-out-of-distribution",
                "high",
                Some("team-a"),
                i,
                0,
            )
        })
        .collect();
    let out = e
        .ingest(ingest::parse(&lines(&evs), Format::Auto), "t")
        .unwrap();
    assert_eq!((out.accepted, out.detections), (9, 0));
    // …the tenth crosses it; then the probe sees the swapped model.
    evs = vec![
        guard(
            "GRD007",
            "input-out-of-distribution",
            "high",
            Some("team-a"),
            20,
            0,
        ),
        guard("GRD011", "probe-output-changed", "critical", None, 90, 0),
    ];
    let out = e
        .ingest(ingest::parse(&lines(&evs), Format::Auto), "t")
        .unwrap();
    assert_eq!(out.opened.len(), 1);
    let inc = &only(&e)[0];
    let codes: Vec<&str> = inc.findings.iter().map(|f| f.code.as_str()).collect();
    assert_eq!(codes, ["RSP050", "RSP051"]);
    assert_eq!(inc.findings[0].count, 10);
    assert!(
        inc.blast.workloads.contains("ml/digits[Deployment]"),
        "the model's workload comes from the options"
    );
    assert_eq!(inc.severity, Severity::Critical);
}

#[test]
fn one_tenants_flood_is_an_incident_about_that_tenant_only() {
    let mut e = engine();
    // team-b floods (the guard folds repeats: 1 + suppressed each); team-a sends a few bad inputs.
    let mut evs: Vec<Value> = (0..6)
        .map(|i| {
            guard(
                "GRD002",
                "tenant-rate-limited",
                "medium",
                Some("team-b"),
                i,
                9,
            )
        })
        .collect();
    evs.push(guard(
        "GRD005",
        "input-schema-mismatch",
        "low",
        Some("team-a"),
        3,
        0,
    ));
    let out = e
        .ingest(ingest::parse(&lines(&evs), Format::Auto), "t")
        .unwrap();
    assert_eq!(out.opened.len(), 1, "{out:?}");
    let inc = &only(&e)[0];
    assert_eq!(inc.keys.iter().collect::<Vec<_>>(), ["tenant:team-b"]);
    assert_eq!(inc.blast.tenants.iter().collect::<Vec<_>>(), ["team-b"]);
    assert_eq!(
        inc.findings[0].count, 50,
        "fires on the 50th; the next 10 start a new window"
    );
    assert!(inc.techniques.contains("AML.T0029"));
}

#[test]
fn phases_move_forward_with_who_and_why_and_times_follow() {
    let mut e = engine();
    let alert = falco(
        "Palisade Shell Or Package Manager In Inference Container",
        "Warning",
        0,
        &["T1059"],
        "x",
    );
    e.ingest(ingest::parse(&alert.to_string(), Format::Auto), "t")
        .unwrap();
    let id = only(&e)[0].id.clone();
    let at = |s: &str| Some(palisade_core::time::Timestamp::parse(s).unwrap());
    e.advance(
        &id,
        Phase::Triaged,
        "alice",
        "real",
        at("2026-11-22T10:02:00Z"),
    )
    .unwrap();
    e.advance(
        &id,
        Phase::Contained,
        "playbook:quarantine",
        "network policy",
        at("2026-11-22T10:05:00Z"),
    )
    .unwrap();
    let err = e.advance(&id, Phase::Triaged, "bob", "", None).unwrap_err();
    assert!(err.contains("only move forward"), "{err}");
    e.advance(
        &id,
        Phase::Recovered,
        "alice",
        "rolled back",
        at("2026-11-22T10:30:00Z"),
    )
    .unwrap();
    assert!(
        e.advance(&id, Phase::Closed, "alice", " ", None)
            .unwrap_err()
            .contains("lessons learned")
    );
    let inc = e
        .advance(
            &id,
            Phase::Closed,
            "alice",
            "pin images; block shells",
            at("2026-11-22T11:00:00Z"),
        )
        .unwrap();
    let t = inc.times();
    assert_eq!(
        (t.detect, t.acknowledge, t.contain, t.recover),
        (Some(0.0), Some(120.0), Some(300.0), Some(1800.0))
    );
    assert!(!inc.is_open());
    let stored = Incident::from_json(&e.store().incident(&id).unwrap().unwrap()).unwrap();
    assert_eq!(stored, inc, "the store holds what the engine returned");
}

#[test]
fn info_evidence_never_opens_an_incident_and_bad_events_are_recorded_as_errors() {
    let mut e = engine();
    let body = format!(
        "{}\n{{\"rule\": \"x\"}}\nnot json\n",
        guard(
            "GRD004",
            "request-limit-exceeded",
            "medium",
            Some("team-c"),
            0,
            0
        )
    );
    let out = e
        .ingest(ingest::parse(&body, Format::Auto), "POST /ingest")
        .unwrap();
    assert_eq!(out.accepted, 1);
    assert_eq!(out.opened.len(), 0, "guard-event is info: evidence only");
    let msgs: Vec<String> = out.errors.iter().map(|x| x.to_string()).collect();
    assert!(
        msgs[0].starts_with("line 2: not a recognised event"),
        "{msgs:?}"
    );
    assert!(
        msgs[1].starts_with("line 3, column 2: not JSON"),
        "{msgs:?}"
    );
    assert_eq!(e.store().counter("ingest_errors").unwrap(), 2);
}

#[test]
fn batches_committed_together_give_each_sender_its_own_outcome() {
    let mut e = engine();
    let alert = |secs, uuid| {
        falco(
            "Palisade Outbound Connection From Inference Pod",
            "Notice",
            secs,
            &["ml", "network"],
            uuid,
        )
    };
    let bodies = [
        lines(&[alert(1, "u1")]),
        lines(&[
            alert(2, "u2"),
            json!({"rule": "x", "priority": "Loud", "output": ""}),
        ]),
        // A re-sent alert, in another request of the same group.
        lines(&[alert(1, "u1")]),
    ];
    let batches = bodies
        .iter()
        .enumerate()
        .map(|(i, b)| (ingest::parse(b, Format::Auto), format!("request {i}")))
        .collect();
    let outs = e.ingest_many(batches).unwrap();
    let summary: Vec<_> = outs
        .iter()
        .map(|o| (o.accepted, o.errors.len(), o.opened.len(), o.duplicates))
        .collect();
    assert_eq!(summary, [(1, 0, 1, 0), (1, 1, 0, 0), (1, 0, 0, 1)]);
    let incs = only(&e);
    assert_eq!(incs.len(), 1);
    assert_eq!(incs[0].findings[0].count, 2);
    assert_eq!(e.store().counter("signals").unwrap(), 3);
    assert_eq!(e.store().counter("ingest_errors").unwrap(), 1);
    assert!(e.store().verify(None).is_ok());
}
