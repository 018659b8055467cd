//! `palisade respond serve` as senders meet it: tokens, limits, clear errors, and nothing
//! acknowledged lost when the process is killed with SIGKILL.

mod guard_harness;

use guard_harness::{
    RESPOND_TOKEN, Respond, closed_by_server, connect_and_send, free_port, post, read_response,
    request, tempdir, wait_http,
};
use palisade_respond::store::Store;
use serde_json::json;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

const TOKEN: &str = RESPOND_TOKEN;

fn start(dir: &Path, port: u16) -> Respond {
    Respond::start(dir, port)
}

fn generic(id: usize) -> Vec<u8> {
    json!({"source": "test", "rule": "probe", "id": format!("ev-{id}"), "severity": "low",
           "namespace": "ml", "pod": "digits-6d4cf56db6-x8k2p"})
    .to_string()
    .into_bytes()
}

#[test]
fn senders_get_clear_answers() {
    let dir = tempdir("answers");
    let s = start(&dir, free_port());
    let audit = std::fs::read(
        guard_harness::shared().join("peer/falco/test/trace_files/k8s_audit/exec_pod.json"),
    )
    .unwrap();

    let r = post(s.addr, "/ingest/k8s-audit", None, &audit);
    assert_eq!(r.status, 401);
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    assert_eq!(
        post(s.addr, "/ingest/k8s-audit", Some("wrong"), &audit).status,
        401
    );

    let r = post(s.addr, "/ingest/k8s-audit", Some(TOKEN), &audit);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["opened"], json!(["INC-0001"]));

    let list = json!({"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "items": [
        serde_json::from_slice::<serde_json::Value>(&audit).unwrap(), {"kind": "Event", "auditID": "x"}]});
    let r = post(
        s.addr,
        "/ingest/k8s-audit",
        Some(TOKEN),
        list.to_string().as_bytes(),
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["accepted"], 1);
    assert_eq!(
        r.json()["errors"],
        json!(["items[1]: audit event field 'verb' is missing"])
    );

    let r = post(
        s.addr,
        "/ingest/falco",
        Some(TOKEN),
        b"{\"rule\": \"x\", \"priority\": \"Loud\", \"output\": \"\"}",
    );
    assert_eq!(r.status, 400);
    assert!(r.text().contains("'priority' is 'Loud'"), "{}", r.text());

    let r = post(s.addr, "/ingest/syslog", Some(TOKEN), b"{}");
    assert_eq!(r.status, 404);
    assert!(
        r.text()
            .contains("use falco, falcosidekick, k8s-audit, guard or generic")
    );

    let big = vec![b' '; 70_000];
    let r = post(s.addr, "/ingest", Some(TOKEN), &big);
    assert_eq!(r.status, 413);
    assert!(
        r.text().contains("max_body_bytes (65536 bytes)"),
        "{}",
        r.text()
    );

    // Falco's own http_output cannot set headers: the token may ride in the query.
    let alert = json!({"rule": "Terminal shell in container", "priority": "Notice", "output": "shell",
                       "time": "2026-11-22T10:00:00Z", "output_fields": {"k8s.ns.name": "ml"}});
    let r = request(
        s.addr,
        "POST",
        &format!("/ingest/falco?token={TOKEN}"),
        &[],
        alert.to_string().as_bytes(),
    )
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());

    let store = Store::open(&s.db).unwrap();
    assert_eq!(store.counter("ingest_errors").unwrap(), 2);
    assert_eq!(store.counter("signals").unwrap(), 3);
    assert!(store.verify(None).is_ok());
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn nothing_acknowledged_is_lost_across_kill_9() {
    let dir = tempdir("kill9");
    let port = free_port();
    let mut s = start(&dir, port);
    let acked = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let senders: Vec<_> = (0..4)
        .map(|t| {
            let (acked, stop, addr) = (acked.clone(), stop.clone(), s.addr);
            std::thread::spawn(move || {
                let mut i = t;
                while !stop.load(Ordering::Relaxed) {
                    if let Ok(r) = request(
                        addr,
                        "POST",
                        "/ingest/generic",
                        &[("Authorization", &format!("Bearer {TOKEN}"))],
                        &generic(i),
                    ) && r.status == 200
                    {
                        acked.lock().unwrap().push(format!("ev-{i}"));
                    }
                    i += 4;
                }
            })
        })
        .collect();
    // Let a few hundred through, then SIGKILL while requests are in flight.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while acked.lock().unwrap().len() < 300 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    s.proc.0.kill().unwrap();
    s.proc.0.wait().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    senders.into_iter().for_each(|h| h.join().unwrap());
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 300, "only {} acknowledged", acked.len());

    // Restart on the same database: it opens, verifies, and holds every acknowledged event.
    let s2 = start(&dir, free_port());
    let store = Store::open(&s2.db).unwrap();
    let v = store.verify(None).unwrap();
    let mut st = store
        .connection()
        .prepare("SELECT body FROM chain WHERE kind = 'signal'")
        .unwrap();
    let recorded: std::collections::HashSet<String> = st
        .query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|b| {
            serde_json::from_str::<serde_json::Value>(&b.unwrap()).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let lost: Vec<&String> = acked.iter().filter(|id| !recorded.contains(*id)).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged events lost, e.g. {:?}",
        lost.len(),
        &lost[..lost.len().min(5)]
    );
    assert!(v.entries as usize >= acked.len());
    let r = post(s2.addr, "/ingest/generic", Some(TOKEN), &generic(1_000_000));
    assert_eq!(r.status, 200, "the restarted server takes events again");
    drop(st);
    drop(s2);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn https_with_client_certificates_over_http2() {
    let dir = tempdir("respond-tls");
    guard_harness::certificates(&dir);
    let extra = format!(
        "[tls]\ncert = \"{0}/server.pem\"\nkey = \"{0}/server.key\"\nclient_ca = \"{0}/ca.pem\"\n\
         [[senders]]\nname = \"falco\"\nmtls_common_name = \"a\"\n",
        dir.display()
    );
    let s = Respond::start_with(&dir, free_port(), "", &extra);
    let body = String::from_utf8(generic(1)).unwrap();
    let url = format!("https://{}/ingest/generic", s.addr);
    let curl = |cert, token| guard_harness::curl_https(&dir, &url, &body, cert, token);
    // The certificate alone identifies the sender `falco`, over HTTP/2.
    assert_eq!(curl(Some("client-a.pem"), None), "200 2");
    // A token sent with it decides: the right one is accepted, a wrong one is refused.
    assert_eq!(curl(Some("client-a.pem"), Some(TOKEN)), "200 2");
    assert_eq!(curl(Some("client-a.pem"), Some("wrong")), "401 2");
    // No certificate, or one from another CA: the handshake fails (curl prints 000).
    assert_eq!(curl(None, Some(TOKEN)), "000 0");
    assert_eq!(curl(Some("intruder.pem"), None), "000 0");

    let store = Store::open(&s.db).unwrap();
    assert_eq!(store.counter("signals").unwrap(), 2);
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn tls_mistakes_are_named_at_start() {
    let dir = tempdir("respond-tls-bad");
    let hash = palisade_guard::tenant::hash_key(TOKEN);
    let config = dir.join("respond.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\ndb = \"ir.db\"\n[tls]\ncert = \"missing.pem\"\nkey = \"missing.key\"\n\
             [[senders]]\nname = \"test\"\ntoken_sha256 = \"{hash}\"\n"
        ),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(["respond", "serve", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("tls.cert: ") && err.contains("missing.pem"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unknown_senders_are_refused_before_their_body_and_slow_bodies_time_out() {
    let dir = tempdir("respond-slow");
    let top = "body_timeout_ms = 500\nheader_timeout_ms = 500\n";
    let s = Respond::start_with(&dir, free_port(), top, "");
    wait_http(s.addr, "/healthz", 20);
    // A head announcing 60,000 bytes, then 10 of them and nothing more.
    let head = |auth: &str| {
        format!(
            "POST /ingest/generic HTTP/1.1\r\nHost: test\r\n{auth}Content-Length: 60000\r\n\r\n{{\"source\":"
        )
    };

    // No sender: 401 at once, without waiting for the body (that would wait forever).
    let c = connect_and_send(s.addr, head("").as_bytes());
    let r = read_response(&mut std::io::BufReader::new(c)).unwrap();
    assert_eq!(r.status, 401, "{}", r.text());

    // A sender whose body stops coming: 408 once body_timeout_ms has passed.
    let c = connect_and_send(
        s.addr,
        head(&format!("Authorization: Bearer {TOKEN}\r\n")).as_bytes(),
    );
    let r = read_response(&mut std::io::BufReader::new(c)).unwrap();
    assert_eq!(r.status, 408, "{}", r.text());
    assert_eq!(
        r.json()["error"],
        "the request body did not arrive in full within 500 ms (body_timeout_ms); send it \
         faster or in smaller batches"
    );

    // The dashboard's login form, which anyone may post to: the same deadline, and forms are
    // small.
    let c = connect_and_send(
        s.addr,
        b"POST /ui/login HTTP/1.1\r\nHost: test\r\nContent-Type: application/x-www-form-urlencoded\r\n\
          Content-Length: 100\r\n\r\ntoken=",
    );
    let r = read_response(&mut std::io::BufReader::new(c)).unwrap();
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(
        r.text().contains("did not arrive in full within 500 ms"),
        "{}",
        r.text()
    );
    let form = format!("token={}", "a".repeat(20_000));
    let r = request(
        s.addr,
        "POST",
        "/ui/login",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        form.as_bytes(),
    )
    .unwrap();
    assert_eq!(r.status, 413, "{}", r.text());

    // A connection that sends nothing, or half a head, is closed after header_timeout_ms.
    assert!(closed_by_server(connect_and_send(s.addr, b"")));
    assert!(closed_by_server(connect_and_send(
        s.addr,
        b"POST /ingest HTTP/1.1\r\nHost: te"
    )));

    let store = Store::open(&s.db).unwrap();
    assert_eq!(store.counter("signals").unwrap(), 0);
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}
