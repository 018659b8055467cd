//! Running the guard: its listeners ([`crate::listen`]: TCP or TLS, HTTP/1.1 and HTTP/2),
//! `/metrics` and `/healthz`, the probe scheduler, configuration reload on SIGHUP or file change, and shutdown on
//! SIGINT/SIGTERM that lets requests in flight finish.
//!
//! Tenant traffic is served by `server.workers` threads, each with its own single-threaded
//! event loop and its own upstream pool, as nginx's worker processes do: a request is read,
//! checked, forwarded and answered on one thread, with no wake-up of another thread on the
//! way. Connections are accepted on the runtime that called [`start`] and handed to the
//! thread with the fewest open ([`crate::listen::dispatch`]). Everything else (the admin
//! listener, probes, reloads, event delivery) runs there too.

use crate::body::RequestBody;
use crate::config::Config;
use crate::events::Sink;
use crate::gateway::{Gateway, Runtime};
use crate::listen::{Accepted, Admission, Source, Wire};
use crate::message::{Answer, RequestHead};
use crate::metrics::{Metrics, l1};
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use std::cell::Cell;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::net::TcpListener;
use tokio::sync::watch;

thread_local! {
    /// Which serving thread this is (see [`serving_thread`]).
    static SERVING: Cell<usize> = const { Cell::new(0) };
}

/// Which serving thread the calling thread is: 1 to `server.workers`, or 0 for any other
/// thread. Each serving thread uses its own upstream pool and its own shard of the
/// per-request histograms by this number.
pub fn serving_thread() -> usize {
    SERVING.with(Cell::get)
}

/// Makes the calling thread serving thread `index` (see [`serving_thread`]).
pub fn become_serving_thread(index: usize) {
    SERVING.with(|s| s.set(index));
}

/// A started guard: where it listens, and how to stop it.
pub struct Running {
    pub addr: SocketAddr,
    pub admin_addr: Option<SocketAddr>,
    pub gateway: Arc<Gateway>,
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// Stops accepting, lets requests in flight finish (up to 10 s), stops the background tasks.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(10), t).await;
        }
        self.gateway.events.flush(true);
    }
}

/// Loads the configuration and starts serving on the current Tokio runtime.
pub async fn start(config_path: &Path) -> Result<Running, String> {
    let cfg = Config::load(config_path)?;
    let metrics = Arc::new(Metrics::new(cfg.server.worker_count()));
    let events = Sink::new(
        cfg.events.stdout.unwrap_or(true),
        cfg.events.webhook.as_deref(),
        cfg.events.webhook_token()?,
        metrics.clone(),
    )?;
    let tls = match &cfg.server.tls {
        Some(t) => Some(crate::tls::acceptor(t, "server.tls")?),
        None => None,
    };
    let listener = TcpListener::bind(cfg.server.listen)
        .await
        .map_err(|e| format!("server.listen: cannot listen on {}: {e}", cfg.server.listen))?;
    let admin = match cfg.server.admin_listen {
        Some(a) => Some(
            TcpListener::bind(a)
                .await
                .map_err(|e| format!("server.admin_listen: cannot listen on {a}: {e}"))?,
        ),
        None => None,
    };
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let admin_addr = admin.as_ref().and_then(|l| l.local_addr().ok());
    let reload_seconds = cfg.server.reload_seconds;
    let workers = cfg.server.worker_count();
    let header_timeout = Duration::from_millis(cfg.server.header_timeout_ms);
    let max_connections = cfg.server.max_connections;
    let runtime = Runtime::build(cfg, None)?;
    let gateway = Arc::new(Gateway::new(runtime, metrics, events, workers)?);
    let (stop, stopped) = watch::channel(false);
    let mut tasks = serve_on_workers(
        listener,
        tls,
        gateway.clone(),
        admin.is_none(),
        &stopped,
        workers,
        Admission::new(header_timeout, max_connections),
    )?;
    if let Some(admin) = admin {
        // Its own connections: a full main listener does not stop the metrics scrapes.
        tasks.push(tokio::spawn(accept_loop(
            Source::Listener(admin),
            None,
            gateway.clone(),
            true,
            stopped.clone(),
            Admission::new(header_timeout, max_connections),
        )));
    }
    let probes = tokio::spawn(crate::probe::schedule(gateway.clone()));
    let flusher = {
        let gateway = gateway.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                gateway.events.flush(false);
            }
        })
    };
    let reload = tokio::spawn(watch_config(
        config_path.to_path_buf(),
        reload_seconds,
        gateway.clone(),
    ));
    tasks.push(tokio::spawn(async move {
        let mut stopped = stopped;
        crate::listen::until_stopped(&mut stopped).await;
        probes.abort();
        reload.abort();
        flusher.abort();
    }));
    Ok(Running {
        addr,
        admin_addr,
        gateway,
        stop,
        tasks,
    })
}

