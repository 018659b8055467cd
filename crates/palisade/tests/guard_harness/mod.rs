//! What the guard's end-to-end tests share: the real Flask model server from examples/guard
//! (Python with Flask and scikit-learn: `.venv-guard`, made by scripts/test, or
//! `GUARD_PYTHON`), the guard binary as a child process, and a small HTTP/1.1 client.
//! Every process binds loopback on a free port and is killed when its handle drops.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

#[path = "../common/mod.rs"]
mod common;
#[allow(unused_imports)]
pub use common::{repo, shared, tempdir};

pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("GUARD_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = repo().join(".venv-guard/bin/python");
    assert!(
        venv.exists(),
        "the guard tests need Python with Flask and scikit-learn: run scripts/test (it makes \
         .venv-guard) or set GUARD_PYTHON"
    );
    venv
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Kills the process when dropped.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Polls `GET path` until it answers (any status) or `secs` pass.
pub fn wait_http(addr: SocketAddr, path: &str, secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if request(addr, "GET", path, &[], b"").is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("nothing answered on http://{addr}{path} within {secs} s");
}

/// The digits data every test uses, prepared once: prepare.py's files and the profile.
pub fn data() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("guard-data-{}", std::process::id()));
        let st = Command::new(python())
            .arg(repo().join("examples/guard/prepare.py"))
            .arg(&dir)
            .current_dir(repo().join("examples/guard"))
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(st.success(), "prepare.py failed");
        let st = Command::new(env!("CARGO_BIN_EXE_palisade"))
            .args(["guard", "profile", "--data"])
            .arg(dir.join("train.csv"))
            .arg("--predictions")
            .arg(dir.join("predictions.csv"))
            .arg("--out")
            .arg(dir.join("digits.profile.json"))
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(st.success(), "palisade guard profile failed");
        dir
    })
}

/// Rows from prepare.py's `clean.json` or `adversarial.json`.
pub fn rows(name: &str) -> Vec<Vec<f64>> {
    serde_json::from_value(prepared(name)["rows"].take()).unwrap()
}

/// Those rows and the true digit of each, read from the file once.
pub fn labelled_rows(name: &str) -> (Vec<Vec<f64>>, Vec<u8>) {
    let mut v = prepared(name);
    let rows = serde_json::from_value(v["rows"].take()).unwrap();
    (rows, serde_json::from_value(v["labels"].take()).unwrap())
}

fn prepared(name: &str) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(data().join(name)).unwrap()).unwrap()
}

pub struct ModelServer {
    pub addr: SocketAddr,
    _proc: Proc,
}

impl ModelServer {
    pub fn start(variant: &str, delay_ms: u32) -> ModelServer {
        Self::start_on(free_port(), variant, delay_ms)
    }

