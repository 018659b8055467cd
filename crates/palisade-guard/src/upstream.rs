//! The hop to the model server: a bounded connection pool, a bound on requests in flight
//! (waiting at most `queue_timeout_ms` for a slot), a deadline on every request, and a circuit
//! breaker. Every failure becomes a [`Failure`] with the status the client gets — 502, 503 or
//! 504 — never a hang.
//!
//! Each serving thread has its own connection pool (by [`crate::server::serving_thread`]): a
//! pooled connection is registered with the event loop of the thread that opened it, and so
//! is its deadline timer, so sharing one pool between threads would hand every request to
//! another thread and back. (A connection whose event loop has ended is never taken again: it
//! is not quiet.) The exchange itself is [`crate::http1`].

use crate::config::Upstream as Settings;
use crate::http1::{self, Pool, Target};
use bytes::Bytes;
use hyper::Method;
use hyper::http::uri::PathAndQuery;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// Connections the probes' pool keeps open between requests: the probes send one request
/// per model, on a schedule.
const PROBE_IDLE: usize = 4;

/// Largest response the guard reads back from the model server.
pub const MAX_RESPONSE_BYTES: usize = 64 << 20;

#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    Connect(String),
    Timeout,
    BreakerOpen,
    QueueFull,
    TooLarge,
    BadResponse(String),
}

impl Failure {
    pub fn status(&self) -> hyper::StatusCode {
        use hyper::StatusCode as S;
        match self {
            Failure::Connect(_) | Failure::TooLarge | Failure::BadResponse(_) => S::BAD_GATEWAY,
            Failure::Timeout => S::GATEWAY_TIMEOUT,
            Failure::BreakerOpen | Failure::QueueFull => S::SERVICE_UNAVAILABLE,
        }
    }

    /// The metric label.
    pub fn kind(&self) -> &'static str {
        match self {
            Failure::Connect(_) => "connect",
            Failure::Timeout => "timeout",
            Failure::BreakerOpen => "breaker_open",
            Failure::QueueFull => "queue_full",
            Failure::TooLarge => "response_too_large",
            Failure::BadResponse(_) => "bad_response",
        }
    }

    pub fn message(&self, s: &Settings) -> String {
        match self {
            Failure::Connect(e) => format!("the model server could not be reached: {e}"),
            Failure::Timeout => {
                format!("the model server did not answer within {} ms", s.timeout_ms)
            }
            Failure::BreakerOpen => format!(
                "the model server failed {} times in a row; requests are refused for {} ms",
                s.breaker_failures, s.breaker_open_ms
            ),
            Failure::QueueFull => format!(
                "{} requests are already in flight to the model server; none finished within {} ms",
                s.max_connections, s.queue_timeout_ms
            ),
            Failure::TooLarge => {
                format!("the model server's response is larger than {MAX_RESPONSE_BYTES} bytes")
            }
            Failure::BadResponse(e) => {
                format!("the model server's answer is not valid HTTP/1.1: {e}")
            }
        }
    }
}

impl From<http1::Error> for Failure {
    fn from(e: http1::Error) -> Failure {
        match e {
            http1::Error::Connect(e) => Failure::Connect(e),
            http1::Error::BadResponse(e) => Failure::BadResponse(e),
            http1::Error::TooLarge => Failure::TooLarge,
            http1::Error::TimedOut => Failure::Timeout,
        }
    }
}

pub struct Answer {
    pub status: hyper::StatusCode,
    /// Its end-to-end fields.
    pub fields: crate::message::Fields,
    pub body: Bytes,
    pub elapsed: Duration,
}

/// The circuit breaker's state, kept under [`Breaker`]'s lock.
#[derive(Debug, Default)]
struct BreakerState {
    failures: u32,
    open_until: Option<Instant>,
    trial: bool,
}

/// The circuit breaker: its state under a lock, and two flags that mirror it, written only
/// under the lock and read without it. While the model server answers, a request reads
/// `clean` before it is sent and again after, and takes no lock the serving threads share.
struct Breaker {
    state: Mutex<BreakerState>,
    /// No failure counted since the last success, and not open.
    clean: AtomicBool,
    /// Open or half-open: `open_until` is set.
    open: AtomicBool,
}

