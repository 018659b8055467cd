//! Where events go: JSON lines on stdout and, optionally, a webhook (`palisade respond serve`
//! or any collector). The request path never waits for either: the webhook has a bounded
//! queue whose overflow is counted, and a flood does not become an event flood — repeats of
//! the same rule for the same tenant and model within a second are folded into one event
//! whose `details.suppressed` counts the others. The `palisade_guard_events_total` metric
//! counts every occurrence.

use crate::metrics::{Metrics, l2};
use palisade_core::Event;
use palisade_core::event::Action;
use std::collections::HashMap;
use std::io::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

pub const SOURCE: &str = "palisade-guard";
const FOLD_WINDOW: Duration = Duration::from_secs(1);

/// Events are folded per rule, tenant and model.
type FoldKey = (String, Option<String>, Option<String>);

struct Fold {
    since: Instant,
    /// Occurrences not written yet, and the latest of them.
    pending: u64,
    latest: Option<Event>,
}

pub struct Sink {
    stdout: bool,
    webhook: Option<mpsc::Sender<Vec<u8>>>,
    metrics: Arc<Metrics>,
    folds: Mutex<HashMap<FoldKey, Fold>>,
}

impl Sink {
    /// Starts the webhook sender (on the current Tokio runtime) when a URL is given.
    pub fn new(
        stdout: bool,
        webhook: Option<&str>,
        token: Option<String>,
        metrics: Arc<Metrics>,
    ) -> Result<Sink, String> {
        let webhook = match webhook {
            Some(url) => {
                let uri: hyper::Uri = url.parse().map_err(|e| format!("events.webhook: {e}"))?;
                let auth = token
                    .map(|t| hyper::header::HeaderValue::from_str(&format!("Bearer {t}")))
                    .transpose()
                    .map_err(
                        |_| "events.webhook_token_env: the token is not a valid header value",
                    )?;
                let (tx, rx) = mpsc::channel(1024);
                tokio::spawn(deliver(uri, auth, rx));
                Some(tx)
            }
            None => None,
        };
        Ok(Sink {
            stdout,
            webhook,
            metrics,
            folds: Mutex::new(HashMap::new()),
        })
    }

    /// Writes an event about one request. Within a second of the last one written for the
    /// same rule, tenant and model it is held back; the next one written (or [`Sink::flush`])
    /// carries the number held back in `details.suppressed`.
    pub fn request(&self, event: Event) {
        self.count(&event);
        let key = (
            event.rule.clone(),
            event.tenant.clone(),
            event.model.clone(),
        );
        let now = Instant::now();
        let pending = {
            let mut folds = self.folds.lock().unwrap_or_else(|e| e.into_inner());
            match folds.get_mut(&key) {
                Some(fold) if now.duration_since(fold.since) < FOLD_WINDOW => {
                    fold.pending += 1;
                    fold.latest = Some(event);
                    return;
                }
                Some(fold) => {
                    fold.since = now;
                    fold.latest = None;
                    std::mem::take(&mut fold.pending)
                }
                None => {
                    let fold = Fold {
                        since: now,
                        pending: 0,
                        latest: None,
                    };
                    folds.insert(key, fold);
                    0
                }
            }
        };
        self.write(&with_suppressed(event, pending));
    }

    /// Writes what folding held back for longer than the fold window (called every second,
    /// and at shutdown with `all`).
    pub fn flush(&self, all: bool) {
        let now = Instant::now();
        let due: Vec<Event> = {
            let mut folds = self.folds.lock().unwrap_or_else(|e| e.into_inner());
            folds.retain(|_, f| f.pending > 0 || now.duration_since(f.since) < 10 * FOLD_WINDOW);
            folds
                .values_mut()
                .filter(|f| f.pending > 0 && (all || now.duration_since(f.since) >= FOLD_WINDOW))
                .filter_map(|f| {
                    let n = std::mem::take(&mut f.pending);
                    f.since = now;
                    f.latest.take().map(|e| with_suppressed(e, n - 1))
                })
                .collect()
        };
        for e in &due {
            self.write(e);
        }
    }

    /// Writes an alarm about the workload (probe, drift, upstream), never folded.
    pub fn alarm(&self, event: Event) {
        self.count(&event);
        self.write(&event);
    }

    fn count(&self, event: &Event) {
        self.metrics
            .events
            .get_or_create(&l2("rule", &event.rule, "action", event.action.as_str()))
            .inc();
    }

    fn write(&self, event: &Event) {
        let line = event.to_json().to_string();
        if self.stdout {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{line}");
        }
        if let Some(tx) = &self.webhook
            && tx.try_send(line.into_bytes()).is_err()
        {
            self.metrics.events_dropped.inc();
        }
    }
}

/// POSTs queued events one by one; a failed delivery is reported on stderr and dropped.
async fn deliver(
    uri: hyper::Uri,
    auth: Option<hyper::header::HeaderValue>,
    mut rx: mpsc::Receiver<Vec<u8>>,
) {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Full<bytes::Bytes>>();
    while let Some(body) = rx.recv().await {
        let mut req = hyper::Request::post(uri.clone())
            .header(hyper::header::CONTENT_TYPE, "application/json");
        if let Some(a) = &auth {
            req = req.header(hyper::header::AUTHORIZATION, a.clone());
        }
        let req = req.body(http_body_util::Full::new(bytes::Bytes::from(body)));
        let Ok(req) = req else { continue };
        match tokio::time::timeout(Duration::from_secs(5), client.request(req)).await {
            Ok(Ok(resp)) if resp.status().is_success() => {}
            Ok(Ok(resp)) => eprintln!("palisade guard: event webhook answered {}", resp.status()),
            Ok(Err(e)) => eprintln!("palisade guard: event webhook: {e}"),
            Err(_) => eprintln!("palisade guard: event webhook did not answer within 5 s"),
        }
    }
}

fn with_suppressed(event: Event, n: u64) -> Event {
    if n > 0 {
        event.detail("suppressed", n)
    } else {
        event
    }
}

/// `Event::new` with the guard as its source.
pub fn event(rule: &palisade_core::RuleMeta, action: Action, message: impl Into<String>) -> Event {
    Event::new(SOURCE, rule, action, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejected(tenant: &str) -> Event {
        event(&crate::rules::rate_limited::RULE, Action::Rejected, "over").tenant(Some(tenant))
    }

    #[tokio::test]
    async fn a_flood_becomes_few_events_that_still_count_every_request() {
        let metrics = Arc::new(Metrics::new(1));
        let sink = Sink::new(false, None, None, metrics.clone()).unwrap();
        for _ in 0..1000 {
            sink.request(rejected("b"));
        }
        sink.request(rejected("a"));
        let folds = sink.folds.lock().unwrap();
        assert_eq!(folds.len(), 2);
        let b = folds.values().find(|f| {
            f.latest
                .as_ref()
                .is_some_and(|e| e.tenant.as_deref() == Some("b"))
        });
        assert_eq!(b.unwrap().pending, 999);
        drop(folds);
        sink.flush(true);
        assert!(sink.folds.lock().unwrap().values().all(|f| f.pending == 0));
        let text = metrics.render();
        assert!(
            text.contains(r#"palisade_guard_events_total{rule="GRD002",action="rejected"} 1001"#),
            "{text}"
        );
    }
}
