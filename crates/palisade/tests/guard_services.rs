//! The guard with the real services around it: Prometheus scraping /metrics, Redis sharing
//! rate limits between two replicas, TLS with client certificates and HTTP/2 (curl as the
//! client), and control-set probes catching a model swapped behind the guard's back.

mod guard_harness;

use guard_harness::*;
use serde_json::json;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn prometheus_scrapes_the_guard() {
    let server = ModelServer::start("clean", 0);
    let guard = Guard::start(&config(server.addr, "json", "", &digits_model("json", "")));
    let r = guard.post(
        "/predict",
        Some(KEY_A),
        &json!({ "features": &rows("clean.json")[..1] }),
    );
    assert_eq!(r.status, 200);
    guard.post("/predict", None, &json!({}));

    let dir = tempdir("prometheus");
    let port = free_port();
    std::fs::write(
        dir.join("prometheus.yml"),
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: guard\n    static_configs:\n      - targets: ['{}']\n",
            guard.admin
        ),
    )
    .unwrap();
    let _prom = Proc(
        Command::new(tool("prometheus"))
            .arg(format!(
                "--config.file={}",
                dir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let prom: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let query = |q: &str| -> serde_json::Value {
        let path = format!("/api/v1/query?query={q}");
        request(prom, "GET", &path, &[], b"")
            .map(|r| r.json())
            .unwrap_or(json!({}))
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let series = loop {
        let v = query("palisade_guard_requests_total");
        let result = v["data"]["result"].as_array().cloned().unwrap_or_default();
        if !result.is_empty() || Instant::now() > deadline {
            break result;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    assert!(
        !series.is_empty(),
        "Prometheus never stored palisade_guard_requests_total"
    );
    assert!(
        series
            .iter()
            .any(|s| s["metric"]["tenant"] == "a" && s["metric"]["outcome"] == "forwarded"),
        "{series:?}"
    );
    let up = query("up%7Bjob%3D%22guard%22%7D");
    assert_eq!(up["data"]["result"][0]["value"][1], "1", "{up}");
    let rej = query("palisade_guard_rejections_total");
    assert!(
        rej["data"]["result"]
            .as_array()
            .is_some_and(|r| !r.is_empty()),
        "{rej}"
    );
}

#[test]
fn shipped_alert_rules_and_dashboard_are_valid() {
    let rules = repo().join("deploy/guard/prometheus-rules.yml");
    run_ok(
        Command::new(tool("promtool"))
            .args(["check", "rules"])
            .arg(&rules),
    );
    // Every metric the rules and the dashboard use is one the guard exports.
    let metrics = palisade_guard::metrics::Metrics::new(1);
    let exported = metrics.families();
    let dashboard =
        std::fs::read_to_string(repo().join("deploy/guard/grafana-dashboard.json")).unwrap();
    let dash: serde_json::Value = serde_json::from_str(&dashboard).unwrap();
    assert!(!dash["panels"].as_array().unwrap().is_empty());
    let rules_text = std::fs::read_to_string(&rules).unwrap();
    for text in [&rules_text, &dashboard] {
        for name in text
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| w.starts_with("palisade_guard_") && *w != "palisade_guard_")
        {
            let base = ["_total", "_bucket", "_sum", "_count"]
                .iter()
                .fold(name, |n, s| n.strip_suffix(s).unwrap_or(n));
            assert!(
                exported.iter().any(|e| e == base),
                "{name} is not exported ({exported:?})"
            );
        }
    }
}

#[test]
fn redis_shares_rate_limits_between_replicas() {
    let port = free_port();
    let redis = Proc(
        Command::new(tool("redis-server"))
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let redis_addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(redis_addr).is_err() {
        assert!(Instant::now() < deadline, "redis-server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let server = ModelServer::start("clean", 0);
    let text = config(
        server.addr,
        "json",
        "requests_per_second = 0.5\nburst = 4",
        &format!(
            "[redis]\nurl = \"redis://127.0.0.1:{port}\"\ntimeout_ms = 200\n\n{}",
            digits_model("json", "")
        ),
    );
    let one = guard_a_guard_b(&text);
    let (g1, g2) = (&one.0, &one.1);
    let body = json!({ "features": &rows("clean.json")[..1] });
    // Alternating between the replicas, b gets its burst of 4 in all, not 4 per replica.
    let statuses: Vec<u16> = (0..8)
        .map(|i| [g1, g2][i % 2].post("/predict", Some(KEY_B), &body).status)
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        4,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        4,
        "{statuses:?}"
    );
    // Redis goes away: the replicas decide locally and count it; nothing hangs or fails.
    drop(redis);
    let r = g1.post("/predict", Some(KEY_A), &body);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(g1.metric("palisade_guard_redis_fallbacks_total").unwrap() >= 1.0);
}

fn guard_a_guard_b(text: &str) -> (Guard, Guard) {
    (Guard::start(text), Guard::start(text))
}

#[test]
fn tls_with_client_certificates_over_http2_and_http1() {
    let dir = tempdir("guard-tls");
    certificates(&dir);
    let server = ModelServer::start("clean", 0);
    let text = config(server.addr, "json", "", &digits_model("json", "")).replace(
        "reload_seconds = 1\n",
        &format!(
            "reload_seconds = 1\n[server.tls]\ncert = \"{0}/server.pem\"\nkey = \"{0}/server.key\"\nclient_ca = \"{0}/ca.pem\"\n",
            dir.display()
        ),
    );
    // Tenant a is also known by its certificate.
    let text = text.replace("name = \"a\"\n", "name = \"a\"\nmtls_common_name = \"a\"\n");
    let guard = Guard::start(&text);
    let body = json!({ "features": &rows("clean.json")[..1] }).to_string();
    let url = format!("https://{}/predict", guard.addr);
    let curl = |cert, key| curl_https(&dir, &url, &body, cert, key);
    // The certificate alone identifies tenant a, over HTTP/2.
    assert_eq!(curl(Some("client-a.pem"), None), "200 2");
    // A key on top of the certificate picks the key's tenant.
    assert_eq!(curl(Some("client-a.pem"), Some(KEY_B)), "200 2");
    // And over HTTP/1.1 (the guard's own server rather than hyper's).
    let http1 = |cert, key| curl_https_over("--http1.1", &dir, &url, &body, cert, key);
    assert_eq!(http1(Some("client-a.pem"), None), "200 1.1");
    assert_eq!(http1(None, Some(KEY_A)), "000 0");
    // No certificate, or one from another CA: the handshake fails (curl prints 000).
    assert_eq!(curl(None, Some(KEY_A)), "000 0");
    assert_eq!(curl(Some("intruder.pem"), None), "000 0");
}

#[test]
fn probes_catch_a_model_swapped_behind_the_guard() {
    let port = free_port();
    let server = ModelServer::start_on(port, "clean", 0);
    let probe = format!(
        "[models.probe]\ncontrol_set = \"{}\"\ninterval_seconds = 1\nmin_accuracy = 0.9\nmin_agreement = 0.98\n",
        data().join("control.json").display()
    );
    // The swapped server below takes seconds to train and start; the probes that fail
    // meanwhile open the circuit breaker, which must let them through again well within the
    // wait for the alert (the harness's 60 s would outlast it).
    let text = config(server.addr, "json", "", &digits_model("json", &probe));
    assert!(text.contains("breaker_open_ms = 60000"));
    let guard = Guard::start(&text.replace("breaker_open_ms = 60000", "breaker_open_ms = 1000"));
    let deadline = Instant::now() + Duration::from_secs(20);
    while guard
        .metric(r#"palisade_guard_probe_agreement{model="digits"}"#)
        .is_none()
    {
        assert!(Instant::now() < deadline, "no probe ran: {:?}", guard.log());
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        guard.metric(r#"palisade_guard_probe_agreement{model="digits"}"#),
        Some(1.0)
    );
    let acc = guard
        .metric(r#"palisade_guard_probe_accuracy{model="digits"}"#)
        .unwrap();
    assert!(acc > 0.95, "{acc}");
    assert!(!guard.events().iter().any(|e| e["rule"] == "GRD011"));

    // The poisoned model (7s answered as 1s) replaces the approved one on the same port.
    drop(server);
    let _swapped = ModelServer::start_on(port, "swapped", 0);
    let e = guard.wait_event(30, |e| e["rule"] == "GRD011");
    assert_eq!(e["action"], "raised");
    assert_eq!(e["model"], "digits");
    let agreement = e["details"]["agreement"].as_f64().unwrap();
    assert!(agreement < 0.98, "{e}");
    assert!(
        e["techniques"]
            .as_array()
            .unwrap()
            .contains(&json!("AML.T0018"))
    );
}