impl Breaker {
    fn new() -> Breaker {
        Breaker {
            state: Mutex::default(),
            clean: AtomicBool::new(true),
            open: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BreakerState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets the flags from `state` (held under the lock).
    fn mirror(&self, state: &BreakerState) {
        let open = state.open_until.is_some();
        self.open.store(open, Ordering::Release);
        self.clean
            .store(state.failures == 0 && !open, Ordering::Release);
    }
}

pub struct Upstream {
    pub settings: Settings,
    target: Target,
    /// `upstream.url`'s path without its trailing `/`: what every forwarded path is put under.
    prefix: String,
    /// One per serving thread, and one (index 0) for everything else.
    pools: Vec<Pool>,
    slots: Semaphore,
    breaker: Breaker,
}

impl Upstream {
    /// `threads`: the serving threads that each get their own pool (see
    /// [`crate::server::serving_thread`]).
    pub fn new(settings: &Settings, threads: usize) -> Result<Upstream, String> {
        let base: hyper::Uri = settings
            .url
            .parse()
            .map_err(|e| format!("upstream.url: {e}"))?;
        let authority = base
            .authority()
            .cloned()
            .ok_or_else(|| format!("upstream.url: '{}' names no host", settings.url))?;
        // The serving threads' pools share `max_connections` for the connections they keep
        // open between requests, as they share the slots for requests in flight: each keeps
        // as many as it has in flight when the load is even (the dispatcher hands each new
        // connection to the thread with the fewest). A smaller share closed connections a
        // thread went on to need, and opened new ones, under a load well within the limit.
        // The probes' pool (the first, on the main runtime) keeps a few.
        let share = settings.max_connections.div_ceil(threads.max(1));
        Ok(Upstream {
            settings: settings.clone(),
            target: Target::new(
                &authority,
                Duration::from_millis(settings.connect_timeout_ms),
            )
            .map_err(|e| format!("upstream.url: {e}"))?,
            prefix: base.path().trim_end_matches('/').to_string(),
            pools: (0..=threads)
                .map(|i| {
                    let idle = if i == 0 { share.min(PROBE_IDLE) } else { share };
                    Pool::new(idle, MAX_RESPONSE_BYTES)
                })
                .collect(),
            slots: Semaphore::new(settings.max_connections),
            breaker: Breaker::new(),
        })
    }

    pub fn breaker_open(&self) -> bool {
        self.breaker.open.load(Ordering::Acquire)
    }

    /// The request target on the model server for a path-and-query of the guard's own
    /// making (probes, schema lookups): under `upstream.url`'s path, checked to be one.
    pub fn path(&self, path_and_query: &str) -> Result<String, String> {
        let pq = format!("{}{path_and_query}", self.prefix);
        pq.parse::<PathAndQuery>()
            .map_err(|e| format!("{pq}: {e}"))?;
        Ok(pq)
    }

    /// Where a client's request goes on the model server: its path and query (already
    /// parsed, so valid), under `upstream.url`'s path.
    pub fn forward_path<'a>(&self, client: &'a hyper::Uri) -> std::borrow::Cow<'a, str> {
        let pq = client.path_and_query().map_or("/", PathAndQuery::as_str);
        if self.prefix.is_empty() {
            return pq.into();
        }
        let mut path = String::with_capacity(self.prefix.len() + pq.len());
        path.push_str(&self.prefix);
        path.push_str(pq);
        path.into()
    }

