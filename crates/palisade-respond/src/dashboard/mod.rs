//! The dashboard: `palisade respond serve` also serves a web UI under `/ui`.
//!
//! Incidents with severity and phase, each incident's NIST timeline, techniques, blast radius,
//! findings, actions with their evidence (by SHA-256, downloadable), the step waiting for
//! approval with an Approve button, a Roll back button, and MTTR over time as a chart.
//!
//! Security: operators log in with their token (`[[operators]]` in the configuration, stored
//! as SHA-256); the session is a random 256-bit id in an `HttpOnly; SameSite=Strict` cookie
//! (`Secure` too when served over TLS), valid 8 hours. Every state-changing request is a POST
//! carrying the session's CSRF token and, when the browser sends one, an `Origin` matching the
//! server. Pages are rendered on the
//! server with no script at all and no external assets (works air-gapped); the
//! Content-Security-Policy allows only the server's own stylesheet.

mod page;

use crate::actions::Action;
use crate::incident::Incident;
use crate::serve::App;
use crate::store::Entry;
use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;
use std::sync::Arc;
use std::time::{Duration, Instant};

const COOKIE: &str = "palisade_session";
const LIFETIME: Duration = Duration::from_secs(8 * 3600);
const MAX_SESSIONS: usize = 1000;
const CSS: &str = include_str!("dashboard.css");
/// The largest form body the dashboard reads.
const FORM_LIMIT: usize = 16 << 10;

pub struct Session {
    pub operator: String,
    pub csrf: String,
    pub expires: Instant,
}

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/ui", get(incidents))
        .route("/ui/", get(incidents))
        .route("/ui/login", get(login_form).post(login))
        .route("/ui/logout", axum::routing::post(logout))
        .route("/ui/app.css", get(css))
        .route("/ui/incidents/{id}", get(incident))
        .route("/ui/incidents/{id}/approve", axum::routing::post(approve))
        .route(
            "/ui/incidents/{id}/rollback",
            get(rollback_confirm).post(rollback),
        )
        .route("/ui/evidence/{hash}", get(evidence))
        // Forms are a few hundred bytes; anyone may post to the login form.
        .layer(axum::extract::DefaultBodyLimit::max(FORM_LIMIT))
}

fn random_hex() -> String {
    let mut b = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b)
        .expect("system randomness");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Headers every UI answer carries.
fn secure(mut r: Response) -> Response {
    let h = r.headers_mut();
    let set = |h: &mut HeaderMap, k: &'static str, v: &'static str| {
        h.insert(k, HeaderValue::from_static(v));
    };
    set(
        h,
        "content-security-policy",
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    );
    set(h, "x-frame-options", "DENY");
    set(h, "x-content-type-options", "nosniff");
    set(h, "referrer-policy", "same-origin");
    set(h, "cache-control", "no-store");
    r
}

fn html(body: String) -> Response {
    secure(([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response())
}

fn refuse(status: StatusCode, msg: &str) -> Response {
    secure(
        (
            status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            msg.to_string(),
        )
            .into_response(),
    )
}

fn to_login() -> Response {
    secure(Redirect::to("/ui/login").into_response())
}

fn session_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
}

/// The logged-in operator and the session's CSRF token.
fn who(app: &App, headers: &HeaderMap) -> Option<(String, String)> {
    let id = session_id(headers)?;
    let mut sessions = app.sessions.lock().ok()?;
    let s = sessions.get(&id)?;
    if s.expires < Instant::now() {
        sessions.remove(&id);
        return None;
    }
    Some((s.operator.clone(), s.csrf.clone()))
}

/// A state-changing request: logged in, the right CSRF token, and no foreign `Origin`.
fn check_post(
    app: &App,
    headers: &HeaderMap,
    csrf: &str,
) -> Result<String, (StatusCode, &'static str)> {
    let Some((op, token)) = who(app, headers) else {
        return Err((StatusCode::UNAUTHORIZED, "log in first: /ui/login"));
    };
    if let (Some(origin), Some(host)) = (headers.get(header::ORIGIN), headers.get(header::HOST)) {
        let ok = origin
            .to_str()
            .ok()
            .and_then(|o| o.split_once("://"))
            .map(|(_, h)| h)
            == host.to_str().ok();
        if !ok {
            return Err((StatusCode::FORBIDDEN, "cross-origin request refused"));
        }
    }
    if !same(csrf, &token) {
        return Err((
            StatusCode::FORBIDDEN,
            "missing or wrong CSRF token: reload the page and try again",
        ));
    }
    Ok(op)
}

async fn css() -> Response {
    secure(([(header::CONTENT_TYPE, "text/css; charset=utf-8")], CSS).into_response())
}

async fn login_form() -> Response {
    html(page::login(None))
}

#[derive(Deserialize)]
struct Login {
    token: String,
}

async fn login(State(app): State<Arc<App>>, headers: HeaderMap, Form(f): Form<Login>) -> Response {
    if let (Some(origin), Some(host)) = (headers.get(header::ORIGIN), headers.get(header::HOST))
        && origin
            .to_str()
            .ok()
            .and_then(|o| o.split_once("://"))
            .map(|(_, h)| h)
            != host.to_str().ok()
    {
        return refuse(StatusCode::FORBIDDEN, "cross-origin login refused");
    }
    let Some(i) = app.operators.by_key(f.token.trim().as_bytes()) else {
        let mut r = html(page::login(Some("That token is not an operator's.")));
        *r.status_mut() = StatusCode::UNAUTHORIZED;
        return r;
    };
    let id = random_hex();
    if let Ok(mut sessions) = app.sessions.lock() {
        let now = Instant::now();
        sessions.retain(|_, s| s.expires > now);
        if sessions.len() >= MAX_SESSIONS {
            return refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "too many sessions; try again later",
            );
        }
        sessions.insert(
            id.clone(),
            Session {
                operator: app.operator_names[i].clone(),
                csrf: random_hex(),
                expires: now + LIFETIME,
            },
        );
    }
    let mut r = Redirect::to("/ui").into_response();
    let cookie = format!(
        "{COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/ui; Max-Age={}{}",
        LIFETIME.as_secs(),
        if app.https { "; Secure" } else { "" }
    );
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).expect("cookie"),
    );
    secure(r)
}

