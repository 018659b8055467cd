//! An in-process Kubernetes API server, for drills and tests where no cluster can run.
//!
//! It serves the real REST API — paths, verbs, JSON bodies, `Status` errors with their codes —
//! for what incident response touches: pods (with `/log` and `/eviction`), deployments (with
//! `/scale`), replica sets, nodes, namespaces, network policies, secrets, service accounts,
//! services, config maps, events and pod disruption budgets. Clients such as `kube` talk to it
//! exactly as to a cluster.
//!
//! What it models, because responses depend on it:
//! - resourceVersions (409 Conflict on a stale write), generations, uids, 404/409/422/429;
//! - merge, strategic merge and JSON patches;
//! - label and field selectors on lists;
//! - the deployment controller (a replica set per pod template, revisions as `kubectl rollout
//!   undo` reads them, scaling), the replica set controller (pods to the replica count), a
//!   scheduler (pods onto schedulable nodes, so a cordoned node gets none), owner-reference
//!   garbage collection, legacy token secrets deleted with their service account;
//! - evictions refused with 429 while a PodDisruptionBudget would be broken.
//!
//! What it does not: watches, server-side apply, admission, RBAC (one bearer token is the
//! whole of authentication), TLS, containers (pods are Running as soon as they are bound; logs
//! are what [`Cluster::set_log`] put there).

mod http;
pub mod patch;
pub mod resources;
pub mod select;
mod state;

pub use state::{ApiError, State};

use axum::Router;
use axum::extract::State as Extract;
use axum::http::{HeaderMap, Method, Uri};
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// A handle on the cluster's objects, for seeding a scenario and checking its outcome.
#[derive(Clone)]
pub struct Cluster(Arc<http::Shared>);

impl Cluster {
    /// Creates an object as `POST` would (its `apiVersion` and `kind` pick the resource); a
    /// namespace that does not exist yet is created first.
    pub fn apply(&self, obj: Value) -> Result<Value, ApiError> {
        let api = obj["apiVersion"].as_str().unwrap_or("");
        let kind = obj["kind"].as_str().unwrap_or("");
        let r = resources::by_kind(api, kind)
            .ok_or_else(|| ApiError::bad_request(format!("no resource for {api} {kind}")))?;
        let ns = obj
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("default")
            .to_string();
        let mut st = self.0.state.lock().expect("state lock");
        if r.namespaced && st.get(&resources::NAMESPACES, "", &ns).is_err() {
            st.create(
                &resources::NAMESPACES,
                "",
                serde_json::json!({"metadata": {"name": ns}}),
            )?;
        }
        st.create(&r, &ns, obj)
    }

    /// Changes an object as a merge-patch `PATCH` would.
    pub fn patch(
        &self,
        r: &resources::Resource,
        ns: &str,
        name: &str,
        patch: &Value,
    ) -> Result<Value, ApiError> {
        self.0
            .state
            .lock()
            .expect("state lock")
            .patch(r, ns, name, patch::MERGE, patch)
    }

    pub fn get(&self, r: &resources::Resource, ns: &str, name: &str) -> Option<Value> {
        self.0
            .state
            .lock()
            .expect("state lock")
            .get(r, ns, name)
            .ok()
    }

    /// Every object of a resource in a namespace (`None`: all namespaces), matching a label
    /// selector in its string form.
    pub fn list(&self, r: &resources::Resource, ns: Option<&str>, labels: &str) -> Vec<Value> {
        let sel = select::LabelSelector::parse(labels).unwrap_or_default();
        let st = self.0.state.lock().expect("state lock");
        st.list(r, ns, &sel, &select::FieldSelector::default())["items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    pub fn set_log(&self, ns: &str, pod: &str, container: &str, previous: bool, text: &str) {
        self.0
            .state
            .lock()
            .expect("state lock")
            .set_log(ns, pod, container, previous, text);
    }

    /// The requests served so far, as `METHOD path?query`.
    pub fn requests(&self) -> Vec<String> {
        self.0.state.lock().expect("state lock").requests.clone()
    }
}

/// A running server on a loopback port.
pub struct ApiServer {
    pub addr: SocketAddr,
    pub token: String,
    cluster: Cluster,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl ApiServer {
    /// Binds 127.0.0.1 on a free port and serves on the current tokio runtime until dropped.
    pub async fn start(token: &str) -> std::io::Result<ApiServer> {
        let shared = Arc::new(http::Shared {
            state: Mutex::new(State::default()),
            token: token.to_string(),
        });
        let app = Router::new()
            .route(
                "/api/v1/namespaces/{ns}/pods/{pod}/log",
                axum::routing::get(
                    |Extract(s): Extract<Arc<http::Shared>>, uri: Uri, h: HeaderMap| {
                        http::handle_log(s, uri, h)
                    },
                ),
            )
            .fallback(
                |Extract(s): Extract<Arc<http::Shared>>,
                 m: Method,
                 uri: Uri,
                 h: HeaderMap,
                 body: axum::body::Bytes| http::handle(s, m, uri, h, body),
            )
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(ApiServer {
            addr,
            token: token.to_string(),
            cluster: Cluster(shared),
            stop: Some(tx),
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A kubeconfig that points a client at this server with its token.
    pub fn kubeconfig(&self) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: apisim\n  cluster:\n    server: {}\ncontexts:\n- name: apisim\n  context:\n    cluster: apisim\n    user: responder\n    namespace: default\ncurrent-context: apisim\nusers:\n- name: responder\n  user:\n    token: {}\n",
            self.url(),
            self.token
        )
    }

    pub fn cluster(&self) -> Cluster {
        self.cluster.clone()
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}