    /// Sends one request (`path`: from [`Upstream::path`] or [`Upstream::forward_path`]) and
    /// reads the whole answer, within every limit.
    /// `fields`: the header fields to send, as (name, value).
    pub async fn send<'a>(
        &self,
        method: &Method,
        path: &str,
        fields: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
        body: &[u8],
    ) -> Result<Answer, Failure> {
        self.admit()?;
        // A free slot is taken at once; only a wait for one needs a timer.
        let _permit = match self.slots.try_acquire() {
            Ok(p) => p,
            Err(_) => {
                let wait = Duration::from_millis(self.settings.queue_timeout_ms);
                match tokio::time::timeout(wait, self.slots.acquire()).await {
                    Ok(Ok(p)) => p,
                    _ => {
                        self.release_trial();
                        return Err(Failure::QueueFull);
                    }
                }
            }
        };
        let start = Instant::now();
        let deadline =
            tokio::time::Instant::from_std(start) + Duration::from_millis(self.settings.timeout_ms);
        // Serving thread `i` uses pool `i`; any other thread (and one beyond `threads`), 0.
        let pool = crate::server::serving_thread();
        let pool = self.pools.get(pool).unwrap_or(&self.pools[0]);
        let result = pool
            .exchange(&self.target, method, path, fields, body, deadline)
            .await
            .map(|reply| Answer {
                status: reply.status,
                fields: reply.fields,
                body: reply.body,
                elapsed: start.elapsed(),
            })
            .map_err(Failure::from);
        let failed = match &result {
            Err(_) => true,
            Ok(a) => matches!(a.status.as_u16(), 502..=504),
        };
        self.record(!failed);
        result
    }

    fn admit(&self) -> Result<(), Failure> {
        if self.settings.breaker_failures == 0 || self.breaker.clean.load(Ordering::Acquire) {
            return Ok(());
        }
        let mut b = self.breaker.lock();
        match b.open_until {
            Some(until) if Instant::now() < until => Err(Failure::BreakerOpen),
            Some(_) if b.trial => Err(Failure::BreakerOpen),
            Some(_) => {
                // Half-open: this request is the trial.
                b.trial = true;
                Ok(())
            }
            None => Ok(()),
        }
    }

    fn release_trial(&self) {
        self.breaker.lock().trial = false;
    }

    fn record(&self, ok: bool) {
        if self.settings.breaker_failures == 0 || (ok && self.breaker.clean.load(Ordering::Acquire))
        {
            return;
        }
        let mut b = self.breaker.lock();
        b.trial = false;
        if ok {
            *b = BreakerState::default();
        } else {
            b.failures += 1;
            if b.failures >= self.settings.breaker_failures || b.open_until.is_some() {
                b.open_until =
                    Some(Instant::now() + Duration::from_millis(self.settings.breaker_open_ms));
            }
        }
        self.breaker.mirror(&b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An upstream for `url` with `extra` settings (TOML lines), for `threads` serving threads.
    fn upstream(url: &str, extra: &str, threads: usize) -> Result<Upstream, String> {
        let settings: Settings =
            toml::from_str(&format!("url = \"{url}\"\nprotocol = \"json\"\n{extra}")).unwrap();
        Upstream::new(&settings, threads)
    }

    #[tokio::test]
    async fn a_full_queue_and_a_broken_answer_are_clear_failures() {
        // A model server that takes requests and never answers, and one that answers junk.
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let junk = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (silent_addr, junk_addr) = (silent.local_addr().unwrap(), junk.local_addr().unwrap());
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((c, _)) = silent.accept().await {
                held.push(c);
            }
        });
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            while let Ok((mut c, _)) = junk.accept().await {
                let _ = c.read(&mut [0; 4096]).await;
                let _ = c
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n")
                    .await;
            }
        });
        let one_slot = |addr| {
            let extra = "max_connections = 1\nqueue_timeout_ms = 50\ntimeout_ms = 2000\n\
                         breaker_failures = 0";
            upstream(&format!("http://{addr}"), extra, 1).unwrap()
        };
        let up = std::sync::Arc::new(one_slot(silent_addr));
        let first = {
            let up = up.clone();
            tokio::spawn(async move { up.send(&Method::POST, "/predict", [], b"{}").await })
        };
        // Once the first request holds the one slot:
        while up.slots.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
        let second = up.send(&Method::POST, "/predict", [], b"{}").await;
        let Err(f) = second else {
            panic!("the second request got a slot")
        };
        assert_eq!((f.kind(), f.status().as_u16()), ("queue_full", 503));
        assert!(
            f.message(&up.settings)
                .starts_with("1 requests are already in flight"),
            "{}",
            f.message(&up.settings)
        );
        first.abort();

        let up = one_slot(junk_addr);
        let f = up
            .send(&Method::GET, "/v2/models/m", [], b"")
            .await
            .err()
            .unwrap();
        assert_eq!((f.kind(), f.status().as_u16()), ("bad_response", 502));
        assert_eq!(
            f.message(&up.settings),
            "the model server's answer is not valid HTTP/1.1: Content-Length 'x'"
        );
    }

    #[test]
    fn the_breaker_opens_on_failures_in_a_row_and_closes_on_a_trials_success() {
        let settings = "breaker_failures = 3\nbreaker_open_ms = 50";
        let up = upstream("http://127.0.0.1:9", settings, 1).unwrap();
        let open = |up: &Upstream| matches!(up.admit(), Err(Failure::BreakerOpen));
        // A success between failures starts the count again.
        for ok in [false, false, true, false, false] {
            assert!(up.admit().is_ok());
            up.record(ok);
        }
        assert!(
            !up.breaker_open() && !open(&up),
            "two failures in a row, not three"
        );
        up.record(false);
        assert!(
            up.breaker_open() && open(&up),
            "the third in a row opens it"
        );
        std::thread::sleep(Duration::from_millis(60));
        assert!(up.admit().is_ok(), "after breaker_open_ms, one trial");
        assert!(open(&up), "and only one");
        up.record(false);
        assert!(
            up.breaker_open() && open(&up),
            "a failed trial opens it again"
        );
        std::thread::sleep(Duration::from_millis(60));
        assert!(up.admit().is_ok());
        up.record(true);
        assert!(!up.breaker_open(), "a trial's success closes it");
        for _ in 0..3 {
            assert!(up.admit().is_ok());
            up.record(true);
        }
        up.record(false);
        up.record(false);
        assert!(!up.breaker_open(), "and the count starts again from zero");
    }

    #[tokio::test]
    async fn a_serving_thread_keeps_the_connections_its_share_of_the_load_needs() {
        let (addr, opened) = crate::http1::client::tests::counting_server().await;
        // At most six requests in flight, over two serving threads: three each, evenly.
        let up = upstream(&format!("http://{addr}"), "max_connections = 6", 2).unwrap();
        crate::server::become_serving_thread(1);
        let send = || up.send(&Method::POST, "/predict", [], b"{}");
        for round in 1..=3 {
            let (a, b, c) = tokio::join!(send(), send(), send());
            for answer in [a, b, c] {
                assert_eq!(answer.unwrap().status.as_u16(), 200);
            }
            assert_eq!(
                opened(),
                3,
                "round {round}: the three connections are kept and reused"
            );
        }
    }

    #[tokio::test]
    async fn a_model_server_that_stops_answering_is_a_timeout() {
        // Answers its connection's first request, then only reads.
        let server = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = server.local_addr().unwrap();
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let (mut c, _) = server.accept().await.unwrap();
            let _ = c.read(&mut [0; 4096]).await;
            let _ = c
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                .await;
            while c.read(&mut [0; 4096]).await.is_ok_and(|n| n > 0) {}
        });
        let up = upstream(&format!("http://{addr}"), "timeout_ms = 200", 1).unwrap();
        let first = up.send(&Method::POST, "/predict", [], b"{}").await;
        assert_eq!(first.unwrap().status.as_u16(), 200);
        let late = up.send(&Method::POST, "/predict", [], b"{}");
        let Err(f) = tokio::time::timeout(Duration::from_secs(5), late)
            .await
            .expect("over by the deadline")
        else {
            panic!("an answer from a server that sends none")
        };
        assert_eq!((f.kind(), f.status().as_u16()), ("timeout", 504));
        assert_eq!(
            f.message(&up.settings),
            "the model server did not answer within 200 ms"
        );
    }

    #[test]
    fn requests_go_under_the_upstream_path_with_their_query() {
        let bare = upstream("http://127.0.0.1:8501", "", 2).unwrap();
        let client: hyper::Uri = "/v1/models/m:predict?x=1".parse().unwrap();
        assert_eq!(bare.forward_path(&client), "/v1/models/m:predict?x=1");
        let prefixed = upstream("http://model:80/serving/", "", 2).unwrap();
        assert_eq!(
            prefixed.forward_path(&client),
            "/serving/v1/models/m:predict?x=1"
        );
        assert_eq!(
            prefixed.path("/v2/models/m").unwrap(),
            "/serving/v2/models/m"
        );
        let absolute: hyper::Uri = "http://elsewhere/predict".parse().unwrap();
        assert_eq!(bare.forward_path(&absolute), "/predict");
        // A path of the guard's own making is checked before it goes on a request line.
        assert!(bare.path("/v2/models/a b\r\nx: y").is_err());
    }
}
