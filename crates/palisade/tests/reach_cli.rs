//! End-to-end tests of `palisade reach` and of the assertions `palisade scan` runs.

mod common;
use common::*;

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn who_reaches_the_model_server_and_why() {
    let out = run(&[
        "reach",
        "examples/sklearn-api/vulnerable",
        "--to",
        "app=iris-api",
        "--explain",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // Sources are padded to one width; compare with single spaces.
    let text = stdout(&out)
        .split(' ')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    for want in [
        "analytics/report-export[CronJob] => default/iris-api[Deployment] : All Connections",
        "default/frontend[Deployment] => default/iris-api[Deployment] : All Connections",
        "0.0.0.0-255.255.255.255[External] => default/iris-api[Deployment] : All Connections",
        "no NetworkPolicy selects default/iris-api[Deployment] for ingress (open)",
        "ipBlocks are assumed not to match pod IPs",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }

    let out = run(&[
        "reach",
        "examples/sklearn-api/hardened",
        "--to",
        "app=iris-api",
        "--explain",
    ]);
    let text = stdout(&out);
    assert!(
        text.starts_with(
            "ml-serving/frontend[Deployment] => ml-serving/iris-api[Deployment] : TCP 8080\n"
        ),
        "{text}"
    );
    assert!(text.contains("ingress allowed by NetworkPolicy ml-serving/palisade-allow-2-ingress-iris-api spec.ingress[0]"), "{text}");
    assert!(
        text.contains("1 allowed connection between 2 workloads"),
        "{text}"
    );
}

#[test]
fn connlist_and_json_formats() {
    let case = shared().join("peer/netpol-analyzer/tests/onlineboutique");
    let out = run(&["reach", case.to_str().unwrap(), "--format", "connlist"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let want = std::fs::read_to_string(
        shared()
            .join("peer/netpol-analyzer/test_outputs/connlist/onlineboutique_connlist_output.txt"),
    )
    .unwrap();
    let mut want: Vec<&str> = want.lines().collect();
    want.sort();
    assert_eq!(stdout(&out).lines().collect::<Vec<_>>(), want);

    let out = run(&[
        "reach",
        case.to_str().unwrap(),
        "--format",
        "json",
        "--from",
        "app=loadgenerator",
    ]);
    let v = json(&out);
    let conns = v["connections"].as_array().unwrap();
    assert_eq!(conns.len(), 1, "{v}");
    assert_eq!(conns[0]["dst"]["name"], "frontend-99684f7f8");
    assert_eq!(conns[0]["connections"], "TCP 8080");
}

#[test]
fn malformed_policies_are_errors_with_file_and_line() {
    let dir = tempdir("reach-bad");
    std::fs::write(
        dir.join("np.yaml"),
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: bad, namespace: ml}\nspec:\n  podSelector: {}\n  ingress:\n  - from:\n    - {}\n",
    )
    .unwrap();
    let out = run(&["reach", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("np.yaml:8:7: NetworkPolicy ml/bad: empty peer in ingress.from"),
        "{err}"
    );
    // scan reports it as an input error as well.
    let out = run(&["scan", dir.to_str().unwrap(), "-f", "json"]);
    assert_eq!(out.status.code(), Some(2));
    let v = json(&out);
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("empty peer"),
        "{v}"
    );
    assert_eq!(v["errors"][0]["line"], 8);
}

#[test]
fn generate_writes_policies_that_reach_proves() {
    let dir = tempdir("reach-gen");
    let file = dir.join("policies.yaml");
    let out = run(&[
        "reach",
        "examples/sklearn-api/vulnerable",
        "--generate",
        "--allow",
        "app=frontend -> app=iris-api : TCP 8080",
        "-o",
        file.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("the intent holds"),
        "{}",
        stderr(&out)
    );
    // Re-running reach with the generated policies: only the frontend gets in.
    let out = run(&[
        "reach",
        "examples/sklearn-api/vulnerable",
        file.to_str().unwrap(),
        "--to",
        "app=iris-api",
        "--format",
        "connlist",
    ]);
    assert_eq!(
        stdout(&out),
        "default/frontend[Deployment] => default/iris-api[Deployment] : TCP 8080\n"
    );
    let out = run(&[
        "reach",
        "examples/sklearn-api/vulnerable",
        "--generate",
        "--allow",
        "app=nope -> app=iris-api",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no workload matches"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn scan_runs_the_assertions_in_palisade_toml() {
    let cfg = "examples/sklearn-api/palisade.toml";
    let out = run(&["scan", "--config", cfg, "examples/sklearn-api/hardened"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let out = run(&[
        "scan",
        "--config",
        cfg,
        "examples/sklearn-api/vulnerable",
        "-f",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    let msgs: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "K8S131")
        .map(|f| f["message"].as_str().unwrap())
        .collect();
    assert_eq!(msgs.len(), 4, "{msgs:#?}");
    assert!(msgs.iter().any(|m| {
        m.contains("analytics/report-export[CronJob] reaches default/iris-api[Deployment]")
            && m.contains("not among `only_from`")
    }));
    let bad = tempdir("reach-cfg").join("palisade.toml");
    std::fs::write(&bad, "[[reach.assert]]\nto = \"app in (a\"\n").unwrap();
    let out = run(&[
        "scan",
        "--config",
        bad.to_str().unwrap(),
        "examples/sklearn-api/hardened",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("[[reach.assert]] #1: to"),
        "{}",
        stderr(&out)
    );
}