#[derive(Deserialize)]
struct Csrf {
    #[serde(default)]
    csrf: String,
}

async fn logout(State(app): State<Arc<App>>, headers: HeaderMap, Form(f): Form<Csrf>) -> Response {
    if let Err((code, msg)) = check_post(&app, &headers, &f.csrf) {
        return refuse(code, msg);
    }
    if let (Some(id), Ok(mut s)) = (session_id(&headers), app.sessions.lock()) {
        s.remove(&id);
    }
    let mut r = Redirect::to("/ui/login").into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static(
            "palisade_session=; HttpOnly; SameSite=Strict; Path=/ui; Max-Age=0",
        ),
    );
    secure(r)
}

/// Why a page cannot be shown: its status and message (made a page by [`refuse`]).
type Refusal = (StatusCode, String);

fn unavailable(e: String) -> Refusal {
    (StatusCode::SERVICE_UNAVAILABLE, e)
}

fn engine(app: &App) -> Result<std::sync::MutexGuard<'_, crate::engine::Engine>, Refusal> {
    app.engine
        .lock()
        .map_err(|_| unavailable("the engine failed earlier".into()))
}

/// One incident and its chain entries.
fn one_incident(app: &App, id: &str) -> Result<(Incident, Vec<Entry>), Refusal> {
    let engine = engine(app)?;
    let inc = engine
        .incident(id)
        .map_err(unavailable)?
        .ok_or_else(|| (StatusCode::NOT_FOUND, format!("no incident {id}")))?;
    let entries = engine.store().entries_for(id).map_err(unavailable)?;
    Ok((inc, entries))
}

async fn incidents(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let Some((op, csrf)) = who(&app, &headers) else {
        return to_login();
    };
    let all = engine(&app).and_then(|e| {
        e.store()
            .incidents(false)
            .and_then(|list| {
                list.iter()
                    .map(Incident::from_json)
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(unavailable)
    });
    match all {
        Ok(all) => html(page::incidents(&all, &op, &csrf)),
        Err((code, msg)) => refuse(code, &msg),
    }
}

async fn incident(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let Some((op, csrf)) = who(&app, &headers) else {
        return to_login();
    };
    match one_incident(&app, &id) {
        Ok((inc, entries)) => html(page::incident(
            &inc,
            &entries,
            &op,
            &csrf,
            app.client.get().is_some(),
        )),
        Err((code, msg)) => refuse(code, &msg),
    }
}

async fn approve(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<Csrf>,
) -> Response {
    let op = match check_post(&app, &headers, &f.csrf) {
        Ok(op) => op,
        Err((code, msg)) => return refuse(code, msg),
    };
    let result = app
        .engine
        .lock()
        .map_err(|_| "the engine failed earlier".to_string())
        .and_then(|mut e| crate::runner::approve(&mut e, &id, &format!("dashboard:{op}")));
    match result {
        Ok(_) => {
            app.respond(id.clone());
            secure(Redirect::to(&format!("/ui/incidents/{id}")).into_response())
        }
        Err(e) => refuse(StatusCode::CONFLICT, &e),
    }
}

async fn rollback_confirm(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let Some((_, csrf)) = who(&app, &headers) else {
        return to_login();
    };
    match one_incident(&app, &id) {
        Ok((inc, _)) => html(page::rollback_confirm(&inc, &csrf)),
        Err((code, msg)) => refuse(code, &msg),
    }
}

async fn rollback(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<Csrf>,
) -> Response {
    let op = match check_post(&app, &headers, &f.csrf) {
        Ok(op) => op,
        Err((code, msg)) => return refuse(code, msg),
    };
    let Some(client) = app.client.get().cloned() else {
        return refuse(
            StatusCode::CONFLICT,
            "this server does not act on the cluster ([response] act = false)",
        );
    };
    let action = Action::Rollback {
        to_revision: None,
        image: None,
        container: None,
        env: None,
    };
    match crate::runner::act(
        &app.engine,
        &client,
        &id,
        &action,
        &format!("dashboard:{op}"),
    )
    .await
    {
        Ok(_) => secure(Redirect::to(&format!("/ui/incidents/{id}")).into_response()),
        Err(e) => refuse(StatusCode::CONFLICT, &e),
    }
}

async fn evidence(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(hash): Path<String>,
) -> Response {
    if who(&app, &headers).is_none() {
        return to_login();
    }
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return refuse(StatusCode::BAD_REQUEST, "evidence is named by its SHA-256");
    }
    let blob = app
        .engine
        .lock()
        .ok()
        .and_then(|e| e.store().blob(&hash).ok().flatten());
    match blob {
        // Served as plain text (or JSON) and never rendered as a page.
        Some((media, data)) => {
            let ct = if media == "application/json" {
                "application/json"
            } else {
                "text/plain; charset=utf-8"
            };
            secure(([(header::CONTENT_TYPE, ct)], data).into_response())
        }
        None => refuse(StatusCode::NOT_FOUND, "no such evidence"),
    }
}
