//! The objects and what the API server does with them: create, read, list, replace, patch,
//! delete, with resourceVersions, generations, owner-reference garbage collection, the
//! scheduler, the deployment and replica set controllers, evictions under disruption budgets
//! and container logs. Everything happens under one lock, so every answer sees a settled
//! cluster (the controllers have run).

use crate::patch;
use crate::resources::{self, Resource};
use crate::select::{FieldSelector, LabelSelector};
use palisade_core::time::Timestamp;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};

/// An error the API server answers with, as a `Status` object.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            reason,
            message: message.into(),
        }
    }

    pub fn not_found(r: &Resource, name: &str) -> ApiError {
        let what = if r.group.is_empty() {
            r.plural.to_string()
        } else {
            format!("{}.{}", r.plural, r.group)
        };
        ApiError::new(404, "NotFound", format!("{what} \"{name}\" not found"))
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "BadRequest", message)
    }

    pub fn status(&self) -> Value {
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "message": self.message, "reason": self.reason, "code": self.code})
    }
}

pub type Result<T> = std::result::Result<T, ApiError>;

type Key = (&'static str, String, String);

#[derive(Default)]
pub struct State {
    rv: u64,
    uids: u64,
    objects: BTreeMap<Key, Value>,
    /// (namespace, pod, container, previous) → log text.
    logs: HashMap<(String, String, String, bool), String>,
    /// Every request served: `METHOD path`, for tests and the drill's account of what it did.
    pub requests: Vec<String>,
    reconciling: bool,
}

pub fn now() -> String {
    Timestamp::from_secs(Timestamp::now().micros() / 1_000_000).to_string()
}

fn meta(obj: &Value, k: &str) -> Option<String> {
    obj.get("metadata")?.get(k)?.as_str().map(str::to_string)
}

fn meta_mut(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj.get("metadata").is_some_and(Value::is_object) {
        obj["metadata"] = json!({});
    }
    obj["metadata"].as_object_mut().expect("metadata object")
}

fn short_hash(v: &Value) -> String {
    let h = Sha256::digest(v.to_string().as_bytes());
    // Lowercase letters and digits, like Kubernetes' pod-template-hash.
    h.iter()
        .take(10)
        .map(|b| b"bcdfghjklmnpqrstvwxz2456789"[(*b as usize) % 27] as char)
        .collect()
}

pub fn revision(obj: &Value) -> i64 {
    obj.pointer("/metadata/annotations/deployment.kubernetes.io~1revision")
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn set_annotation(obj: &mut Value, k: &str, v: String) {
    let m = meta_mut(obj);
    if !m.get("annotations").is_some_and(Value::is_object) {
        m.insert("annotations".into(), json!({}));
    }
    m["annotations"][k] = Value::String(v);
}

fn owned_by(obj: &Value, uid: &str) -> bool {
    obj.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .is_some_and(|refs| refs.iter().any(|r| r["uid"] == uid))
}

fn image_digest(image: &str) -> String {
    let h = Sha256::digest(image.as_bytes());
    let hex: String = h.iter().map(|b| format!("{b:02x}")).collect();
    let repo = image.split('@').next().unwrap_or(image);
    let repo = match repo.rsplit_once(':') {
        Some((r, tag)) if !tag.contains('/') => r,
        _ => repo,
    };
    format!("{repo}@sha256:{hex}")
}

impl State {
    fn next_rv(&mut self) -> String {
        self.rv += 1;
        self.rv.to_string()
    }

    fn key(r: &Resource, ns: &str, name: &str) -> Key {
        (
            r.plural,
            if r.namespaced { ns } else { "" }.into(),
            name.into(),
        )
    }

    pub fn get(&self, r: &Resource, ns: &str, name: &str) -> Result<Value> {
        self.objects
            .get(&State::key(r, ns, name))
            .cloned()
            .ok_or_else(|| ApiError::not_found(r, name))
    }

    pub fn list(
        &self,
        r: &Resource,
        ns: Option<&str>,
        labels: &LabelSelector,
        fields: &FieldSelector,
    ) -> Value {
        let items: Vec<Value> = self
            .objects
            .iter()
            .filter(|((p, n, _), _)| *p == r.plural && ns.is_none_or(|ns| ns == n))
            .map(|(_, v)| v)
            .filter(|v| labels.matches(v.pointer("/metadata/labels")) && fields.matches(v))
            .cloned()
            .collect();
        json!({"kind": format!("{}List", r.kind), "apiVersion": r.api_version(),
               "metadata": {"resourceVersion": self.rv.to_string()}, "items": items})
    }

    fn check_body(r: &Resource, ns: &str, body: &Value) -> Result<()> {
        if !body.is_object() {
            return Err(ApiError::bad_request("the body is not a JSON object"));
        }
        if let Some(k) = body.get("kind").and_then(Value::as_str)
            && k != r.kind
        {
            return Err(ApiError::bad_request(format!(
                "the kind '{k}' does not match the path ({})",
                r.kind
            )));
        }
        if r.namespaced
            && let Some(n) = meta(body, "namespace")
            && n != ns
        {
            return Err(ApiError::bad_request(format!(
                "the namespace of the provided object ({n}) does not match the namespace sent on the request ({ns})"
            )));
        }
        Ok(())
    }

    pub fn create(&mut self, r: &Resource, ns: &str, mut body: Value) -> Result<Value> {
        State::check_body(r, ns, &body)?;
        if r.namespaced
            && !self
                .objects
                .contains_key(&State::key(&resources::NAMESPACES, "", ns))
        {
            return Err(ApiError::new(
                404,
                "NotFound",
                format!("namespaces \"{ns}\" not found"),
            ));
        }
        let name = match (meta(&body, "name"), meta(&body, "generateName")) {
            (Some(n), _) if !n.is_empty() => n,
            (_, Some(g)) => {
                self.uids += 1;
                format!("{g}{}", &short_hash(&json!(self.uids))[..5])
            }
            _ => {
                return Err(ApiError::new(
                    422,
                    "Invalid",
                    format!(
                        "{} \"\" is invalid: metadata.name: Required value: name or generateName is required",
                        r.kind
                    ),
                ));
            }
        };
        let key = State::key(r, ns, &name);
        if self.objects.contains_key(&key) {
            return Err(ApiError::new(
                409,
                "AlreadyExists",
                format!("{} \"{name}\" already exists", r.plural),
            ));
        }
        self.uids += 1;
        let uid = {
            let h = short_hash(&json!(["uid", self.uids]));
            format!(
                "{}-{}-4{}-8{}-{:012}",
                &h[..8],
                &h[8..10],
                &h[..3],
                &h[3..6],
                self.uids
            )
        };
        let rv = self.next_rv();
        body["apiVersion"] = json!(r.api_version());
        body["kind"] = json!(r.kind);
        let m = meta_mut(&mut body);
        m.insert("name".into(), json!(name));
        if r.namespaced {
            m.insert("namespace".into(), json!(ns));
        }
        m.insert("uid".into(), json!(uid));
        m.insert("resourceVersion".into(), json!(rv));
        m.insert("creationTimestamp".into(), json!(now()));
        if body.get("spec").is_some() {
            meta_mut(&mut body).insert("generation".into(), json!(1));
        }
        if *r == resources::PODS && body.pointer("/status/phase").is_none() {
            body["status"] = json!({"phase": "Pending"});
        }
        self.objects.insert(key.clone(), body);
        self.reconcile();
        Ok(self.objects.get(&key).cloned().unwrap_or(Value::Null))
    }

    /// Stores a changed object: a new resourceVersion, and a new generation if the spec changed.
    fn store_update(&mut self, r: &Resource, ns: &str, name: &str, mut obj: Value) -> Value {
        let key = State::key(r, ns, name);
        let old = self.objects.get(&key).cloned().unwrap_or(Value::Null);
        if obj == old {
            return obj; // a no-op write keeps its resourceVersion, as the API server does
        }
        let rv = self.next_rv();
        let gen_ = old.pointer("/metadata/generation").and_then(Value::as_i64);
        let m = meta_mut(&mut obj);
        m.insert("resourceVersion".into(), json!(rv));
        if let Some(g) = gen_ {
            let g = if old.get("spec") != obj.get("spec") {
                g + 1
            } else {
                g
            };
            meta_mut(&mut obj).insert("generation".into(), json!(g));
        }
        self.objects.insert(key, obj.clone());
        obj
    }

    /// The fields a client may not change, carried over from the stored object.
    fn keep_identity(old: &Value, new: &mut Value) {
        for k in [
            "uid",
            "creationTimestamp",
            "generation",
            "name",
            "namespace",
        ] {
            match old.pointer(&format!("/metadata/{k}")) {
                Some(v) => {
                    meta_mut(new).insert(k.into(), v.clone());
                }
                None => {
                    meta_mut(new).remove(k);
                }
            }
        }
        new["apiVersion"] = old["apiVersion"].clone();
        new["kind"] = old["kind"].clone();
    }

    fn check_version(old: &Value, new: &Value, r: &Resource, name: &str) -> Result<()> {
        match (meta(new, "resourceVersion"), meta(old, "resourceVersion")) {
            (Some(want), Some(have)) if want != have => Err(ApiError::new(
                409,
                "Conflict",
                format!(
                    "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
                    r.plural
                ),
            )),
            _ => Ok(()),
        }
    }

    pub fn replace(
        &mut self,
        r: &Resource,
        ns: &str,
        name: &str,
        mut body: Value,
    ) -> Result<Value> {
        State::check_body(r, ns, &body)?;
        let old = self.get(r, ns, name)?;
        if meta(&body, "name").is_some_and(|n| n != name) {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({}) does not match the name on the URL ({name})",
                meta(&body, "name").unwrap_or_default()
            )));
        }
        State::check_version(&old, &body, r, name)?;
        State::keep_identity(&old, &mut body);
        let out = self.store_update(r, ns, name, body);
        self.reconcile();
        Ok(self.get(r, ns, name).unwrap_or(out))
    }

    pub fn patch(
        &mut self,
        r: &Resource,
        ns: &str,
        name: &str,
        content_type: &str,
        body: &Value,
    ) -> Result<Value> {
        let old = self.get(r, ns, name)?;
        let mut new = old.clone();
        let media = content_type.split(';').next().unwrap_or("").trim();
        match media {
            patch::MERGE => patch::merge(&mut new, body),
            patch::STRATEGIC => {
                patch::strategic(&mut new, body).map_err(|e| ApiError::new(422, "Invalid", e))?
            }
            patch::JSON_PATCH => {
                patch::json_patch(&mut new, body).map_err(|e| ApiError::new(422, "Invalid", e))?
            }
            "application/apply-patch+yaml" => {
                return Err(ApiError::new(
                    415,
                    "UnsupportedMediaType",
                    "server-side apply is not served by this API server; use a merge or strategic merge patch",
                ));
            }
            other => {
                return Err(ApiError::new(
                    415,
                    "UnsupportedMediaType",
                    format!(
                        "the body of the request was in an unknown format - accepted media types include: {}, {}, {}; got '{other}'",
                        patch::JSON_PATCH,
                        patch::MERGE,
                        patch::STRATEGIC
                    ),
                ));
            }
        }
        State::check_version(&old, &new, r, name)?;
        State::keep_identity(&old, &mut new);
        meta_mut(&mut new).insert(
            "resourceVersion".into(),
            old["metadata"]["resourceVersion"].clone(),
        );
        self.store_update(r, ns, name, new);
        self.reconcile();
        self.get(r, ns, name)
    }

    pub fn delete(&mut self, r: &Resource, ns: &str, name: &str) -> Result<Value> {
        let obj = self
            .objects
            .remove(&State::key(r, ns, name))
            .ok_or_else(|| ApiError::not_found(r, name))?;
        self.next_rv();
        self.collect_garbage(&obj);
        self.reconcile();
        Ok(obj)
    }

    /// Deletes what the object owned (background cascading deletion), and the legacy token
    /// secrets of a deleted service account (the token controller's job).
    fn collect_garbage(&mut self, gone: &Value) {
        let uid = meta(gone, "uid").unwrap_or_default();
        let is_sa = gone["kind"] == "ServiceAccount";
        let sa_ns = meta(gone, "namespace").unwrap_or_default();
        let sa_name = meta(gone, "name").unwrap_or_default();
        let doomed: Vec<Key> = self
            .objects
            .iter()
            .filter(|(k, v)| {
                owned_by(v, &uid)
                    || (is_sa
                        && k.0 == "secrets"
                        && k.1 == sa_ns
                        && v["type"] == "kubernetes.io/service-account-token"
                        && v.pointer("/metadata/annotations/kubernetes.io~1service-account.name")
                            .and_then(Value::as_str)
                            == Some(&sa_name))
            })
            .map(|(k, _)| k.clone())
            .collect();
        for k in doomed {
            if let Some(obj) = self.objects.remove(&k) {
                self.collect_garbage(&obj);
            }
        }
    }

    // ------------------------------------------------------------------ subresources

    pub fn set_log(&mut self, ns: &str, pod: &str, container: &str, previous: bool, text: &str) {
        self.logs.insert(
            (ns.into(), pod.into(), container.into(), previous),
            text.into(),
        );
    }

    pub fn log(
        &self,
        ns: &str,
        pod: &str,
        container: Option<&str>,
        previous: bool,
    ) -> Result<String> {
        let obj = self.get(&resources::PODS, ns, pod)?;
        let names: Vec<String> = obj
            .pointer("/spec/containers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|c| c["name"].as_str().map(str::to_string))
            .collect();
        let c = match container {
            Some(c) if names.iter().any(|n| n == c) => c.to_string(),
            Some(c) => {
                return Err(ApiError::bad_request(format!(
                    "container {c} is not valid for pod {pod}"
                )));
            }
            None if names.len() == 1 => names[0].clone(),
            None => {
                return Err(ApiError::bad_request(format!(
                    "a container name must be specified for pod {pod}, choose one of: [{}]",
                    names.join(" ")
                )));
            }
        };
        match self.logs.get(&(ns.into(), pod.into(), c.clone(), previous)) {
            Some(t) => Ok(t.clone()),
            None if previous => Err(ApiError::bad_request(format!(
                "previous terminated container \"{c}\" in pod \"{pod}\" not found"
            ))),
            None => Ok(String::new()),
        }
    }

    /// `POST pods/NAME/eviction`: refused with 429 when a disruption budget would be broken.
    pub fn evict(&mut self, ns: &str, name: &str) -> Result<Value> {
        let pod = self.get(&resources::PODS, ns, name)?;
        let labels = pod.pointer("/metadata/labels").cloned();
        let pods = self.list(
            &resources::PODS,
            Some(ns),
            &LabelSelector::default(),
            &FieldSelector::default(),
        );
        for pdb in self.list(
            &resources::PDBS,
            Some(ns),
            &LabelSelector::default(),
            &FieldSelector::default(),
        )["items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            let sel = LabelSelector::from_object(&pdb["spec"]["selector"])
                .map_err(ApiError::bad_request)?;
            if !sel.matches(labels.as_ref()) {
                continue;
            }
            let covered: Vec<&Value> = pods["items"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| sel.matches(p.pointer("/metadata/labels")))
                .collect();
            let healthy = covered
                .iter()
                .filter(|p| p["status"]["phase"] == "Running")
                .count() as i64;
            let expected = covered.len() as i64;
            let amount = |v: &Value| -> i64 {
                match v {
                    Value::String(s) if s.ends_with('%') => {
                        let pct: i64 = s.trim_end_matches('%').parse().unwrap_or(0);
                        (expected * pct + 99) / 100
                    }
                    other => other.as_i64().unwrap_or(0),
                }
            };
            let allowed = if let Some(min) = pdb["spec"].get("minAvailable") {
                healthy - amount(min)
            } else if let Some(max) = pdb["spec"].get("maxUnavailable") {
                amount(max) - (expected - healthy)
            } else {
                1
            };
            if allowed < 1 {
                return Err(ApiError::new(
                    429,
                    "TooManyRequests",
                    format!(
                        "Cannot evict pod as it would violate the pod's disruption budget. The disruption budget {} needs {} healthy pods and has {healthy} currently",
                        meta(&pdb, "name").unwrap_or_default(),
                        healthy - allowed + 1
                    ),
                ));
            }
        }
        self.delete(&resources::PODS, ns, name)?;
        Ok(
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
        )
    }

    // ------------------------------------------------------------------ controllers

    /// Runs the scheduler and the controllers until nothing changes.
    fn reconcile(&mut self) {
        if self.reconciling {
            return;
        }
        self.reconciling = true;
        for _ in 0..8 {
            let before = self.rv;
            self.deployments();
            self.replica_sets();
            self.schedule();
            if self.rv == before {
                break;
            }
        }
        self.reconciling = false;
    }

    fn objects_of<'a>(&'a self, plural: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.objects
            .iter()
            .filter(move |(k, _)| k.0 == plural)
            .map(|(_, v)| v)
    }

    /// Copies (the controllers change the store while walking them).
    fn of(&self, plural: &str) -> Vec<Value> {
        self.objects_of(plural).cloned().collect()
    }

    fn put(&mut self, r: &Resource, obj: Value) {
        let ns = meta(&obj, "namespace").unwrap_or_default();
        let name = meta(&obj, "name").unwrap_or_default();
        self.store_update(r, &ns, &name, obj);
    }

    fn record_event(&mut self, obj: &Value, reason: &str, message: String) {
        let ns = meta(obj, "namespace").unwrap_or_default();
        self.uids += 1;
        let name = format!("{}.{:x}", meta(obj, "name").unwrap_or_default(), self.uids);
        let ev = json!({"metadata": {"name": name},
            "involvedObject": {"kind": obj["kind"], "apiVersion": obj["apiVersion"], "namespace": ns,
                               "name": meta(obj, "name"), "uid": meta(obj, "uid")},
            "reason": reason, "message": message, "type": "Normal", "count": 1,
            "source": {"component": "deployment-controller"},
            "firstTimestamp": now(), "lastTimestamp": now()});
        let _ = self.create(&resources::EVENTS, &ns, ev);
    }

    fn deployments(&mut self) {
        for d in self.of("deployments") {
            let ns = meta(&d, "namespace").unwrap_or_default();
            let uid = meta(&d, "uid").unwrap_or_default();
            let dname = meta(&d, "name").unwrap_or_default();
            let template = d["spec"]["template"].clone();
            let hash = short_hash(&template);
            let replicas = d["spec"]["replicas"].as_i64().unwrap_or(1);
            let owned: Vec<Value> = self
                .of("replicasets")
                .into_iter()
                .filter(|rs| owned_by(rs, &uid))
                .collect();
            let max_rev = owned.iter().map(revision).max().unwrap_or(0);
            let current = owned
                .iter()
                .find(|rs| rs.pointer("/metadata/labels/pod-template-hash") == Some(&json!(hash)))
                .cloned();
            let active_name = match current {
                Some(mut rs) => {
                    if revision(&rs) < max_rev {
                        set_annotation(
                            &mut rs,
                            "deployment.kubernetes.io/revision",
                            (max_rev + 1).to_string(),
                        );
                        self.put(&resources::REPLICA_SETS, rs.clone());
                    }
                    meta(&rs, "name").unwrap_or_default()
                }
                None => {
                    let mut t = template.clone();
                    t["metadata"]["labels"]["pod-template-hash"] = json!(hash);
                    let mut sel = d["spec"]["selector"].clone();
                    sel["matchLabels"]["pod-template-hash"] = json!(hash);
                    let name = format!("{dname}-{hash}");
                    let rs = json!({"metadata": {"name": name, "labels": t["metadata"]["labels"],
                        "annotations": {"deployment.kubernetes.io/revision": (max_rev + 1).to_string()},
                        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": dname,
                            "uid": uid, "controller": true, "blockOwnerDeletion": true}]},
                        "spec": {"replicas": 0, "selector": sel, "template": t}});
                    let _ = self.create(&resources::REPLICA_SETS, &ns, rs);
                    name
                }
            };
            // Scale: the active replica set to the deployment's replicas, every other to zero.
            for rs in self
                .of("replicasets")
                .into_iter()
                .filter(|rs| owned_by(rs, &uid))
            {
                let name = meta(&rs, "name").unwrap_or_default();
                let want = if name == active_name { replicas } else { 0 };
                if rs["spec"]["replicas"].as_i64() != Some(want) {
                    let mut rs2 = rs.clone();
                    rs2["spec"]["replicas"] = json!(want);
                    self.put(&resources::REPLICA_SETS, rs2);
                    let verb = if want > rs["spec"]["replicas"].as_i64().unwrap_or(0) {
                        "up"
                    } else {
                        "down"
                    };
                    self.record_event(
                        &d,
                        "ScalingReplicaSet",
                        format!(
                            "Scaled {verb} replica set {name} from {} to {want}",
                            rs["spec"]["replicas"].as_i64().unwrap_or(0)
                        ),
                    );
                }
            }
            let Ok(mut d2) = self.get(&resources::DEPLOYMENTS, &ns, &dname) else {
                continue;
            };
            let active = self
                .get(&resources::REPLICA_SETS, &ns, &active_name)
                .unwrap_or(Value::Null);
            set_annotation(
                &mut d2,
                "deployment.kubernetes.io/revision",
                revision(&active).to_string(),
            );
            let sets: Vec<String> = self
                .objects_of("replicasets")
                .filter(|rs| owned_by(rs, &uid))
                .filter_map(|rs| meta(rs, "uid"))
                .collect();
            let pods: Vec<&Value> = self
                .objects_of("pods")
                .filter(|p| sets.iter().any(|u| owned_by(p, u)))
                .collect();
            let updated = pods
                .iter()
                .filter(|p| owned_by(p, &meta(&active, "uid").unwrap_or_default()))
                .count();
            let ready = pods
                .iter()
                .filter(|p| p["status"]["phase"] == "Running")
                .count();
            let total = pods.len();
            d2["status"] = json!({"observedGeneration": d2["metadata"]["generation"], "replicas": total,
                "updatedReplicas": updated, "readyReplicas": ready, "availableReplicas": ready,
                "unavailableReplicas": (replicas - ready as i64).max(0),
                "conditions": [{"type": "Available", "status": if ready as i64 >= replicas { "True" } else { "False" }}]});
            self.put(&resources::DEPLOYMENTS, d2);
        }
    }

    fn replica_sets(&mut self) {
        for rs in self.of("replicasets") {
            let ns = meta(&rs, "namespace").unwrap_or_default();
            let uid = meta(&rs, "uid").unwrap_or_default();
            let name = meta(&rs, "name").unwrap_or_default();
            let want = rs["spec"]["replicas"].as_i64().unwrap_or(1).max(0) as usize;
            let mut pods: Vec<Value> = self
                .of("pods")
                .into_iter()
                .filter(|p| owned_by(p, &uid))
                .collect();
            while pods.len() > want {
                let p = pods.pop().expect("non-empty");
                let _ = self.delete(&resources::PODS, &ns, &meta(&p, "name").unwrap_or_default());
            }
            for _ in pods.len()..want {
                let t = &rs["spec"]["template"];
                let pod = json!({"metadata": {"generateName": format!("{name}-"), "labels": t["metadata"]["labels"],
                    "annotations": t["metadata"]["annotations"],
                    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": name, "uid": uid,
                        "controller": true, "blockOwnerDeletion": true}]},
                    "spec": t["spec"]});
                let _ = self.create(&resources::PODS, &ns, pod);
            }
            let n = self
                .of("pods")
                .into_iter()
                .filter(|p| owned_by(p, &uid))
                .count();
            if let Ok(mut rs2) = self.get(&resources::REPLICA_SETS, &ns, &name) {
                rs2["status"] = json!({"replicas": n, "readyReplicas": n, "availableReplicas": n,
                    "observedGeneration": rs2["metadata"]["generation"]});
                self.put(&resources::REPLICA_SETS, rs2);
            }
        }
    }

    /// Binds pending pods to the schedulable node with the fewest pods, and starts them.
    fn schedule(&mut self) {
        let nodes: Vec<String> = self
            .of("nodes")
            .iter()
            .filter(|n| n["spec"]["unschedulable"] != true)
            .filter_map(|n| meta(n, "name"))
            .collect();
        // Pods per node, kept up to date as this pass binds more.
        let mut load: HashMap<String, usize> = HashMap::new();
        for p in self.objects_of("pods") {
            if let Some(n) = p["spec"]["nodeName"].as_str() {
                *load.entry(n.to_string()).or_default() += 1;
            }
        }
        for mut p in self.of("pods") {
            if p["status"]["phase"] != "Pending" {
                continue;
            }
            let node = match p["spec"]["nodeName"].as_str() {
                Some(n) => n.to_string(),
                None => {
                    let Some(n) = nodes
                        .iter()
                        .min_by_key(|n| load.get(*n).copied().unwrap_or(0))
                    else {
                        continue;
                    };
                    *load.entry(n.clone()).or_default() += 1;
                    n.clone()
                }
            };
            p["spec"]["nodeName"] = json!(node);
            let statuses: Vec<Value> = p["spec"]["containers"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| {
                    let image = c["image"].as_str().unwrap_or("");
                    json!({"name": c["name"], "image": image, "imageID": image_digest(image),
                           "ready": true, "restartCount": 0, "started": true,
                           "containerID": format!("containerd://{}", short_hash(&json!([meta(&p, "uid"), c["name"]]))),
                           "state": {"running": {"startedAt": now()}}})
                })
                .collect();
            self.uids += 1;
            p["status"] = json!({"phase": "Running", "hostIP": "10.0.0.1",
                "podIP": format!("10.244.{}.{}", (self.uids / 250) % 250, self.uids % 250 + 2),
                "startTime": now(), "containerStatuses": statuses,
                "conditions": [{"type": "Ready", "status": "True"}]});
            self.put(&resources::PODS, p);
        }
    }
}
