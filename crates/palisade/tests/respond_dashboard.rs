//! The response dashboard in a real browser: headless Chromium driven through chromedriver's
//! WebDriver API. `palisade respond serve` runs with a cluster (the in-process API server), an
//! incident arrives, its playbook stops at approval gates, an operator logs in, approves each
//! gate, sees the evidence and the MTTR chart, and rolls back; CSRF and login are enforced.

mod guard_harness;

use guard_harness::{Proc, RESPOND_TOKEN, free_port, post, request, tempdir, wait_http};
use palisade_apisim::ApiServer;
use palisade_respond::drill::scenario;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const OPERATOR_TOKEN: &str = "alice-operator-token";
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

struct Browser {
    _driver: Proc,
    addr: SocketAddr,
    session: String,
}

impl Browser {
    fn start() -> Browser {
        let port = free_port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (scripts/test installs Debian's chromium-driver)");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let driver = Proc(child);
        wait_http(addr, "/status", 20);
        let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]}}}});
        let mut b = Browser {
            _driver: driver,
            addr,
            session: String::new(),
        };
        let v = b.call("POST", "/session", Some(caps));
        b.session = v["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {v}"))
            .to_string();
        b
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let r = request(
            self.addr,
            method,
            path,
            &[("Content-Type", "application/json"), ("Host", "localhost")],
            body.as_bytes(),
        )
        .unwrap();
        let v: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
        assert!(r.status < 300, "{method} {path}: {} {v}", r.status);
        v.get("value").cloned().unwrap_or(v)
    }

    fn s(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.session)
    }

    fn go(&self, url: &str) {
        self.call("POST", &self.s("/url"), Some(json!({"url": url})));
    }

    fn url(&self) -> String {
        self.call("GET", &self.s("/url"), None)
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    fn source(&self) -> String {
        self.call("GET", &self.s("/source"), None)
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    fn find(&self, css: &str) -> Option<String> {
        let body = json!({"using": "css selector", "value": css}).to_string();
        let r = request(
            self.addr,
            "POST",
            &self.s("/element"),
            &[("Content-Type", "application/json"), ("Host", "localhost")],
            body.as_bytes(),
        )
        .unwrap();
        let v: Value = serde_json::from_slice(&r.body).ok()?;
        v["value"][ELEMENT].as_str().map(str::to_string)
    }

    /// The element, waiting up to 10 s for it (a page loading after a click).
    fn el(&self, css: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(e) = self.find(css) {
                return e;
            }
            assert!(
                Instant::now() < deadline,
                "no element {css} on {}:\n{}",
                self.url(),
                self.source()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Clicks and waits for the page it leads to: the clicked element goes stale once the
    /// browser has navigated (a form's POST and its redirect have completed).
    fn click(&self, css: &str) {
        let e = self.el(css);
        self.call(
            "POST",
            &self.s(&format!("/element/{e}/click")),
            Some(json!({})),
        );
        let deadline = Instant::now() + Duration::from_secs(15);
        let path = self.s(&format!("/element/{e}/text"));
        loop {
            let r = request(self.addr, "GET", &path, &[("Host", "localhost")], b"").unwrap();
            if r.status >= 400 {
                return;
            }
            assert!(Instant::now() < deadline, "clicking {css} led nowhere");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn typ(&self, css: &str, text: &str) {
        let e = self.el(css);
        self.call(
            "POST",
            &self.s(&format!("/element/{e}/clear")),
            Some(json!({})),
        );
        self.call(
            "POST",
            &self.s(&format!("/element/{e}/value")),
            Some(json!({"text": text})),
        );
    }

    fn text(&self, css: &str) -> String {
        let e = self.el(css);
        self.call("GET", &self.s(&format!("/element/{e}/text")), None)
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    /// Reloads `url` until `css` is there and its text contains `want`.
    fn wait_for(&self, url: &str, css: &str, want: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            self.go(url);
            if self.find(css).is_some() {
                let t = self.text(css);
                if t.contains(want) {
                    return t;
                }
            }
            assert!(
                Instant::now() < deadline,
                "{css} never showed {want:?}:\n{}",
                self.source()
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    fn cookie(&self, name: &str) -> String {
        self.call("GET", &self.s(&format!("/cookie/{name}")), None)["value"]
            .as_str()
            .unwrap_or("")
            .to_string()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = request(
            self.addr,
            "DELETE",
            &self.s(""),
            &[("Host", "localhost")],
            b"",
        );
    }
}

#[test]
fn an_operator_approves_rolls_back_and_sees_the_record() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let api = rt.block_on(ApiServer::start("dash-kube-token")).unwrap();
    scenario::seed(&api.cluster(), Some(scenario::privileged_release())).unwrap();
    let (pod, node) = scenario::target_pod(&api.cluster()).unwrap();

    let dir = tempdir("respond-dashboard");
    std::fs::write(dir.join("kube.yaml"), api.kubeconfig()).unwrap();
    let port = free_port();
    let sender = palisade_guard::tenant::hash_key(RESPOND_TOKEN);
    let operator = palisade_guard::tenant::hash_key(OPERATOR_TOKEN);
    std::fs::write(dir.join("respond.toml"), format!(
        "listen = \"127.0.0.1:{port}\"\ndb = \"ir.db\"\n[[senders]]\nname = \"falco\"\ntoken_sha256 = \"{sender}\"\n\
         [[operators]]\nname = \"alice\"\ntoken_sha256 = \"{operator}\"\n\
         [response]\nact = true\nauto = true\nkubeconfig = \"kube.yaml\"\n")).unwrap();
    let server = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(["respond", "serve", "--config"])
        .arg(dir.join("respond.toml"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _server = Proc(server);
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    wait_http(addr, "/healthz", 20);
    let events: String = scenario::breakout_events(&pod, &node)
        .iter()
        .map(|e| e.to_string() + "\n")
        .collect();
    let r = post(
        addr,
        "/ingest/falco",
        Some(RESPOND_TOKEN),
        events.as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["opened"], json!(["INC-0001"]));

    let b = Browser::start();
    let base = format!("http://127.0.0.1:{port}");
    b.go(&format!("{base}/ui"));
    assert!(
        b.url().ends_with("/ui/login"),
        "not logged in: sent to the login page"
    );
    b.typ("#token", "not-a-token");
    b.click("#login");
    assert!(b.text("#login-error").contains("not an operator"));
    b.typ("#token", OPERATOR_TOKEN);
    b.click("#login");
    assert!(b.text("#row-INC-0001").to_lowercase().contains("critical"));
    assert!(b.find("#mttr-empty").is_some(), "nothing recovered yet");

    // The playbook ran on its own up to the first gate; approve each gate in turn.
    let page = format!("{base}/ui/incidents/INC-0001");
    for what in ["scale", "cordon", "rollback"] {
        b.wait_for(&page, "#pending", what);
        b.click("#approve");
    }
    b.wait_for(&page, "#phase", "recovered");
    let actions = b.text("#actions");
    for want in [
        "quarantine",
        "revoke-credentials",
        "lift-quarantine",
        "verify",
        "by playbook:contain-container-escape",
    ] {
        assert!(actions.contains(want), "{want} missing from {actions}");
    }
    assert!(
        b.text("#blast").contains("ml/digits"),
        "the service from the inventory"
    );
    assert!(b.text("#techniques").contains("AML.T0105"));

    // Evidence opens by its hash.
    let ev = b.el("a.hash");
    let href = b
        .call("GET", &b.s(&format!("/element/{ev}/property/href")), None)
        .as_str()
        .unwrap()
        .to_string();
    b.go(&href);
    assert!(
        b.source().contains("apiVersion"),
        "evidence is the recorded object"
    );

    // The MTTR chart now has a bar.
    b.go(&format!("{base}/ui"));
    assert!(b.find("#mttr-chart .bar").is_some(), "{}", b.source());

    // CSRF: the session cookie alone does not make a POST.
    let cookie = format!("palisade_session={}", b.cookie("palisade_session"));
    let headers = [
        ("Cookie", cookie.as_str()),
        ("Content-Type", "application/x-www-form-urlencoded"),
    ];
    let r = request(
        addr,
        "POST",
        "/ui/incidents/INC-0001/rollback",
        &headers,
        b"csrf=guess",
    )
    .unwrap();
    assert_eq!(r.status, 403, "{}", r.text());
    let form = [("Content-Type", "application/x-www-form-urlencoded")];
    let r = request(
        addr,
        "POST",
        "/ui/incidents/INC-0001/rollback",
        &form,
        b"csrf=guess",
    )
    .unwrap();
    assert_eq!(r.status, 401, "no session: {}", r.text());
    let r = request(addr, "GET", "/ui/incidents/INC-0001", &[], b"").unwrap();
    assert_eq!((r.status, r.header("location")), (303, Some("/ui/login")));
    assert!(
        r.header("content-security-policy")
            .unwrap()
            .contains("default-src 'none'")
    );

    // Roll back from the dashboard, after a confirmation page.
    b.go(&page);
    b.click("#rollback-link");
    b.click("#confirm-rollback");
    b.wait_for(&page, "#actions", "dashboard:alice");
    assert!(b.text("#actions").contains("rollback"));
    drop(b);
    drop(api);
}
