//! `palisade respond serve`: the ingest endpoints (and the dashboard, [`crate::dashboard`]).
//!
//! | endpoint                  | body                                                    |
//! |---------------------------|---------------------------------------------------------|
//! | `POST /ingest`            | any event Palisade reads, recognised by its fields      |
//! | `POST /ingest/falco`      | Falco's `http_output` JSON, Falcosidekick's webhook     |
//! | `POST /ingest/k8s-audit`  | the audit webhook backend's `EventList`, or events      |
//! | `POST /ingest/guard`      | `palisade guard` events (its `webhook`)                 |
//! | `POST /ingest/generic`    | Palisade's generic event                                |
//! | `GET /healthz`            | `ok` when the database answers                          |
//!
//! Every ingest request needs a sender's token: `Authorization: Bearer TOKEN` (Falcosidekick's
//! custom headers, the audit webhook kubeconfig's `token`), or `?token=TOKEN` for senders that
//! cannot set headers (Falco's own `http_output`; the token then appears in URLs, so prefer
//! headers). With `[tls]` and `client_ca`, a client certificate whose subject common name is a
//! sender's `mtls_common_name` identifies that sender without a token (Falco's
//! `http_output.client_cert`, the audit webhook kubeconfig's `client-certificate`); a token, when
//! one is sent as well, decides. A request from no known sender gets 401 before its body is
//! read; bodies over `max_body_bytes` get 413, and a body not in full `body_timeout_ms` after
//! its head gets 408 (`header_timeout_ms` and `max_connections` bound the connections, as in
//! the guard: [`palisade_guard::listen`]). The batch is recorded in
//! one transaction, shared with the batches of requests that arrived at the same moment
//! ([`crate::commit`]), before the answer: 200 means every event in it is on disk; 400 lists
//! what could not be read (the rest of the batch is recorded); 503 means nothing was recorded
//! and the sender should retry.

use crate::config::Config;
use crate::engine::{Clock, Engine, Options};
use crate::ingest::{self, Format};
use crate::rules::RuleSet;
use crate::store::Store;
use axum::Extension;
use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use palisade_guard::body::{BodyError, Deadline};
use palisade_guard::listen::Admission;
use palisade_guard::tenant::{Directory, presented_key};
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub struct App {
    pub(crate) engine: Arc<Mutex<Engine>>,
    /// Served over TLS: the dashboard's session cookie is marked `Secure`.
    pub(crate) https: bool,
    senders: Directory,
    names: Vec<String>,
    max_body: usize,
    pub(crate) operators: Directory,
    pub(crate) operator_names: Vec<String>,
    pub(crate) sessions: Mutex<HashMap<String, crate::dashboard::Session>>,
    /// The cluster, when the configuration lets the server act (`[response] act = true`).
    pub(crate) client: std::sync::OnceLock<kube::Client>,
    pub(crate) books: Vec<crate::playbook::Playbook>,
    pub(crate) vars: std::collections::BTreeMap<String, String>,
    pub(crate) auto: bool,
    /// Incidents with a playbook run under way, and whether to run again when it ends.
    running: Mutex<HashMap<String, bool>>,
    /// Records ingested batches, several requests' in one transaction ([`crate::commit`]).
    committer: crate::commit::Committer,
}

impl App {
    /// Runs (or resumes) the playbook answering an incident, in the background, stopping at
    /// approval gates. One run per incident at a time: asked again while one runs (an
    /// approval arriving as the run stops at its gate), that run goes round once more.
    /// Without a cluster it does nothing.
    pub(crate) fn respond(self: &Arc<App>, id: String) {
        let Some(client) = self.client.get().cloned() else {
            return;
        };
        {
            let Ok(mut running) = self.running.lock() else {
                return;
            };
            if let Some(again) = running.get_mut(&id) {
                *again = true;
                return;
            }
            running.insert(id.clone(), false);
        }
        let app = self.clone();
        tokio::spawn(async move {
            loop {
                app.run_playbook(&client, &id).await;
                let Ok(mut running) = app.running.lock() else {
                    return;
                };
                if running.get(&id) == Some(&true) {
                    running.insert(id.clone(), false);
                } else {
                    running.remove(&id);
                    return;
                }
            }
        });
    }

    async fn run_playbook(&self, client: &kube::Client, id: &str) {
        let inc = {
            let Ok(engine) = self.engine.lock() else {
                return;
            };
            let Ok(Some(inc)) = engine.incident(id) else {
                return;
            };
            inc
        };
        let book = match crate::playbook::for_incident(&self.books, &inc, None, Some(client)).await
        {
            Ok(b) => b.clone(),
            Err(e) => {
                eprintln!("palisade respond: {e}");
                return;
            }
        };
        let gates = crate::runner::Gates::Stop;
        match crate::runner::run(&self.engine, Some(client), &book, id, &gates, &self.vars).await {
            Ok(crate::runner::Outcome::Failed { step, error }) => eprintln!(
                "palisade respond: {id}: playbook {} step {} failed: {error}",
                book.name,
                step + 1
            ),
            Ok(_) => {}
            Err(e) => eprintln!("palisade respond: {id}: playbook {}: {e}", book.name),
        }
    }
}

