//! The hop to the model server: a bounded connection pool, a bound on requests in flight
//! (waiting at most `queue_timeout_ms` for a slot), a deadline on every request, and a circuit
//! breaker. Every failure becomes a [`Failure`] with the status the client gets — 502, 503 or
//! 504 — never a hang.
//!
//! Each serving thread has its own connection pool ([`use_pool`]): a pooled connection is
//! driven by a task on the thread that opened it, so sharing one pool between threads would
//! hand every request to another thread and back.

use crate::config::Upstream as Settings;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::http::uri::{Authority, Parts, PathAndQuery, Scheme};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use std::cell::Cell;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

thread_local! {
    /// Which of an [`Upstream`]'s pools this thread uses (0 unless [`use_pool`] said).
    static POOL: Cell<usize> = const { Cell::new(0) };
}

/// Makes the calling thread use pool `index` of every [`Upstream`] (serving thread `index`
/// of [`Upstream::new`]'s `threads`; beyond them, pool 0).
pub fn use_pool(index: usize) {
    POOL.with(|p| p.set(index));
}

/// Largest response the guard reads back from the model server.
pub const MAX_RESPONSE_BYTES: usize = 64 << 20;

#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    Connect(String),
    Timeout,
    BreakerOpen,
    QueueFull,
    TooLarge,
}

impl Failure {
    pub fn status(&self) -> hyper::StatusCode {
        use hyper::StatusCode as S;
        match self {
            Failure::Connect(_) | Failure::TooLarge => S::BAD_GATEWAY,
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
        }
    }
}

pub struct Answer {
    pub status: hyper::StatusCode,
    pub headers: hyper::HeaderMap,
    pub body: Bytes,
    pub elapsed: Duration,
}

#[derive(Debug, Default)]
struct Breaker {
    failures: u32,
    open_until: Option<Instant>,
    trial: bool,
}

pub struct Upstream {
    pub settings: Settings,
    scheme: Scheme,
    authority: Authority,
    /// `upstream.url`'s path without its trailing `/`: what every forwarded path is put under.
    prefix: String,
    /// One per serving thread, and one (index 0) for everything else.
    clients: Vec<Client<HttpConnector, Full<Bytes>>>,
    slots: Semaphore,
    breaker: Mutex<Breaker>,
}