/// Runs until SIGINT or SIGTERM.
pub async fn run(config_path: &Path) -> Result<(), String> {
    let running = start(config_path).await?;
    eprintln!(
        "palisade guard: listening on {}{}, forwarding to {}",
        running.addr,
        running
            .admin_addr
            .map(|a| format!(" (metrics on {a})"))
            .unwrap_or_default(),
        running.gateway.upstream.settings.url
    );
    crate::listen::shutdown_signal().await;
    eprintln!("palisade guard: stopping; letting requests in flight finish");
    running.stop().await;
    Ok(())
}

/// Starts `workers` threads serving `listener`, each on its own current-thread runtime with
/// its own upstream pool, all under one `admission`, handed their connections by a dispatcher
/// on the current runtime. The tasks returned finish when the threads do (after `stopped`).
fn serve_on_workers(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    gateway: Arc<Gateway>,
    with_admin: bool,
    stopped: &watch::Receiver<bool>,
    workers: usize,
    admission: Admission,
) -> Result<Vec<tokio::task::JoinHandle<()>>, String> {
    let mut tasks = Vec::with_capacity(workers + 1);
    let (threads, handed): (Vec<_>, Vec<_>) = (0..workers)
        .map(|_| tokio::sync::mpsc::unbounded_channel())
        .unzip();
    tasks.push(tokio::spawn(crate::listen::dispatch(
        listener,
        threads,
        stopped.clone(),
        "palisade guard",
        admission.clone(),
    )));
    for (i, handed) in handed.into_iter().enumerate() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("server.workers: cannot start serving thread {i}: {e}"))?;
        let source = Source::Handed(handed);
        let (tls, gateway, stopped) = (tls.clone(), gateway.clone(), stopped.clone());
        let admission = admission.clone();
        let (done, finished) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name(format!("guard-{i}"))
            .spawn(move || {
                become_serving_thread(i + 1);
                runtime.block_on(accept_loop(
                    source, tls, gateway, with_admin, stopped, admission,
                ));
                drop(runtime);
                let _ = done.send(());
            })
            .map_err(|e| format!("server.workers: cannot start serving thread {i}: {e}"))?;
        tasks.push(tokio::spawn(async move {
            let _ = finished.await;
        }));
    }
    Ok(tasks)
}

/// Serves the guard (or, on the admin listener, only `/metrics` and `/healthz`): HTTP/1.1 on
/// the guard's own server ([`crate::http1::server`]), HTTP/2 on hyper's.
async fn accept_loop(
    source: Source,
    tls: Option<tokio_rustls::TlsAcceptor>,
    gateway: Arc<Gateway>,
    admin: bool,
    stopped: watch::Receiver<bool>,
    admission: Admission,
) {
    let header_timeout = admission.header_timeout;
    let serve = move |c: Accepted| {
        let gateway = gateway.clone();
        async move {
            match c.wire {
                Wire::Http1 => {
                    let cn = c.client_cn;
                    let handler = |head, body| answer(&gateway, admin, head, body, cn.clone());
                    let refused = |status, reason, message: &str| {
                        gateway.refused_unread(status, reason, message);
                    };
                    crate::http1::server::serve(
                        c.stream,
                        header_timeout,
                        handler,
                        refused,
                        c.stopped,
                    )
                    .await
                }
                Wire::Http2 => {
                    let handler = move |req: Request<Incoming>, cn| {
                        let gateway = gateway.clone();
                        let (parts, body) = req.into_parts();
                        let head = RequestHead::from_parts(parts);
                        async move {
                            answer(&gateway, admin, head, body, cn)
                                .await
                                .into_response()
                        }
                    };
                    crate::listen::serve_hyper(c, header_timeout, handler).await
                }
            }
        }
    };
    crate::listen::serve_connections(source, tls, serve, stopped, "palisade guard", admission)
        .await;
}

