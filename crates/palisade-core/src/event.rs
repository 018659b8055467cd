//! Runtime security events: one JSON object per decision.
//!
//! A static problem is a [`crate::Finding`]; something observed or decided while a workload runs
//! is an [`Event`]. The guard writes one for every request it rejects or flags and for every
//! probe, drift or upstream alarm; `palisade respond` reads them back ([`Event::from_json`]) and
//! correlates them into incidents. The rule behind an event is a [`RuleMeta`], so events carry the
//! same stable codes and ATLAS techniques as findings, and `palisade explain` documents both.
//!
//! The JSON shape (field order fixed, optional fields omitted when empty):
//!
//! ```json
//! {"time": "2026-11-22T10:00:00Z", "source": "palisade-guard", "rule": "GRD002",
//!  "name": "tenant-rate-limited", "severity": "medium", "action": "rejected",
//!  "tenant": "team-a", "model": "digits", "techniques": ["AML.T0029", "AML.T0034"],
//!  "message": "…", "details": {"limit_per_second": 50}}
//! ```

use crate::{RuleMeta, Severity};
use serde_json::{Map, Value};

/// What the component that raised the event did about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// The request was refused.
    Rejected,
    /// The request went through, marked as suspicious (a response header, a metric).
    Flagged,
    /// Recorded only.
    Logged,
    /// An alarm about the workload itself (probe, drift, upstream), not about one request.
    Raised,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Rejected => "rejected",
            Action::Flagged => "flagged",
            Action::Logged => "logged",
            Action::Raised => "raised",
        }
    }

    pub fn parse(s: &str) -> Option<Action> {
        Some(match s {
            "rejected" => Action::Rejected,
            "flagged" => Action::Flagged,
            "logged" => Action::Logged,
            "raised" => Action::Raised,
            _ => return None,
        })
    }
}

/// One security event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// RFC 3339 UTC time the event was raised.
    pub time: String,
    /// The component that raised it (`palisade-guard`, `falco`, …).
    pub source: String,
    /// The rule code (`GRD002`) and name (`tenant-rate-limited`).
    pub rule: String,
    pub name: String,
    pub severity: Severity,
    pub action: Action,
    pub tenant: Option<String>,
    pub model: Option<String>,
    /// MITRE ATLAS (`AML.T…`) and ATT&CK (`T…`) technique IDs.
    pub techniques: Vec<String>,
    pub message: String,
    /// Rule-specific facts (scores, limits, counts).
    pub details: Map<String, Value>,
}

impl Event {
    /// An event raised now by `source` under `rule`, with the rule's severity and techniques.
    pub fn new(source: &str, rule: &RuleMeta, action: Action, message: impl Into<String>) -> Event {
        Event {
            time: crate::config::now_utc_rfc3339(),
            source: source.to_string(),
            rule: rule.code.to_string(),
            name: rule.name.to_string(),
            severity: rule.severity,
            action,
            tenant: None,
            model: None,
            techniques: rule.techniques.iter().map(|t| t.to_string()).collect(),
            message: message.into(),
            details: Map::new(),
        }
    }

    pub fn tenant(mut self, tenant: Option<&str>) -> Event {
        self.tenant = tenant.map(str::to_string);
        self
    }

    pub fn model(mut self, model: Option<&str>) -> Event {
        self.model = model.map(str::to_string);
        self
    }

    pub fn detail(mut self, key: &str, value: impl Into<Value>) -> Event {
        self.details.insert(key.to_string(), value.into());
        self
    }

    /// The event as its JSON object (the documented field order).
    pub fn to_json(&self) -> Value {
        let mut o = Map::new();
        o.insert("time".into(), self.time.clone().into());
        o.insert("source".into(), self.source.clone().into());
        o.insert("rule".into(), self.rule.clone().into());
        o.insert("name".into(), self.name.clone().into());
        o.insert("severity".into(), self.severity.as_str().into());
        o.insert("action".into(), self.action.as_str().into());
        if let Some(t) = &self.tenant {
            o.insert("tenant".into(), t.clone().into());
        }
        if let Some(m) = &self.model {
            o.insert("model".into(), m.clone().into());
        }
        o.insert("techniques".into(), self.techniques.clone().into());
        o.insert("message".into(), self.message.clone().into());
        if !self.details.is_empty() {
            o.insert("details".into(), Value::Object(self.details.clone()));
        }
        Value::Object(o)
    }

    /// Reads an event back from its JSON object; the error names the field that is wrong.
    pub fn from_json(v: &Value) -> Result<Event, String> {
        let o = v.as_object().ok_or("an event must be a JSON object")?;
        let text = |k: &str| -> Result<String, String> {
            o.get(k)
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| format!("event field '{k}' is missing or not a string"))
        };
        let opt = |k: &str| o.get(k).and_then(Value::as_str).map(str::to_string);
        let severity = text("severity")?;
        let action = text("action")?;
        Ok(Event {
            time: text("time")?,
            source: text("source")?,
            rule: text("rule")?,
            name: opt("name").unwrap_or_default(),
            severity: severity
                .parse()
                .map_err(|_| format!("event field 'severity': unknown value '{severity}'"))?,
            action: Action::parse(&action)
                .ok_or_else(|| format!("event field 'action': unknown value '{action}'"))?,
            tenant: opt("tenant"),
            model: opt("model"),
            techniques: match o.get("techniques") {
                None => Vec::new(),
                Some(Value::Array(a)) => a
                    .iter()
                    .map(|t| {
                        t.as_str()
                            .map(str::to_string)
                            .ok_or("event field 'techniques' must hold strings")
                    })
                    .collect::<Result<_, _>>()?,
                Some(_) => return Err("event field 'techniques' must be an array".into()),
            },
            message: opt("message").unwrap_or_default(),
            details: match o.get("details") {
                None => Map::new(),
                Some(Value::Object(d)) => d.clone(),
                Some(_) => return Err("event field 'details' must be an object".into()),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static RULE: RuleMeta = RuleMeta {
        code: "GRD999",
        name: "example",
        severity: Severity::High,
        family: "guard",
        summary: "",
        controls: &[],
        techniques: &["AML.T0029"],
        fix: "",
        doc: "",
    };

    #[test]
    fn round_trips_through_json_in_the_documented_order() {
        let e = Event::new("palisade-guard", &RULE, Action::Rejected, "too many")
            .tenant(Some("a"))
            .model(None)
            .detail("limit", 5);
        let v = e.to_json();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "time",
                "source",
                "rule",
                "name",
                "severity",
                "action",
                "tenant",
                "techniques",
                "message",
                "details"
            ]
        );
        assert_eq!(Event::from_json(&v).unwrap(), e);
    }

    #[test]
    fn a_bad_field_is_named() {
        let v = serde_json::json!({"time": "t", "source": "s", "rule": "r",
            "severity": "dreadful", "action": "rejected"});
        let err = Event::from_json(&v).unwrap_err();
        assert!(
            err.contains("'severity'") && err.contains("dreadful"),
            "{err}"
        );
    }
}
