//! `palisade guard` end to end: the real Flask/scikit-learn model server from examples/guard,
//! the guard binary in front of it, requests over real sockets.

mod guard_harness;

use guard_harness::*;
use serde_json::json;

fn row_body(rows: &[Vec<f64>]) -> serde_json::Value {
    json!({ "features": rows })
}

/// A request body for some rows, in one protocol's shape.
type RowsBody = fn(&[Vec<f64>]) -> serde_json::Value;

/// A row as a TF Serving `:classify` example: the features by name (the profile's px0..px63).
fn example(row: &[f64]) -> serde_json::Value {
    serde_json::Value::Object(
        row.iter()
            .enumerate()
            .map(|(i, v)| (format!("px{i}"), json!(v)))
            .collect(),
    )
}

#[test]
fn json_protocol_authenticates_screens_and_forwards() {
    let server = ModelServer::start("clean", 0);
    let guard = Guard::start(&config(
        server.addr,
        "json",
        "",
        &format!(
            "[limits]\nmax_batch = 8\nmax_json_depth = 6\nmax_body_bytes = 65536\nrequests_per_second = 10000\nburst = 1000\n\n{}",
            digits_model(
                "json",
                "[models.screening]\nout_of_range = \"log\"\nflag_above = \"p99\"\nreject_above = \"100\"\n"
            )
        ),
    ));
    let clean = rows("clean.json");
    let adversarial = rows("adversarial.json");

    // Tenants.
    let r = guard.post("/predict", None, &row_body(&clean[..1]));
    assert_eq!(r.status, 401, "{}", r.text());
    assert_eq!(r.json()["rule"], "GRD001");
    assert_eq!(
        guard
            .post("/predict", Some("not-a-key"), &row_body(&clean[..1]))
            .status,
        401
    );

    // A clean digit goes through, with the model's answer and no flag.
    let r = guard.post("/predict", Some(KEY_A), &row_body(&clean[..1]));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["predictions"].as_array().unwrap().len(), 1);
    assert_eq!(r.header("x-palisade-flag"), None);
    // The model server learns the tenant from the guard; a client cannot claim another one,
    // and its key is not passed on.
    let auth = format!("Bearer {KEY_A}");
    let body = row_body(&clean[..1]).to_string();
    // Field names in any case.
    let headers = [
        ("AUTHORIZATION", auth.as_str()),
        ("X-Palisade-Tenant", "b"),
        ("x-PALISADE-tenant", "c"),
        ("Proxy-Authorization", "Basic eDp5"),
        ("X-Api-Key", "also-a-key"),
        ("Content-Type", "application/json"),
    ];
    let r = request(guard.addr, "POST", "/predict", &headers, body.as_bytes()).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-seen-tenant"), Some("a"));
    assert_eq!(r.header("x-seen-credentials"), Some(""));
    // Fields a client's `Connection` keeps to its hop stop at the guard (RFC 9110 §7.6.1);
    // naming the guard's own tenant field does not take it away.
    let headers = [
        ("Authorization", auth.as_str()),
        ("Connection", "keep-alive, X-Trace, x-palisade-tenant"),
        ("X-Trace", "t-1"),
        ("Content-Type", "application/json"),
    ];
    let r = request(guard.addr, "POST", "/predict", &headers, body.as_bytes()).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-seen-tenant"), Some("a"));
    assert_eq!(r.header("x-seen-trace"), Some(""));
    let headers = [("Authorization", auth.as_str()), ("X-Trace", "t-2")];
    let r = request(guard.addr, "POST", "/predict", &headers, body.as_bytes()).unwrap();
    assert_eq!(r.header("x-seen-trace"), Some("t-2"));

    // Adversarial digits are flagged, clean ones rarely.
    let flagged = |rows: &[Vec<f64>]| {
        rows.iter()
            .filter(|row| {
                let r = guard.post(
                    "/predict",
                    Some(KEY_A),
                    &row_body(std::slice::from_ref(*row)),
                );
                assert_eq!(r.status, 200, "{}", r.text());
                r.header("x-palisade-flag") == Some("out_of_distribution")
            })
            .count()
    };
    let adv = flagged(&adversarial[..60]);
    let fp = flagged(&clean[..60]);
    assert!(adv >= 54, "{adv} of 60 FGSM digits flagged");
    assert!(fp <= 3, "{fp} of 60 clean digits flagged");

    // A far-off input is refused outright (reject_above = 100).
    let far_off = row_body(&[vec![16.0; 64]]);
    let r = guard.post("/predict", Some(KEY_A), &far_off);
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(r.json()["rule"], "GRD007");

    // A key given twice: Flask (Python's json) reads the last one, so a guard that screened
    // the first would pass the far-off row above to the model. Asked directly, the model
    // server answers for the second row (a clean digit it classes otherwise comes first);
    // the guard refuses the body.
    let predict = |body: &[u8]| {
        let r = post(server.addr, "/predict", None, body);
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()["predictions"].clone()
    };
    let far = predict(far_off.to_string().as_bytes());
    let other = clean
        .iter()
        .find(|row| predict(row_body(std::slice::from_ref(*row)).to_string().as_bytes()) != far)
        .expect("a clean digit the model classes apart from the far-off row");
    let twice = format!(
        "{{\"features\": {}, \"features\": {}}}",
        json!([other]),
        far_off["features"]
    );
    assert_eq!(predict(twice.as_bytes()), far);

    // Request limits, each with the rule and a reason that says what was wrong.
    let cases: Vec<(Vec<u8>, u16, &str, &str)> = vec![
        (
            twice.into_bytes(),
            400,
            "GRD005",
            "\"features\" is repeated in one object",
        ),
        (
            b"{\"features\": [[1, 2,".to_vec(),
            400,
            "GRD005",
            "invalid JSON at byte",
        ),
        (
            b"{\"features\": [[[[[[[[1]]]]]]]]}".to_vec(),
            400,
            "GRD004",
            "deeper than 6",
        ),
        (
            row_body(&clean[..9]).to_string().into_bytes(),
            400,
            "GRD004",
            "9 rows",
        ),
        (
            b"{\"features\": [[1, 2, 3]]}".to_vec(),
            400,
            "GRD005",
            "takes 64",
        ),
        (
            b"{\"features\": [[NaN]]}".to_vec(),
            400,
            "GRD005",
            "NaN or Infinity",
        ),
        (
            b"{\"rows\": [[1]]}".to_vec(),
            400,
            "GRD005",
            "nothing at '/features'",
        ),
        (vec![b' '; 70_000], 413, "GRD004", "larger than 65536"),
    ];
    for (body, status, rule, text) in cases {
        let r = post(guard.addr, "/predict", Some(KEY_A), &body);
        let shown = String::from_utf8_lossy(&body[..body.len().min(40)]).into_owned();
        assert_eq!(r.status, status, "{shown}: {}", r.text());
        let v = r.json();
        assert_eq!(v["rule"], rule, "{shown}: {v}");
        assert!(v["error"].as_str().unwrap().contains(text), "{shown}: {v}");
    }
    // A write to any other path would bypass screening: refused. So would a body on a
    // read-only call, which a server route taking GET as well as POST would read.
    let r = guard.post("/train", Some(KEY_A), &json!({}));
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["reason"], "unknown_route");
    let body = far_off.to_string();
    let r = request(
        guard.addr,
        "GET",
        "/predict",
        &[("X-Api-Key", KEY_A)],
        body.as_bytes(),
    )
    .unwrap();
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["reason"], "body_on_read");
    assert_eq!(r.json()["rule"], "GRD012");
    let r = request(guard.addr, "GET", "/health", &[("X-Api-Key", KEY_A)], b"").unwrap();
    assert_eq!(r.status, 200, "{}", r.text());

    // Events: structured, with the tenant, model and ATLAS techniques.
    let e = guard.wait_event(5, |e| e["rule"] == "GRD007" && e["action"] == "flagged");
    assert_eq!(e["tenant"], "a");
    assert_eq!(e["model"], "digits");
    assert_eq!(e["source"], "palisade-guard");
    assert!(
        e["techniques"]
            .as_array()
            .unwrap()
            .contains(&json!("AML.T0043"))
    );
    let e = guard.wait_event(5, |e| e["rule"] == "GRD001");
    assert!(e.get("tenant").is_none());
    assert_eq!(e["techniques"], json!(["AML.T0040"]));

    // Metrics.
    let m = guard.metrics();
    for series in [
        r#"palisade_guard_rejections_total{tenant="unknown",reason="unauthenticated"} 2"#,
        r#"palisade_guard_rejections_total{tenant="a",reason="json_depth"} 1"#,
        r#"palisade_guard_requests_total{tenant="a",model="digits",outcome="flagged"}"#,
        r#"palisade_guard_ood_distance_count{model="digits"}"#,
        r#"palisade_guard_request_duration_seconds_bucket{le="0.0001",model="digits"}"#,
    ] {
        assert!(m.contains(series), "{series} missing from\n{m}");
    }
    // Tenant a's calls of the model, by outcome: four clean digits (one alone, three with
    // headers of their own), the 120 digits screened, then 10 refusals (the far-off input,
    // the eight request limits and the body on a read-only call).
    for (outcome, n) in [
        ("flagged", adv + fp),
        ("forwarded", 4 + 120 - adv - fp),
        ("rejected", 10),
        ("failed", 0),
    ] {
        let series = format!(
            "palisade_guard_requests_total{{tenant=\"a\",model=\"digits\",outcome=\"{outcome}\"}} {n}\n"
        );
        assert!(m.contains(&series), "{series} missing from\n{m}");
    }

    // The model server goes away: 502s, then the breaker opens (3 failures) and answers 503.
    drop(server);
    let statuses: Vec<u16> = (0..5)
        .map(|_| {
            guard
                .post("/predict", Some(KEY_A), &row_body(&clean[..1]))
                .status
        })
        .collect();
    assert_eq!(statuses, [502, 502, 502, 503, 503]);
    let r = guard.post("/predict", Some(KEY_A), &row_body(&clean[..1]));
    assert_eq!(r.json()["rule"], "GRD008");
    assert_eq!(guard.metric("palisade_guard_circuit_open"), Some(1.0));
    assert_eq!(
        request(guard.admin, "GET", "/healthz", &[], b"")
            .unwrap()
            .status,
        503
    );
}