/// One request to the guard, or to its admin listener.
async fn answer<B: RequestBody>(
    gateway: &Gateway,
    admin: bool,
    head: RequestHead,
    body: B,
    cn: Option<String>,
) -> Answer {
    match (admin, head.uri.path()) {
        (true, "/metrics") => metrics_response(gateway),
        (true, "/healthz") => health_response(gateway),
        _ => gateway.handle(head, body, cn).await,
    }
}

fn metrics_response(gateway: &Gateway) -> Answer {
    let mut r = Answer::new(StatusCode::OK, gateway.metrics.render());
    r.headers.insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        ),
    );
    r
}

fn health_response(gateway: &Gateway) -> Answer {
    let open = gateway.upstream.breaker_open();
    Answer::json(
        if open {
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            StatusCode::OK
        },
        &serde_json::json!({
            "status": if open { "upstream circuit open" } else { "ok" },
            "upstream": gateway.upstream.settings.url,
        }),
    )
}

/// Reloads tenants, limits and models when the file changes (checked every `seconds`) or on
/// SIGHUP. A file that does not load leaves the running configuration in place.
async fn watch_config(path: PathBuf, seconds: u64, gateway: Arc<Gateway>) {
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    let mut seen = modified(&path);
    let period = Duration::from_secs(seconds.max(1));
    loop {
        let hup_fired = async {
            match &mut hup {
                Some(h) => {
                    h.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        let forced = tokio::select! {
            _ = tokio::time::sleep(period), if seconds > 0 => false,
            _ = hup_fired => true,
        };
        let now = modified(&path);
        if !forced && now == seen {
            continue;
        }
        seen = now;
        reload(&path, &gateway);
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Applies a new configuration; what cannot change without a restart is reported and kept.
pub fn reload(path: &Path, gateway: &Gateway) {
    let current = gateway.current();
    let result = Config::load(path).and_then(|cfg| {
        let old = &current.cfg;
        let mut kept = Vec::new();
        if cfg.server.listen != old.server.listen
            || cfg.server.admin_listen != old.server.admin_listen
            || cfg.server.workers != old.server.workers
        {
            kept.push("server.listen / server.admin_listen / server.workers");
        }
        if cfg.upstream.url != old.upstream.url || cfg.upstream.protocol != old.upstream.protocol {
            kept.push("upstream");
        }
        if cfg.redis.as_ref().map(|r| &r.url) != old.redis.as_ref().map(|r| &r.url) {
            kept.push("redis");
        }
        if !kept.is_empty() {
            eprintln!(
                "palisade guard: {}: changes to {} take effect after a restart",
                path.display(),
                kept.join(", ")
            );
        }
        let mut cfg = cfg;
        cfg.server = old.server.clone();
        cfg.upstream = old.upstream.clone();
        cfg.redis = old.redis.clone();
        Runtime::build(cfg, Some(&current))
    });
    match result {
        Ok(rt) => {
            *gateway.runtime.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(rt);
            gateway
                .metrics
                .reloads
                .get_or_create(&l1("result", "ok"))
                .inc();
            eprintln!(
                "palisade guard: configuration reloaded from {}",
                path.display()
            );
        }
        Err(e) => {
            gateway
                .metrics
                .reloads
                .get_or_create(&l1("result", "error"))
                .inc();
            eprintln!("palisade guard: configuration not reloaded, keeping the running one: {e}");
        }
    }
}