/// Builds the engine from the configuration (rules loaded and checked, database opened).
pub fn app(cfg: &Config) -> Result<Arc<App>, String> {
    let rules = RuleSet::from_paths(&cfg.rules).map_err(|e| format!("rules: {e}"))?;
    let opts = Options {
        window_secs: cfg.window_secs()?,
        open_at: cfg.open_at()?,
        clock: Clock::Wall,
        models: cfg.models.clone(),
    };
    let engine = Arc::new(Mutex::new(Engine::new(Store::open(&cfg.db)?, rules, opts)?));
    let committer = crate::commit::Committer::start(Arc::downgrade(&engine))?;
    Ok(Arc::new(App {
        engine,
        committer,
        https: cfg.tls.is_some(),
        senders: Directory::from_credentials(
            cfg.senders
                .iter()
                .map(|s| (s.token_sha256.as_deref(), s.mtls_common_name.as_deref())),
        ),
        names: cfg.senders.iter().map(|s| s.name.clone()).collect(),
        max_body: cfg.max_body_bytes,
        operators: Directory::from_credentials(
            cfg.operators
                .iter()
                .map(|s| (Some(s.token_sha256.as_str()), None)),
        ),
        operator_names: cfg.operators.iter().map(|s| s.name.clone()).collect(),
        sessions: Mutex::new(HashMap::new()),
        client: std::sync::OnceLock::new(),
        books: crate::playbook::from_paths(&cfg.response.playbooks)
            .map_err(|e| format!("playbooks: {e}"))?,
        vars: cfg.response.vars.clone(),
        auto: cfg.response.auto,
        running: Mutex::new(HashMap::new()),
    }))
}

/// The routes. Bodies are read without a deadline of their own: [`run`] puts a
/// [`Deadline`] around every request's body before it reaches them.
pub fn router(app: Arc<App>) -> Router {
    let limit = app.max_body;
    Router::new()
        .route("/ingest", post(ingest_auto))
        .route("/ingest/{format}", post(ingest_format))
        .route("/healthz", get(healthz))
        .merge(crate::dashboard::routes())
        .layer(DefaultBodyLimit::max(limit))
        .with_state(app)
}

/// The subject common name of the client's verified certificate, when it presented one (TLS
/// with `client_ca`); put on each request by [`run`].
#[derive(Clone, Debug)]
pub struct ClientCertificate(pub Option<String>);

/// Serves until SIGINT or SIGTERM: plain HTTP, or HTTPS with `[tls]`; HTTP/1.1 and HTTP/2.
pub async fn run(cfg: Config) -> Result<(), String> {
    let app = app(&cfg)?;
    if cfg.response.act {
        let client = crate::actions::connect(cfg.response.kubeconfig.as_deref()).await?;
        let _ = app.client.set(client);
    }
    let tls = match &cfg.tls {
        Some(t) => Some(palisade_guard::tls::acceptor(t, "tls")?),
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(&cfg.listen)
        .await
        .map_err(|e| format!("listen {}: {e}", cfg.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    eprintln!(
        "palisade respond: listening on {}://{addr}{} (database {})",
        if tls.is_some() { "https" } else { "http" },
        match &cfg.tls {
            Some(t) if t.client_ca.is_some() => ", client certificates required",
            _ => "",
        },
        cfg.db.display()
    );
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        palisade_guard::listen::shutdown_signal().await;
        let _ = stop.send(true);
    });
    let router = router(app);
    let admission = Admission::new(
        Duration::from_millis(cfg.header_timeout_ms),
        cfg.max_connections,
    );
    let body_timeout = Duration::from_millis(cfg.body_timeout_ms);
    let handler = move |mut req: axum::http::Request<hyper::body::Incoming>, cn: Option<String>| {
        req.extensions_mut().insert(ClientCertificate(cn));
        // Every body, the ingest batches' and the dashboard's forms, must arrive within
        // body_timeout_ms.
        let req = req.map(|b| Deadline::new(b, body_timeout));
        let answer = tower::ServiceExt::oneshot(router.clone(), req);
        async move {
            match answer.await {
                Ok(r) => r,
                Err(never) => match never {},
            }
        }
    };
    let who = "palisade respond";
    palisade_guard::listen::accept_loop(listener, tls, handler, stopped, who, admission).await;
    Ok(())
}

fn problem(status: StatusCode, message: impl Into<String>) -> Response {
    (status, axum::Json(json!({"error": message.into()}))).into_response()
}

async fn healthz(State(app): State<Arc<App>>) -> Response {
    let ok = app
        .engine
        .lock()
        .map(|e| e.store().counter("signals").is_ok())
        .unwrap_or(false);
    if ok {
        "ok\n".into_response()
    } else {
        problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "the database does not answer",
        )
    }
}