    pub fn start_on(port: u16, variant: &str, delay_ms: u32) -> ModelServer {
        let child = Command::new(python())
            .arg(repo().join("examples/guard/server.py"))
            .args(["--port", &port.to_string(), "--variant", variant])
            .args(["--delay-ms", &delay_ms.to_string()])
            .current_dir(repo().join("examples/guard"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let proc = Proc(child);
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        wait_http(addr, "/health", 60);
        ModelServer { addr, _proc: proc }
    }
}

pub struct Guard {
    pub addr: SocketAddr,
    pub admin: SocketAddr,
    pub config: PathBuf,
    events: Arc<Mutex<Vec<serde_json::Value>>>,
    log: Arc<Mutex<Vec<String>>>,
    _proc: Proc,
}

pub const KEY_A: &str = "key-of-tenant-a";
pub const KEY_B: &str = "key-of-tenant-b";

/// A guard config: `[server]` on free ports, the upstream, tenants a and b (b's limits from
/// `tenant_b`), then `rest` verbatim (models, limits…).
pub fn config(upstream: SocketAddr, protocol: &str, tenant_b: &str, rest: &str) -> String {
    let hash = palisade_guard::tenant::hash_key;
    format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nadmin_listen = \"127.0.0.1:0\"\nreload_seconds = 1\n\n\
         [upstream]\nurl = \"http://{upstream}\"\nprotocol = \"{protocol}\"\ntimeout_ms = 3000\n\
         breaker_failures = 3\nbreaker_open_ms = 60000\n\n\
         [[tenants]]\nname = \"a\"\napi_key_sha256 = \"{}\"\n\n\
         [[tenants]]\nname = \"b\"\napi_key_sha256 = \"{}\"\n{tenant_b}\n\n{rest}",
        hash(KEY_A),
        hash(KEY_B)
    )
}

/// The digits model's `[[models]]` entry (profile from [`data`]), for any protocol.
pub fn digits_model(protocol: &str, extra: &str) -> String {
    let json = if protocol == "json" {
        "route = \"/predict\"\ninput = \"/features\"\noutput = \"/predictions\"\n"
    } else {
        ""
    };
    format!(
        "[[models]]\nname = \"digits\"\n{json}profile = \"{}\"\n{extra}",
        data().join("digits.profile.json").display()
    )
}

impl Guard {
    /// Writes `config` to a fresh directory and starts `palisade guard run` on it.
    pub fn start(config: &str) -> Guard {
        Guard::start_with_env(config, &[])
    }

    /// As `start`, with extra environment variables for the guard process.
    pub fn start_with_env(config: &str, env: &[(&str, &str)]) -> Guard {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "guard-{}-{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("guard.toml");
        std::fs::write(&path, config).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_palisade"))
            .args(["guard", "run", "--config"])
            .arg(&path)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let proc = Proc(child);
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink = events.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let v = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("guard stdout line is not an event ({e}): {line}"));
                sink.lock().unwrap().push(v);
            }
        });
        let (tx, rx) = std::sync::mpsc::channel();
        let log = Arc::new(Mutex::new(Vec::new()));
        let log_sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("listening on") {
                    let _ = tx.send(line.clone());
                }
                log_sink.lock().unwrap().push(line);
            }
            let _ = tx.send(String::new());
        });
        let line = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_default();
        assert!(
            line.contains("listening on"),
            "the guard did not start: {:?}",
            log.lock().unwrap()
        );
        // "palisade guard: listening on A (metrics on B), forwarding to U"
        let words: Vec<&str> = line.split_whitespace().collect();
        let addr = words[4].trim_end_matches(',').parse().unwrap();
        let admin = words[7].trim_end_matches([')', ',']).parse().unwrap();
        Guard {
            addr,
            admin,
            config: path,
            events,
            log,
            _proc: proc,
        }
    }

    pub fn events(&self) -> Vec<serde_json::Value> {
        self.events.lock().unwrap().clone()
    }

    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// Waits up to `secs` for an event satisfying `pred`.
    pub fn wait_event(
        &self,
        secs: u64,
        pred: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(e) = self.events().into_iter().find(|e| pred(e)) {
                return e;
            }
            assert!(
                Instant::now() < deadline,
                "no such event within {secs} s; events: {:#?}",
                self.events()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn metrics(&self) -> String {
        let r = request(self.admin, "GET", "/metrics", &[], b"").unwrap();
        assert_eq!(r.status, 200);
        r.text()
    }

    /// The value of one series in /metrics (exact name with labels), if present.
    pub fn metric(&self, series: &str) -> Option<f64> {
        self.metrics().lines().find_map(|l| {
            let (name, value) = l.rsplit_once(' ')?;
            (name == series).then(|| value.parse().ok())?
        })
    }

    /// POSTs JSON as tenant `key` (None: no credential).
    pub fn post(&self, path: &str, key: Option<&str>, body: &serde_json::Value) -> Response {
        post(self.addr, path, key, body.to_string().as_bytes())
    }
}

pub fn post(addr: SocketAddr, path: &str, key: Option<&str>, body: &[u8]) -> Response {
    let auth = key.map(|k| format!("Bearer {k}"));
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(a) = &auth {
        headers.push(("Authorization", a.as_str()));
    }
    request(addr, "POST", path, &headers, body).unwrap()
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    /// The `error` of a refusal's JSON body.
    pub fn error(&self) -> String {
        let v = self.json();
        v["error"]
            .as_str()
            .unwrap_or_else(|| panic!("no error in {v}"))
            .to_string()
    }
}

/// One HTTP/1.1 request on a new connection (`Connection: close`), with a 15 s timeout.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Response> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(15)))?;
    send(&mut s, method, path, headers, body, true)?;
    read_response(&mut BufReader::new(s))
}

