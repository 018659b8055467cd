//! The REST front: Kubernetes' paths and verbs over [`State`], bearer-token authentication, and
//! `Status` answers with the codes the real server uses.

use crate::resources::{self, Resource};
use crate::select::{FieldSelector, LabelSelector};
use crate::state::{ApiError, State};
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

pub struct Shared {
    pub state: Mutex<State>,
    pub token: String,
}

fn answer(code: u16, body: &Value) -> Response {
    (
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn fail(e: ApiError) -> Response {
    answer(e.code, &e.status())
}

/// What a path names.
struct Target {
    resource: Resource,
    namespace: Option<String>,
    name: Option<String>,
    sub: Option<String>,
}

fn route(path: &str) -> Result<Target, ApiError> {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let not_found = || {
        ApiError::new(
            404,
            "NotFound",
            format!("the server could not find the requested resource ({path})"),
        )
    };
    let (group, version, rest) = match segs.as_slice() {
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return Err(not_found()),
    };
    let find = |plural: &str| resources::by_path(group, version, plural).ok_or_else(not_found);
    let t = |resource: Resource, ns: Option<&str>, name: Option<&str>, sub: Option<&str>| Target {
        resource,
        namespace: ns.map(str::to_string),
        name: name.map(str::to_string),
        sub: sub.map(str::to_string),
    };
    Ok(match rest {
        ["namespaces", ns, plural, more @ ..] => {
            let r = find(plural)?;
            if !r.namespaced {
                return Err(not_found());
            }
            match more {
                [] => t(r, Some(ns), None, None),
                [name] => t(r, Some(ns), Some(name), None),
                [name, sub] => t(r, Some(ns), Some(name), Some(sub)),
                _ => return Err(not_found()),
            }
        }
        [plural, more @ ..] => {
            let r = find(plural)?;
            match more {
                [] => t(r, None, None, None),
                [name] if !r.namespaced => t(r, None, Some(name), None),
                [name, sub] if !r.namespaced => t(r, None, Some(name), Some(sub)),
                _ => return Err(not_found()),
            }
        }
        [] => return Err(not_found()),
    })
}

fn query(uri: &Uri) -> HashMap<String, String> {
    uri.query()
        .map(|q| {
            q.split('&')
                .filter_map(|kv| {
                    let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                    Some((decode(k)?, decode(v)?))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                out.push(u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).ok()?, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

fn json_body(body: &Bytes) -> Result<Value, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the request body is not valid JSON: {e}")))
}

/// Every request: recorded, then its bearer token checked. Returns the locked state.
fn admit<'a>(
    shared: &'a Shared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<MutexGuard<'a, State>, ApiError> {
    let mut state = shared.state.lock().expect("state lock");
    state.requests.push(format!("{method} {uri}"));
    let authorised = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| t == shared.token);
    if authorised {
        Ok(state)
    } else {
        Err(ApiError::new(401, "Unauthorized", "Unauthorized"))
    }
}

pub async fn handle(
    shared: Arc<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let mut state = match admit(&shared, &method, &uri, &headers) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    if path == "/version" {
        return answer(
            200,
            &serde_json::json!({"major": "1", "minor": "33", "gitVersion": "v1.33.0-palisade-apisim", "platform": "linux/amd64"}),
        );
    }
    let q = query(&uri);
    if q.get("watch").is_some_and(|w| w == "true" || w == "1") {
        return fail(ApiError::new(
            405,
            "MethodNotAllowed",
            "watch is not served by this API server",
        ));
    }
    let target = match route(&path) {
        Ok(t) => t,
        Err(e) => return fail(e),
    };
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let r = target.resource;
    let ns = target.namespace.as_deref().unwrap_or("");
    let result: Result<(u16, Value), ApiError> =
        (|| match (&method, target.name.as_deref(), target.sub.as_deref()) {
            (&Method::GET, None, None) => {
                let labels = LabelSelector::parse(q.get("labelSelector").map_or("", |s| s))
                    .map_err(|e| {
                        ApiError::bad_request(format!("unable to parse labelSelector: {e}"))
                    })?;
                let fields = FieldSelector::parse(q.get("fieldSelector").map_or("", |s| s))
                    .map_err(ApiError::bad_request)?;
                Ok((
                    200,
                    state.list(&r, target.namespace.as_deref(), &labels, &fields),
                ))
            }
            (&Method::POST, None, None) => {
                if r.namespaced && target.namespace.is_none() {
                    return Err(ApiError::new(
                        405,
                        "MethodNotAllowed",
                        "create needs a namespace in the path",
                    ));
                }
                Ok((201, state.create(&r, ns, json_body(&body)?)?))
            }
            (&Method::GET, Some(name), None) => Ok((200, state.get(&r, ns, name)?)),
            (&Method::PUT, Some(name), None) => {
                Ok((200, state.replace(&r, ns, name, json_body(&body)?)?))
            }
            (&Method::PATCH, Some(name), None) => {
                Ok((200, state.patch(&r, ns, name, &ctype, &json_body(&body)?)?))
            }
            (&Method::DELETE, Some(name), None) => Ok((200, state.delete(&r, ns, name)?)),
            (&Method::POST, Some(name), Some("eviction")) if r == resources::PODS => {
                let ev = json_body(&body)?;
                if ev
                    .get("kind")
                    .and_then(Value::as_str)
                    .is_some_and(|k| k != "Eviction")
                {
                    return Err(ApiError::bad_request(
                        "the body of an eviction must be an Eviction",
                    ));
                }
                Ok((201, state.evict(ns, name)?))
            }
            (&Method::GET, Some(name), Some("scale")) if r == resources::DEPLOYMENTS => {
                Ok((200, scale_of(&state.get(&r, ns, name)?)))
            }
            (&Method::PATCH, Some(name), Some("scale")) if r == resources::DEPLOYMENTS => {
                let p = json_body(&body)?;
                let replicas = p.pointer("/spec/replicas").cloned().unwrap_or(Value::Null);
                let patch = serde_json::json!({"spec": {"replicas": replicas}});
                let d = state.patch(&r, ns, name, "application/merge-patch+json", &patch)?;
                Ok((200, scale_of(&d)))
            }
            (_, Some(_), Some(sub)) => Err(ApiError::new(
                404,
                "NotFound",
                format!(
                    "the server could not find the requested resource ({method} {}/{sub})",
                    r.plural
                ),
            )),
            _ => Err(ApiError::new(
                405,
                "MethodNotAllowed",
                format!("{method} is not supported on {path}"),
            )),
        })();
    match result {
        Err(e) => fail(e),
        Ok((code, v)) => answer(code, &v),
    }
}

/// `GET pods/NAME/log` answers text, not JSON.
pub async fn handle_log(shared: Arc<Shared>, uri: Uri, headers: HeaderMap) -> Response {
    let state = match admit(&shared, &Method::GET, &uri, &headers) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let segs: Vec<&str> = uri.path().split('/').filter(|s| !s.is_empty()).collect();
    let ["api", "v1", "namespaces", ns, "pods", pod, "log"] = segs.as_slice() else {
        return fail(ApiError::new(404, "NotFound", "not found"));
    };
    let q = query(&uri);
    let previous = q.get("previous").is_some_and(|v| v == "true");
    match state.log(ns, pod, q.get("container").map(String::as_str), previous) {
        Ok(mut text) => {
            if let Some(n) = q.get("tailLines").and_then(|n| n.parse::<usize>().ok()) {
                let lines: Vec<&str> = text.lines().collect();
                text = lines[lines.len().saturating_sub(n)..].join("\n");
            }
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "text/plain")],
                Body::from(text),
            )
                .into_response()
        }
        Err(e) => fail(e),
    }
}

fn scale_of(d: &Value) -> Value {
    serde_json::json!({"kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {"name": d["metadata"]["name"], "namespace": d["metadata"]["namespace"],
                     "resourceVersion": d["metadata"]["resourceVersion"], "uid": d["metadata"]["uid"]},
        "spec": {"replicas": d["spec"]["replicas"].as_i64().unwrap_or(1)},
        "status": {"replicas": d["status"]["replicas"].as_i64().unwrap_or(0),
                   "selector": ""}})
}