#[test]
fn tfserving_and_kserve_v2_protocols() {
    let server = ModelServer::start("clean", 0);
    let clean = rows("clean.json");
    let adversarial = rows("adversarial.json");

    let tf = Guard::start(&config(
        server.addr,
        "tfserving",
        "",
        &digits_model("tfserving", ""),
    ));
    let r = tf.post(
        "/v1/models/digits:predict",
        Some(KEY_A),
        &json!({ "instances": &clean[..2] }),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["predictions"].as_array().unwrap().len(), 2);
    let r = tf.post(
        "/v1/models/digits/versions/1:predict",
        Some(KEY_A),
        &json!({ "inputs": [adversarial[0].clone(), adversarial[1].clone()] }),
    );
    // The versioned path is the same model to the guard; the server has no such route.
    assert_eq!(r.status, 404);
    let flags = r.header("x-palisade-flag").unwrap_or_default();
    assert!(flags.contains("out_of_distribution"), "{flags}");
    // :classify takes tf.Example features by name, read in the profile's order (px0..px63).
    let r = tf.post(
        "/v1/models/digits:classify",
        Some(KEY_A),
        &json!({ "examples": [example(&clean[0]), example(&clean[1])] }),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-palisade-flag"), None);
    let r = tf.post(
        "/v1/models/digits:classify",
        Some(KEY_A),
        &json!({ "examples": [example(&adversarial[0])] }),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let flags = r.header("x-palisade-flag").unwrap_or_default();
    assert!(flags.contains("out_of_distribution"), "{flags}");
    let mut short = example(&clean[0]);
    short.as_object_mut().unwrap().remove("px17");
    let r = tf.post(
        "/v1/models/digits:classify",
        Some(KEY_A),
        &json!({ "examples": [short] }),
    );
    assert_eq!(r.status, 400);
    assert!(
        r.error().contains("examples[0] has no feature 'px17'"),
        "{}",
        r.text()
    );
    let r = tf.post(
        "/v1/models/other:predict",
        Some(KEY_A),
        &json!({ "instances": [[1]] }),
    );
    assert_eq!(
        (r.status, r.json()["reason"].as_str()),
        (404, Some("unknown_model"))
    );

    let v2 = Guard::start(&config(
        server.addr,
        "kserve-v2",
        "",
        &digits_model("kserve-v2", ""),
    ));
    let tensor = |shape: serde_json::Value, datatype: &str, data: Vec<f64>| json!({ "inputs": [{ "name": "pixels", "shape": shape, "datatype": datatype, "data": data }] });
    let flat: Vec<f64> = clean[..2].concat();
    let r = v2.post(
        "/v2/models/digits/infer",
        Some(KEY_A),
        &tensor(json!([2, 64]), "FP64", flat.clone()),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["outputs"][0]["data"].as_array().unwrap().len(), 2);
    // The schema the server declares (GET /v2/models/digits) is enforced.
    let r = v2.post(
        "/v2/models/digits/infer",
        Some(KEY_A),
        &tensor(json!([2, 64]), "FP32", flat.clone()),
    );
    assert_eq!(r.status, 400);
    assert!(
        r.error().contains("the model declares FP64"),
        "{}",
        r.text()
    );
    let r = v2.post(
        "/v2/models/digits/infer",
        Some(KEY_A),
        &tensor(json!([4, 32]), "FP64", flat),
    );
    assert!(r.error().contains("declares [-1, 64]"), "{}", r.text());
    // Metadata calls go through after authentication.
    let r = request(
        v2.addr,
        "GET",
        "/v2/models/digits",
        &[("X-API-Key", KEY_B)],
        b"",
    )
    .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["inputs"][0]["name"], "pixels");
}

#[test]
fn prediction_drift_is_measured_on_the_model_servers_answers() {
    const WINDOW: usize = 100;
    let server = ModelServer::start("clean", 0);
    let (clean, digit) = labelled_rows("clean.json");
    // Traffic of one kind of digit only: honest inputs, but not the population the model
    // was approved on (its training predictions, recorded in the profile).
    let zeros: Vec<Vec<f64>> = clean
        .iter()
        .zip(&digit)
        .filter(|(_, d)| **d == 0)
        .map(|(r, _)| r.clone())
        .cycle()
        .take(WINDOW)
        .collect();
    let psi_series = "palisade_guard_drift_psi{model=\"digits\"}";
    // Each protocol's request for some rows, and where its predictions are in the answer:
    // the generic JSON `output`, TF Serving :classify `results` (the class scored highest),
    // KServe v2 `outputs`.
    let protocols: [(&str, &str, RowsBody); 3] = [
        ("json", "/predict", row_body),
        (
            "tfserving",
            "/v1/models/digits:classify",
            |rows| json!({ "examples": rows.iter().map(|r| example(r)).collect::<Vec<_>>() }),
        ),
        ("kserve-v2", "/v2/models/digits/infer", |rows| {
            json!({ "inputs": [{
                "name": "pixels", "shape": [rows.len(), 64], "datatype": "FP64", "data": rows.concat()
            }] })
        }),
    ];
    let mut first_window = Vec::new();
    for (protocol, path, body) in protocols {
        let guard = Guard::start(&config(
            server.addr,
            protocol,
            "",
            &format!(
                "[limits]\nrequests_per_second = 10000\nburst = 1000\nmax_batch = 64\n\n{}",
                digits_model(protocol, &format!("[models.drift]\nwindow = {WINDOW}\n"))
            ),
        ));
        let send = |rows: &[Vec<f64>]| {
            for chunk in rows.chunks(20) {
                let r = guard.post(path, Some(KEY_A), &body(chunk));
                assert_eq!(r.status, 200, "{protocol}: {}", r.text());
            }
        };
        send(&clean[..WINDOW - 1]);
        assert_eq!(
            guard.metric(psi_series),
            None,
            "{protocol}: no window is full yet"
        );
        send(&clean[WINDOW - 1..WINDOW]);
        let psi = guard
            .metric(psi_series)
            .expect("a PSI once a window is full");
        assert!(psi < 0.25, "{protocol}: held-out digits drifted: PSI {psi}");
        first_window.push(psi);
        send(&zeros);
        let e = guard.wait_event(5, |e| e["rule"] == "GRD009");
        assert_eq!(
            (e["model"].as_str(), e["action"].as_str()),
            (Some("digits"), Some("raised")),
            "{protocol}"
        );
        assert_eq!(e["details"]["window"], WINDOW);
        let psi = guard.metric(psi_series).unwrap();
        assert!(
            psi > 1.0 && e["details"]["psi"] == psi,
            "{protocol}: PSI {psi}, {e}"
        );
        let raised = guard
            .events()
            .iter()
            .filter(|e| e["rule"] == "GRD009")
            .count();
        assert_eq!(raised, 1, "{protocol}: only the window of zeros drifted");
    }
    // The same digits, so the same predictions whichever way they were asked for.
    assert!(
        first_window.iter().all(|p| *p == first_window[0]),
        "{first_window:?}"
    );
}

#[test]
fn one_tenants_flood_does_not_reach_another() {
    let server = ModelServer::start("clean", 150);
    let guard = Guard::start(&config(
        server.addr,
        "json",
        // One token per 2 s: the five sequential requests below (150 ms each) finish long
        // before another token could arrive, even on a loaded machine.
        "requests_per_second = 0.5\nburst = 3\nmax_concurrent = 1\nmodels = [\"digits\"]",
        &digits_model("json", "[models.screening]\nout_of_range = \"log\"\n"),
    ));
    let one = row_body(&rows("clean.json")[..1]);
    // b: a burst of 3, then 429 with Retry-After.
    let statuses: Vec<u16> = (0..5)
        .map(|_| guard.post("/predict", Some(KEY_B), &one).status)
        .collect();
    assert_eq!(statuses, [200, 200, 200, 429, 429]);
    let r = guard.post("/predict", Some(KEY_B), &one);
    assert_eq!(r.json()["rule"], "GRD002");
    assert!(r.header("retry-after").is_some());
    // a is untouched.
    assert_eq!(guard.post("/predict", Some(KEY_A), &one).status, 200);
    assert!(
        guard
            .metric(r#"palisade_guard_rate_limited_total{tenant="b"}"#)
            .unwrap()
            >= 3.0
    );

    // Concurrency: b may have one request in flight (the server takes 150 ms); the rest are
    // shed at once, a's run in parallel. Wait for b to have two tokens again (4.5 s at 0.5/s).
    std::thread::sleep(std::time::Duration::from_millis(4500));
    let statuses: Vec<(String, u16)> = std::thread::scope(|s| {
        let hs: Vec<_> = [KEY_B, KEY_B, KEY_A, KEY_A]
            .into_iter()
            .map(|k| {
                let one = &one;
                let guard = &guard;
                s.spawn(move || (k.to_string(), guard.post("/predict", Some(k), one).status))
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let b: Vec<u16> = statuses
        .iter()
        .filter(|(k, _)| k == KEY_B)
        .map(|(_, s)| *s)
        .collect();
    let a: Vec<u16> = statuses
        .iter()
        .filter(|(k, _)| k == KEY_A)
        .map(|(_, s)| *s)
        .collect();
    assert_eq!(a, [200, 200]);
    assert!(b.contains(&200) && b.contains(&429), "{b:?}");
    guard.wait_event(5, |e| e["rule"] == "GRD003" && e["tenant"] == "b");
}

#[test]
fn a_refusal_is_held_back_while_other_tenants_are_served() {
    let server = ModelServer::start("clean", 0);
    let guard = Guard::start(&config(
        server.addr,
        "json",
        "requests_per_second = 0.1\nburst = 1",
        &format!(
            "[limits]\nrefusal_delay_ms = 4000\n\n{}",
            digits_model("json", "[models.screening]\nout_of_range = \"log\"\n")
        ),
    ));
    let one = row_body(&rows("clean.json")[..1]);
    assert_eq!(guard.post("/predict", Some(KEY_B), &one).status, 200);
    std::thread::scope(|s| {
        // b's next request is over its limit: its 429 is held for 2 to 4 s…
        let held = s.spawn(|| {
            let sent = std::time::Instant::now();
            let r = guard.post("/predict", Some(KEY_B), &one);
            (r, sent.elapsed())
        });
        std::thread::sleep(std::time::Duration::from_millis(300));
        // …while a is served at once, on a serving thread that is not blocked by the wait.
        for _ in 0..3 {
            assert_eq!(guard.post("/predict", Some(KEY_A), &one).status, 200);
        }
        assert!(!held.is_finished(), "b's refusal was not held");
        assert_eq!(guard.metric("palisade_guard_refusals_held"), Some(1.0));
        let (r, waited) = held.join().unwrap();
        assert_eq!(r.status, 429);
        assert_eq!(r.json()["rule"], "GRD002");
        assert!(r.header("retry-after").is_some());
        assert!(
            waited >= std::time::Duration::from_millis(2000),
            "{waited:?}"
        );
    });
    assert_eq!(guard.metric("palisade_guard_refusals_held"), Some(0.0));
}

#[test]
fn tenants_and_limits_reload_without_dropping_connections() {
    let server = ModelServer::start("clean", 0);
    let text = config(server.addr, "json", "", &digits_model("json", ""));
    let guard = Guard::start(&text);
    let one = row_body(&rows("clean.json")[..1]).to_string();
    // A keep-alive connection opened before the reload.
    let mut conn = std::net::TcpStream::connect(guard.addr).unwrap();
    conn.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let mut reader = std::io::BufReader::new(conn.try_clone().unwrap());
    let auth = format!("Bearer {KEY_B}");
    let headers = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
    ];
    let mut ask = || {
        send(
            &mut conn,
            "POST",
            "/predict",
            &headers,
            one.as_bytes(),
            false,
        )
        .unwrap();
        read_response(&mut reader).unwrap().status
    };
    assert_eq!(ask(), 200);

    // b may no longer call the model; a broken file is refused and the running config kept.
    std::fs::write(
        &guard.config,
        text.replace("[[models]]", "[limits]\nmax_batch = 0\n\n[[models]]"),
    )
    .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2500));
    assert!(
        guard
            .log()
            .iter()
            .any(|l| l.contains("not reloaded") && l.contains("limits.max_batch")),
        "{:?}",
        guard.log()
    );
    assert_eq!(ask(), 200);

    let restricted = text.replace("name = \"b\"\n", "name = \"b\"\nmodels = []\n");
    std::fs::write(&guard.config, restricted).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let status = loop {
        let s = ask();
        if s != 200 || std::time::Instant::now() > deadline {
            break s;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    // Same connection, new rules.
    assert_eq!(status, 403);
    assert_eq!(
        guard.metric(r#"palisade_guard_config_reloads_total{result="ok"}"#),
        Some(1.0)
    );
    assert_eq!(
        guard
            .post("/predict", Some(KEY_A), &row_body(&rows("clean.json")[..1]))
            .status,
        200
    );
}

#[test]
fn check_config_names_the_broken_key() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("guard-check-config");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("guard.toml");
    let good = config("127.0.0.1:9".parse().unwrap(), "json", "", "");
    std::fs::write(&path, &good).unwrap();
    let check = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_palisade"))
            .args(["guard", "check-config"])
            .arg(&path)
            .output()
            .unwrap()
    };
    let out = check();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(
        &path,
        good.replace("reload_seconds = 1", "reload_seconds = 1\nlisten_port = 5"),
    )
    .unwrap();
    let out = check();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("listen_port") && err.contains("guard.toml"),
        "{err}"
    );
}

#[test]
fn events_reach_palisade_respond_through_the_webhook() {
    // The real receiver: `palisade respond serve`, which needs the guard's bearer token.
    let dir = tempdir("guard-webhook");
    let respond = Respond::start(&dir, free_port());
    let server = ModelServer::start("clean", 0);
    let guard = Guard::start_with_env(
        &config(
            server.addr,
            "json",
            "",
            &format!(
                "[events]\nwebhook = \"http://{}/ingest/guard\"\nwebhook_token_env = \"RESPOND_TOKEN\"\n\n{}",
                respond.addr,
                digits_model("json", "")
            ),
        ),
        &[("RESPOND_TOKEN", RESPOND_TOKEN)],
    );
    assert_eq!(
        guard.post("/predict", Some("stolen"), &json!({})).status,
        401
    );
    // The same event went to stdout…
    let e = guard.wait_event(5, |s| s["rule"] == "GRD001");
    // …and is in respond's record, as a guard signal about the model's workload.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let recorded = loop {
        let store = palisade_respond::store::Store::open(&respond.db).unwrap();
        let mut st = store
            .connection()
            .prepare("SELECT body FROM chain WHERE kind = 'signal'")
            .unwrap();
        let bodies: Vec<serde_json::Value> = st
            .query_map([], |r| r.get::<_, String>(0))
            .unwrap()
            .map(|b| serde_json::from_str(&b.unwrap()).unwrap())
            .collect();
        if !bodies.is_empty() || std::time::Instant::now() > deadline {
            break bodies;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert_eq!(recorded.len(), 1, "no event reached palisade respond");
    let s = &recorded[0];
    assert_eq!(
        (s["source"].as_str(), s["rule"].as_str()),
        (Some("guard"), Some("GRD001"))
    );
    assert_eq!(s["raw"]["time"], e["time"]);
    // A refused credential names no tenant; respond keeps the event whole.
    assert_eq!(s["raw"], e);
    assert_eq!(
        guard.metric("palisade_guard_events_dropped_total"),
        Some(0.0)
    );
    assert!(
        !guard.log().iter().any(|l| l.contains("webhook answered")),
        "respond refused an event: {:?}",
        guard.log()
    );
}

#[test]
fn slow_clients_are_cut_off_and_connections_are_capped() {
    // No model server is needed: nothing here gets that far.
    let nowhere = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let cfg = config(
        nowhere,
        "json",
        "",
        "[[models]]\nname = \"m\"\nroute = \"/predict\"\ninput = \"/features\"\n\n\
         [limits]\nbody_timeout_ms = 500\n",
    )
    .replace(
        "[server]\n",
        "[server]\nheader_timeout_ms = 1000\nmax_connections = 2\n",
    );
    let guard = Guard::start(&cfg);

    // A tenant whose body stops coming: 408 once body_timeout_ms has passed, and an event.
    let head = format!(
        "POST /predict HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {KEY_A}\r\n\
         Content-Length: 1000\r\n\r\n{{\"features\": [[1,"
    );
    let c = connect_and_send(guard.addr, head.as_bytes());
    let r = read_response(&mut std::io::BufReader::new(c)).unwrap();
    assert_eq!(r.status, 408, "{}", r.text());
    assert!(
        r.text()
            .contains("did not arrive in full within 500 ms (limits.body_timeout_ms)"),
        "{}",
        r.text()
    );
    let e = guard.wait_event(5, |e| e["rule"] == "GRD004");
    assert_eq!(e["tenant"], "a");

    // Silent, half an HTTP/1.1 head, half the HTTP/2 preface: each closed after
    // header_timeout_ms instead of held for as long as the client likes.
    assert!(closed_by_server(connect_and_send(guard.addr, b"")));
    assert!(closed_by_server(connect_and_send(
        guard.addr,
        b"GET /predict HTTP/1.1\r\nHo"
    )));
    assert!(closed_by_server(connect_and_send(
        guard.addr,
        b"PRI * HTTP/2.0\r\n"
    )));

    // Cleartext HTTP/2 (prior knowledge) is told from HTTP/1.1 by its preface.
    let out = std::process::Command::new(tool("curl"))
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{http_version}",
        ])
        .arg("--http2-prior-knowledge")
        .arg(format!("http://{}/predict", guard.addr))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "401 2");

    // max_connections = 2: with two silent connections open (accepted first: the backlog is
    // a queue), a third is not served until the guard has closed one of them.
    let silent = [
        connect_and_send(guard.addr, b""),
        connect_and_send(guard.addr, b""),
    ];
    let r = request(guard.addr, "GET", "/predict", &[], b"").unwrap();
    assert_eq!(r.status, 401);
    let closed = silent.iter().filter(|s| {
        s.set_nonblocking(true).unwrap();
        matches!(std::io::Read::read(&mut &**s, &mut [0u8; 1]), Ok(0))
    });
    assert!(
        closed.count() >= 1,
        "the third connection was served while two were open"
    );
}

#[test]
fn a_smuggling_attempt_is_refused_counted_and_reported() {
    let server = ModelServer::start("clean", 0);
    let guard = Guard::start(&config(server.addr, "json", "", &digits_model("json", "")));
    // Two framings at once. Read by its length, the body is everything that follows; read as
    // chunked, it ends at `0`, and a second request, without a key, comes after it.
    let hidden = "POST /predict HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}";
    let attempt = format!(
        "POST /predict HTTP/1.1\r\nHost: g\r\nAuthorization: Bearer {KEY_A}\r\n\
         Content-Length: {}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n{hidden}",
        5 + hidden.len()
    );
    let s = connect_and_send(guard.addr, attempt.as_bytes());
    let mut reader = std::io::BufReader::new(s.try_clone().unwrap());
    let r = read_response(&mut reader).unwrap();
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["reason"], "bad_request");
    assert!(
        closed_by_server(s),
        "the connection stayed open after a refusal"
    );

    let e = guard.wait_event(5, |e| e["rule"] == "GRD013");
    assert_eq!(e["details"]["reason"], "bad_request", "{e}");
    assert_eq!(e["details"]["status"], 400, "{e}");
    assert!(e.get("tenant").is_none(), "{e}");
    let m = guard.metrics();
    let series = r#"palisade_guard_rejections_total{tenant="unknown",reason="bad_request"} 1"#;
    assert!(m.contains(series), "{series} missing from\n{m}");
    // Neither reading reached the gateway: tenant a's request (by length) was not served, and
    // the hidden one (by chunks) was not refused as unauthenticated.
    assert!(
        !m.contains(r#"palisade_guard_requests_total{tenant="a""#),
        "{m}"
    );
    assert!(!m.contains(r#"reason="unauthenticated""#), "{m}");
}