pub fn send(
    s: &mut TcpStream,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    close: bool,
) -> std::io::Result<()> {
    // `Host: test` unless the caller names one (chromedriver only answers `localhost`).
    let host = if headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        String::new()
    } else {
        "Host: test\r\n".to_string()
    };
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\n{host}Content-Length: {}\r\n",
        body.len()
    );
    if close {
        req.push_str("Connection: close\r\n");
    }
    for (n, v) in headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes())?;
    s.write_all(body)
}

pub fn read_response(r: &mut BufReader<TcpStream>) -> std::io::Result<Response> {
    let mut line = String::new();
    r.read_line(&mut line)?;
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
    let mut headers = Vec::new();
    loop {
        line.clear();
        r.read_line(&mut line)?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((n, v)) = l.split_once(':') {
            headers.push((n.trim().to_string(), v.trim().to_string()));
        }
    }
    let len = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok());
    let mut body = Vec::new();
    match len {
        Some(n) => {
            body.resize(n, 0);
            r.read_exact(&mut body)?;
        }
        None => {
            r.read_to_end(&mut body)?;
        }
    }
    Ok(Response {
        status,
        headers,
        body,
    })
}

/// The bearer token test senders use with [`Respond`].
pub const RESPOND_TOKEN: &str = "test-ingest-token";

/// `palisade respond serve` on a loopback port, its database in `dir`.
pub struct Respond {
    pub proc: Proc,
    pub addr: SocketAddr,
    pub db: PathBuf,
}

impl Respond {
    pub fn start(dir: &Path, port: u16) -> Respond {
        let r = Respond::start_with(dir, port, "", "");
        wait_http(r.addr, "/healthz", 20);
        r
    }