impl Upstream {
    /// `threads`: the serving threads that each get their own pool (see [`use_pool`]).
    pub fn new(settings: &Settings, threads: usize) -> Result<Upstream, String> {
        let base: hyper::Uri = settings
            .url
            .parse()
            .map_err(|e| format!("upstream.url: {e}"))?;
        let authority = base
            .authority()
            .cloned()
            .ok_or_else(|| format!("upstream.url: '{}' names no host", settings.url))?;
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(Duration::from_millis(settings.connect_timeout_ms)));
        connector.set_nodelay(true);
        // The pools share `max_connections` for the connections they keep open between
        // requests, as they share the slots for requests in flight.
        let idle = settings.max_connections.div_ceil(threads + 1);
        let clients = (0..=threads)
            .map(|_| {
                Client::builder(hyper_util::rt::TokioExecutor::new())
                    .pool_max_idle_per_host(idle)
                    .pool_idle_timeout(Duration::from_secs(30))
                    .build(connector.clone())
            })
            .collect();
        Ok(Upstream {
            settings: settings.clone(),
            scheme: base.scheme().cloned().unwrap_or(Scheme::HTTP),
            authority,
            prefix: base.path().trim_end_matches('/').to_string(),
            clients,
            slots: Semaphore::new(settings.max_connections),
            breaker: Mutex::new(Breaker::default()),
        })
    }

    pub fn breaker_open(&self) -> bool {
        self.breaker
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .open_until
            .is_some()
    }

    /// The URI for a path-and-query on the model server.
    pub fn uri(&self, path_and_query: &str) -> Result<hyper::Uri, String> {
        let pq = format!("{}{path_and_query}", self.prefix)
            .parse::<PathAndQuery>()
            .map_err(|e| e.to_string())?;
        self.at(pq)
    }

    /// Where a client's request goes on the model server: its path and query, under
    /// `upstream.url`'s path. Without such a path the client's, already parsed, is reused.
    pub fn forward_uri(&self, client: &hyper::Uri) -> Result<hyper::Uri, String> {
        match client.path_and_query() {
            Some(pq) if self.prefix.is_empty() => self.at(pq.clone()),
            pq => self.uri(pq.map_or("/", PathAndQuery::as_str)),
        }
    }

    fn at(&self, path_and_query: PathAndQuery) -> Result<hyper::Uri, String> {
        let mut parts = Parts::default();
        parts.scheme = Some(self.scheme.clone());
        parts.authority = Some(self.authority.clone());
        parts.path_and_query = Some(path_and_query);
        hyper::Uri::from_parts(parts).map_err(|e| e.to_string())
    }

    /// Sends one request and reads the whole answer, within every limit.
    pub async fn send(&self, req: hyper::Request<Full<Bytes>>) -> Result<Answer, Failure> {
        self.admit()?;
        let permit = tokio::time::timeout(
            Duration::from_millis(self.settings.queue_timeout_ms),
            self.slots.acquire(),
        )
        .await;
        let _permit = match permit {
            Ok(Ok(p)) => p,
            _ => {
                self.release_trial();
                return Err(Failure::QueueFull);
            }
        };
        let start = Instant::now();
        let deadline = Duration::from_millis(self.settings.timeout_ms);
        let result = tokio::time::timeout(deadline, async {
            let pool = POOL.with(Cell::get);
            let client = self.clients.get(pool).unwrap_or(&self.clients[0]);
            let resp = client
                .request(req)
                .await
                .map_err(|e| Failure::Connect(error_chain(&e)))?;
            let (parts, body) = resp.into_parts();
            let body = Limited::new(body, MAX_RESPONSE_BYTES)
                .collect()
                .await
                .map_err(|e| {
                    if e.is::<http_body_util::LengthLimitError>() {
                        Failure::TooLarge
                    } else {
                        Failure::Connect(e.to_string())
                    }
                })?
                .to_bytes();
            Ok(Answer {
                status: parts.status,
                headers: parts.headers,
                body,
                elapsed: start.elapsed(),
            })
        })
        .await
        .unwrap_or(Err(Failure::Timeout));
        let failed = match &result {
            Err(_) => true,
            Ok(a) => matches!(a.status.as_u16(), 502..=504),
        };
        self.record(!failed);
        result
    }

    fn admit(&self) -> Result<(), Failure> {
        if self.settings.breaker_failures == 0 {
            return Ok(());
        }
        let mut b = self.breaker.lock().unwrap_or_else(|e| e.into_inner());
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
        self.breaker.lock().unwrap_or_else(|e| e.into_inner()).trial = false;
    }

    fn record(&self, ok: bool) {
        if self.settings.breaker_failures == 0 {
            return;
        }
        let mut b = self.breaker.lock().unwrap_or_else(|e| e.into_inner());
        b.trial = false;
        if ok {
            *b = Breaker::default();
        } else {
            b.failures += 1;
            if b.failures >= self.settings.breaker_failures || b.open_until.is_some() {
                b.open_until =
                    Some(Instant::now() + Duration::from_millis(self.settings.breaker_open_ms));
            }
        }
    }
}

/// An error with its causes, which hyper's client nests (`client error (Connect)` alone says
/// nothing).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cause = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upstream(url: &str) -> Result<Upstream, String> {
        let settings: Settings =
            toml::from_str(&format!("url = \"{url}\"\nprotocol = \"json\"")).unwrap();
        Upstream::new(&settings, 2)
    }

    #[test]
    fn requests_go_under_the_upstream_path_with_their_query() {
        let bare = upstream("http://127.0.0.1:8501").unwrap();
        let client: hyper::Uri = "/v1/models/m:predict?x=1".parse().unwrap();
        assert_eq!(
            bare.forward_uri(&client).unwrap(),
            "http://127.0.0.1:8501/v1/models/m:predict?x=1"
        );
        let prefixed = upstream("http://model:80/serving/").unwrap();
        assert_eq!(
            prefixed.forward_uri(&client).unwrap(),
            "http://model:80/serving/v1/models/m:predict?x=1"
        );
        assert_eq!(
            prefixed.uri("/v2/models/m").unwrap(),
            "http://model:80/serving/v2/models/m"
        );
        let absolute: hyper::Uri = "http://elsewhere/predict".parse().unwrap();
        assert_eq!(
            bare.forward_uri(&absolute).unwrap(),
            "http://127.0.0.1:8501/predict"
        );
    }
}
