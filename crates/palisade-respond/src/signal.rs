//! A signal: one observation from any source, normalised.
//!
//! Falco alerts, Kubernetes audit events, guard events and generic JSON events all become a
//! [`Signal`]: when, from where, the source's own rule and severity, the techniques it already
//! names, and a [`Subject`] (which namespace, pod, workload, node, tenant, model, user). Detection
//! rules test the received JSON and [`Signal::added_fields`]; correlation keys come from the
//! subject.

use palisade_core::Severity;
use palisade_core::time::Timestamp;
use serde_json::{Map, Value, json};
use std::fmt;

/// Where a signal came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    /// A Falco alert (Falco's `http_output`/`json_output` or Falcosidekick's webhook).
    Falco,
    /// A Kubernetes audit event (`audit.k8s.io/v1` `Event`).
    K8sAudit,
    /// An event from `palisade guard`.
    Guard,
    /// Any other JSON event in Palisade's generic shape.
    Generic,
}

impl Source {
    pub const ALL: [Source; 4] = [
        Source::Falco,
        Source::K8sAudit,
        Source::Guard,
        Source::Generic,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Source::Falco => "falco",
            Source::K8sAudit => "k8s_audit",
            Source::Guard => "guard",
            Source::Generic => "generic",
        }
    }

    pub fn parse(s: &str) -> Option<Source> {
        Source::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A workload: the object that owns the pods (`Deployment`, `StatefulSet`, … or a bare `Pod`).
/// In configuration: `{ namespace = "ml", kind = "Deployment", name = "digits" }` (the kind
/// defaults to Deployment).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Workload {
    pub namespace: String,
    #[serde(default = "deployment")]
    pub kind: String,
    pub name: String,
}

fn deployment() -> String {
    "Deployment".into()
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}[{}]", self.namespace, self.name, self.kind)
    }
}

impl std::str::FromStr for Workload {
    type Err = String;

    /// The display form back: `namespace/name[Kind]`.
    fn from_str(s: &str) -> Result<Workload, String> {
        let bad = || format!("'{s}' is not a workload (namespace/name[Kind])");
        let (ns, rest) = s.split_once('/').ok_or_else(bad)?;
        let (name, kind) = rest
            .strip_suffix(']')
            .and_then(|r| r.split_once('['))
            .ok_or_else(bad)?;
        if ns.is_empty() || name.is_empty() || kind.is_empty() {
            return Err(bad());
        }
        Ok(Workload {
            namespace: ns.into(),
            kind: kind.into(),
            name: name.into(),
        })
    }
}

/// What a signal is about. Every field is optional: sources know different things.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Subject {
    pub namespace: Option<String>,
    pub pod: Option<String>,
    pub container: Option<String>,
    pub workload: Option<Workload>,
    pub node: Option<String>,
    pub tenant: Option<String>,
    pub model: Option<String>,
    pub user: Option<String>,
    pub image: Option<String>,
    pub process: Option<String>,
}

impl Subject {
    pub fn to_json(&self) -> Value {
        let mut o = Map::new();
        let mut put = |k: &str, v: &Option<String>| {
            if let Some(v) = v {
                o.insert(k.into(), v.clone().into());
            }
        };
        put("namespace", &self.namespace);
        put("pod", &self.pod);
        put("container", &self.container);
        put("node", &self.node);
        put("tenant", &self.tenant);
        put("model", &self.model);
        put("user", &self.user);
        put("image", &self.image);
        put("process", &self.process);
        if let Some(w) = &self.workload {
            o.insert(
                "workload".into(),
                json!({"namespace": w.namespace, "kind": w.kind, "name": w.name}),
            );
        }
        Value::Object(o)
    }
}

/// One normalised observation.
#[derive(Debug, Clone)]
pub struct Signal {
    pub source: Source,
    /// The source's identity for this occurrence (audit ID, Falcosidekick UUID); repeats of one
    /// id are counted once.
    pub id: Option<String>,
    pub time: Timestamp,
    /// The source's rule: Falco's rule name, the guard's code, `verb resource[/subresource]` for
    /// audit events.
    pub rule: String,
    pub severity: Severity,
    pub message: String,
    /// ATT&CK and ATLAS IDs the source itself named (Falco tags, guard techniques).
    pub techniques: Vec<String>,
    pub subject: Subject,
    /// How many occurrences this signal stands for (the guard folds repeats into one event
    /// with `details.suppressed`).
    pub count: u64,
    /// The event as received.
    pub raw: Value,
}

impl Signal {
    /// What Palisade adds for conditions to read beside the received object: `signal.*`
    /// (source, rule, severity, time, techniques, message) and `subject.*`.
    pub fn added_fields(&self) -> Value {
        json!({
            "signal": {
                "source": self.source.as_str(),
                "rule": self.rule,
                "severity": self.severity.as_str(),
                "time": self.time.to_string(),
                "techniques": self.techniques,
                "message": self.message,
            },
            "subject": self.subject.to_json(),
        })
    }

    /// The signal as one chain entry: normalised fields and the original object.
    pub fn to_record(&self) -> Value {
        json!({
            "source": self.source.as_str(),
            "id": self.id,
            "time": self.time.to_string(),
            "rule": self.rule,
            "severity": self.severity.as_str(),
            "message": self.message,
            "techniques": self.techniques,
            "subject": self.subject.to_json(),
            "count": self.count,
            "raw": self.raw,
        })
    }
}