    /// Starts it with more top-level keys (`top`) and configuration tables (`extra`, after
    /// the sender `test` and the model `digits`), and waits only until the port accepts
    /// connections.
    pub fn start_with(dir: &Path, port: u16, top: &str, extra: &str) -> Respond {
        let hash = palisade_guard::tenant::hash_key(RESPOND_TOKEN);
        let config = dir.join("respond.toml");
        std::fs::write(
            &config,
            format!(
                "listen = \"127.0.0.1:{port}\"\ndb = \"ir.db\"\nmax_body_bytes = 65536\n{top}\
                 [[senders]]\nname = \"test\"\ntoken_sha256 = \"{hash}\"\n\
                 [models]\ndigits = {{ namespace = \"ml\", name = \"digits\" }}\n{extra}"
            ),
        )
        .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_palisade"))
            .args(["respond", "serve", "--config"])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let proc = Proc(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(addr).is_err() {
            assert!(
                Instant::now() < deadline,
                "palisade respond serve did not listen on {addr} within 20 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Respond {
            proc,
            addr,
            db: dir.join("ir.db"),
        }
    }
}

/// A tool installed from Debian (scripts/test installs them).
pub fn tool(name: &str) -> PathBuf {
    for dir in ["/usr/bin", "/usr/sbin", "/usr/local/bin"] {
        let p = Path::new(dir).join(name);
        if p.exists() {
            return p;
        }
    }
    panic!("{name} is not installed: scripts/test installs it (apt-get)");
}

pub fn openssl(dir: &Path, args: &[&str]) {
    run_ok(Command::new(tool("openssl")).args(args).current_dir(dir));
}

/// Runs a command that must succeed; its output is shown when it does not.
pub fn run_ok(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, a server certificate for 127.0.0.1 and client certificates for CN=a and CN=intruder
/// (the intruder's from another CA).
pub fn certificates(dir: &Path) {
    // A new P-256 key NAME.key and, for it, OUT: a request, or with -x509 a self-signed CA.
    let new_key = |x509: &[&str], name: &str, out: &str, cn: &str| {
        let (key, subject) = (format!("{name}.key"), format!("/CN={cn}"));
        let mut args = vec!["req"];
        args.extend(x509);
        args.extend([
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ]);
        args.extend(["-keyout", &key, "-out", out, "-subj", &subject]);
        openssl(dir, &args);
    };
    for (ca, cn) in [("ca", "guard test CA"), ("other-ca", "someone else")] {
        new_key(&["-x509", "-days", "2"], ca, &format!("{ca}.pem"), cn);
    }
    std::fs::write(dir.join("server.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    std::fs::write(dir.join("client.ext"), "extendedKeyUsage=clientAuth\n").unwrap();
    for (name, cn, ca, ext) in [
        ("server", "127.0.0.1", "ca", "server.ext"),
        ("client-a", "a", "ca", "client.ext"),
        ("intruder", "a", "other-ca", "client.ext"),
    ] {
        let csr = format!("{name}.csr");
        new_key(&[], name, &csr, cn);
        let (ca_pem, ca_key, pem) = (
            format!("{ca}.pem"),
            format!("{ca}.key"),
            format!("{name}.pem"),
        );
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                &ca_pem,
                "-CAkey",
                &ca_key,
                "-CAcreateserial",
                "-out",
                &pem,
                "-days",
                "2",
                "-extfile",
                ext,
            ],
        );
    }
}

/// POSTs JSON with curl over HTTPS (HTTP/2), trusting `dir/ca.pem`, with a client certificate
/// from `dir` (`client-a.pem` and its `.key`) and a bearer token when given. Returns curl's
/// `"STATUS HTTP_VERSION"` (`"000 0"` when the handshake failed).
pub fn curl_https(
    dir: &Path,
    url: &str,
    body: &str,
    cert: Option<&str>,
    token: Option<&str>,
) -> String {
    curl_https_over("--http2", dir, url, body, cert, token)
}

/// [`curl_https`] with curl's HTTP version option (`--http2`, `--http1.1`).
pub fn curl_https_over(
    version: &str,
    dir: &Path,
    url: &str,
    body: &str,
    cert: Option<&str>,
    token: Option<&str>,
) -> String {
    let mut c = Command::new(tool("curl"));
    c.args([
        "-s",
        version,
        "-o",
        "/dev/null",
        "-w",
        "%{http_code} %{http_version}",
    ])
    .args(["--max-time", "10", "--cacert"])
    .arg(dir.join("ca.pem"))
    .args([
        "-H",
        "Content-Type: application/json",
        "--data-binary",
        body,
    ]);
    if let Some(cert) = cert {
        c.arg("--cert")
            .arg(dir.join(cert))
            .arg("--key")
            .arg(dir.join(cert.replace(".pem", ".key")));
    }
    if let Some(t) = token {
        c.args(["-H", &format!("Authorization: Bearer {t}")]);
    }
    c.arg(url);
    String::from_utf8_lossy(&c.output().unwrap().stdout).into_owned()
}

/// Connects to `addr` with a 15 s read timeout and sends `bytes` (a head, part of one, or
/// nothing), leaving the connection open.
pub fn connect_and_send(addr: SocketAddr, bytes: &[u8]) -> TcpStream {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    s.write_all(bytes).unwrap();
    s
}

/// Whether the server has closed `s`: reads to the end, failing on the 15 s read timeout
/// (a server that holds the connection) or on bytes it should not have sent.
pub fn closed_by_server(mut s: TcpStream) -> bool {
    let mut rest = Vec::new();
    match s.read_to_end(&mut rest) {
        Ok(_) => rest.is_empty(),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => rest.is_empty(),
        Err(_) => false,
    }
}