async fn ingest_auto(
    State(app): State<Arc<App>>,
    Query(q): Query<HashMap<String, String>>,
    cert: Option<Extension<ClientCertificate>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let who = sender(&app, &q, cert, &headers);
    handle(app, Format::Auto, who, &headers, body).await
}

async fn ingest_format(
    State(app): State<Arc<App>>,
    Path(format): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    cert: Option<Extension<ClientCertificate>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let who = sender(&app, &q, cert, &headers);
    let format = match format.as_str() {
        "falcosidekick" => Format::Falco,
        f => match Format::parse(f).filter(|f| *f != Format::Auto) {
            Some(f) => f,
            None => {
                return problem(
                    StatusCode::NOT_FOUND,
                    format!(
                        "no endpoint /ingest/{format}: use falco, falcosidekick, k8s-audit, guard or generic"
                    ),
                );
            }
        },
    };
    handle(app, format, who, &headers, body).await
}

/// The sender a request comes from: its token when it sends one (header first, then
/// `?token=`), else its client certificate's common name.
fn sender(
    app: &App,
    q: &HashMap<String, String>,
    cert: Option<Extension<ClientCertificate>>,
    headers: &HeaderMap,
) -> Option<usize> {
    match presented_key(headers).or(q.get("token").map(|t| t.as_bytes())) {
        Some(token) => app.senders.by_key(token),
        None => cert
            .and_then(|Extension(ClientCertificate(cn))| cn)
            .and_then(|cn| app.senders.by_common_name(&cn)),
    }
}

async fn handle(
    app: Arc<App>,
    format: Format,
    sender: Option<usize>,
    headers: &HeaderMap,
    body: Body,
) -> Response {
    let Some(sender) = sender else {
        let mut r = problem(
            StatusCode::UNAUTHORIZED,
            "a sender token is needed: Authorization: Bearer TOKEN (or ?token=TOKEN), or a \
             sender's client certificate",
        );
        r.headers_mut()
            .insert(header::WWW_AUTHENTICATE, "Bearer".parse().unwrap());
        return r;
    };
    // Only now, for a known sender, is the body read: an unknown client cannot make the
    // server hold max_body_bytes, or wait for them. (`run` put the deadline around it.)
    let body = match palisade_guard::body::read(headers, body, app.max_body).await {
        Ok(b) => b,
        Err(BodyError::TooLarge { limit }) => {
            return problem(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the body is over max_body_bytes ({limit} bytes); send smaller batches"),
            );
        }
        Err(e @ BodyError::TimedOut { .. }) => {
            return problem(
                StatusCode::REQUEST_TIMEOUT,
                format!("{e} (body_timeout_ms); send it faster or in smaller batches"),
            );
        }
        Err(e) => return problem(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let origin = format!("POST /ingest/{} from {}", format.name(), app.names[sender]);
    let app2 = app.clone();
    // Parsing may take a while (bodies up to max_body_bytes): off the async workers.
    let queued = tokio::task::spawn_blocking(move || {
        let text = std::str::from_utf8(&body).map_err(|e| {
            (
                StatusCode::BAD_REQUEST,
                format!("the body is not UTF-8 (at byte {})", e.valid_up_to()),
            )
        })?;
        let parsed = ingest::parse(text, format);
        app2.committer.submit(parsed, origin).map_err(|e| {
            (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("nothing was recorded: {e}"),
            )
        })
    })
    .await;
    let answer = match queued {
        Ok(Ok(answer)) => answer,
        Ok(Err((status, msg))) => return problem(status, msg),
        Err(_) => {
            return problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                "ingest failed unexpectedly; nothing was acknowledged",
            );
        }
    };
    let out = match answer.await {
        Ok(Ok(out)) => out,
        Ok(Err(e)) => {
            return problem(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("nothing was recorded: {e}"),
            );
        }
        Err(_) => {
            return problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "nothing was recorded: the committer stopped",
            );
        }
    };
    if app.auto {
        for id in &out.opened {
            app.respond(id.clone());
        }
    }
    let status = if out.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let errors: Vec<String> = out.errors.iter().map(|e| e.to_string()).collect();
    let mut body = json!({
        "accepted": out.accepted,
        "detections": out.detections,
        "opened": out.opened,
        "incidents": out.updated,
    });
    if !errors.is_empty() {
        body["error"] = format!(
            "{} event(s) could not be read; the other {} were recorded",
            errors.len(),
            out.accepted
        )
        .into();
        body["errors"] = errors.into();
    }
    (status, axum::Json(body)).into_response()
}
