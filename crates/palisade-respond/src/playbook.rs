//! Playbooks: which incidents they answer, and the ordered steps that answer them.
//!
//! A playbook file is a YAML list of `- playbook:` items (`playbooks/default.yaml` is the
//! built-in set; docs/respond.md describes the format):
//!
//! ```yaml
//! - playbook: contain-container-escape
//!   match: {techniques: [T1611], severity: high}
//!   steps:
//!     - action: collect-evidence
//!     - action: scale
//!       replicas: 0
//!       approval: required
//!     - phase: contained
//!       reason: workload isolated and stopped
//! ```
//!
//! A step is an action (see [`crate::actions::Action`]) or a phase change. `approval: required`
//! stops the run before that step until someone approves it. Strings may use `${incident}`,
//! `${namespace}`, `${workload}`, `${model}`, `${tenant}` and any variable the configuration
//! defines (`[playbooks.vars]`).

use crate::actions::Action;
use crate::incident::{Incident, Phase};
use globset::Glob;
use palisade_core::Severity;
use palisade_k8s::yaml::{self, Node, NodeKind};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

pub const DEFAULT: &str = include_str!("../playbooks/default.yaml");

#[derive(Debug, Clone, Default)]
pub struct Match {
    /// Any of these techniques (ATT&CK or ATLAS) among the incident's.
    pub techniques: Vec<String>,
    /// Any of these detection rules among the incident's findings.
    pub rules: Vec<String>,
    /// At least this severe.
    pub severity: Option<Severity>,
    /// Globs; any namespace of the incident matching one.
    pub namespaces: Vec<String>,
    /// Labels that at least one workload in the incident's scope must carry, all of them
    /// (read from the cluster when the playbook is chosen).
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub enum StepKind {
    Action(Action),
    Phase { phase: Phase, reason: String },
}

#[derive(Debug, Clone)]
pub struct Step {
    pub kind: StepKind,
    pub approval: bool,
    /// `file:line`.
    pub origin: String,
}

impl Step {
    pub fn describe(&self) -> String {
        match &self.kind {
            StepKind::Action(a) => a.name().to_string(),
            StepKind::Phase { phase, .. } => format!("phase → {}", phase.as_str()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Playbook {
    pub name: String,
    pub description: String,
    pub matcher: Match,
    pub steps: Vec<Step>,
    pub origin: String,
}

/// A YAML node as JSON (plain scalars typed as YAML 1.2's core schema does).
pub fn to_json(n: &Node) -> Value {
    match &n.kind {
        NodeKind::Scalar { text, plain } => {
            if !plain {
                return Value::String(text.to_string());
            }
            if let Some(i) = n.as_i64() {
                return Value::from(i);
            }
            match &**text {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                "null" | "~" | "" => Value::Null,
                t => t
                    .parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite())
                    .map(Value::from)
                    .unwrap_or_else(|| Value::String(t.to_string())),
            }
        }
        NodeKind::Seq(items) => Value::Array(items.iter().map(to_json).collect()),
        NodeKind::Map(entries) => Value::Object(
            entries
                .iter()
                .map(|(k, v)| (k.as_str().unwrap_or("").to_string(), to_json(v)))
                .collect::<Map<_, _>>(),
        ),
    }
}

fn strings(v: Option<&Value>, what: &str) -> Result<Vec<String>, String> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| {
                x.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("'{what}' must list strings"))
            })
            .collect(),
        Some(_) => Err(format!("'{what}' must be a string or a list of strings")),
    }
}

fn matcher(v: &Value) -> Result<Match, String> {
    let Some(m) = v.as_object() else {
        return Err("'match' must be a mapping".into());
    };
    for k in m.keys() {
        if !["techniques", "rules", "severity", "namespaces", "labels"].contains(&k.as_str()) {
            return Err(format!(
                "unknown match key '{k}' (known: techniques, rules, severity, namespaces, labels)"
            ));
        }
    }
    let namespaces = strings(m.get("namespaces"), "namespaces")?;
    for g in &namespaces {
        Glob::new(g).map_err(|e| format!("namespace glob '{g}': {e}"))?;
    }
    Ok(Match {
        techniques: strings(m.get("techniques"), "techniques")?,
        rules: strings(m.get("rules"), "rules")?,
        severity: match m.get("severity").and_then(Value::as_str) {
            None => None,
            Some(s) => Some(s.parse().map_err(|_| {
                format!("severity '{s}' is not one of info, low, medium, high, critical")
            })?),
        },
        namespaces,
        labels: match m.get("labels") {
            None => BTreeMap::new(),
            Some(Value::Object(l)) => l
                .iter()
                .map(|(k, v)| {
                    Ok((
                        k.clone(),
                        v.as_str()
                            .ok_or(format!("label '{k}' must be a string"))?
                            .to_string(),
                    ))
                })
                .collect::<Result<_, String>>()?,
            Some(_) => return Err("'labels' must be a mapping".into()),
        },
    })
}

fn step(v: &Value) -> Result<Step, String> {
    let mut obj = v.as_object().cloned().ok_or("a step is a mapping")?;
    let approval = match obj.remove("approval") {
        None => false,
        Some(Value::String(s)) if s == "required" => true,
        Some(Value::String(s)) if s == "none" => false,
        Some(Value::Bool(b)) => b,
        Some(other) => {
            return Err(format!(
                "approval must be 'required' or 'none', not {other}"
            ));
        }
    };
    let kind = if let Some(p) = obj.remove("phase") {
        let name = p.as_str().unwrap_or("");
        let phase = Phase::parse(name).ok_or_else(|| {
            format!("phase '{name}' is not one of detected, triaged, contained, eradicated, recovered, closed")
        })?;
        let reason = obj
            .remove("reason")
            .and_then(|r| r.as_str().map(str::to_string))
            .unwrap_or_default();
        if let Some(k) = obj.keys().next() {
            return Err(format!(
                "unknown key '{k}' in a phase step (phase, reason, approval)"
            ));
        }
        if phase == Phase::Closed && reason.is_empty() {
            return Err("closing needs a 'reason' (the lessons learned)".into());
        }
        StepKind::Phase { phase, reason }
    } else if obj.contains_key("action") {
        let a: Action = serde_json::from_value(Value::Object(obj)).map_err(|e| e.to_string())?;
        if let Action::Rollback {
            to_revision,
            image,
            container,
            env,
        } = &a
        {
            crate::actions::rollout_target(*to_revision, image, container, env)?;
        }
        StepKind::Action(a)
    } else {
        return Err("a step needs 'action' or 'phase'".into());
    };
    Ok(Step {
        kind,
        approval,
        origin: String::new(),
    })
}

/// Playbooks from files, in order; a later playbook with the same name replaces the earlier.
pub fn load(files: &[(&str, &str)]) -> Result<Vec<Playbook>, Vec<String>> {
    let mut errors = Vec::new();
    let mut out: Vec<Playbook> = Vec::new();
    for (file, text) in files {
        let parsed = yaml::parse(text, 0);
        if let Some(e) = &parsed.error {
            errors.push(format!("{file}:{}:{}: {}", e.line, e.column, e.message));
            continue;
        }
        for doc in &parsed.documents {
            let items = match &doc.root.kind {
                NodeKind::Seq(items) => items,
                NodeKind::Scalar { text, .. } if text.is_empty() => continue,
                _ => {
                    errors.push(format!(
                        "{file}:{}: a playbook file is a YAML list of `- playbook:` items",
                        doc.root.pos.line
                    ));
                    continue;
                }
            };
            for item in items.iter() {
                let origin = format!("{file}:{}", item.pos.line);
                match playbook(item, file) {
                    Ok(mut p) => {
                        p.origin = origin;
                        out.retain(|x| x.name != p.name);
                        out.push(p);
                    }
                    Err(e) => errors.push(e),
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

fn playbook(item: &Node, file: &str) -> Result<Playbook, String> {
    let at = |n: &Node| format!("{file}:{}", n.pos.line);
    let v = to_json(item);
    let name = v
        .get("playbook")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| format!("{}: an item needs 'playbook: NAME'", at(item)))?
        .to_string();
    if let Some(obj) = v.as_object()
        && let Some(k) = obj
            .keys()
            .find(|k| !["playbook", "description", "match", "steps"].contains(&k.as_str()))
    {
        return Err(format!(
            "{}: playbook '{name}': unknown key '{k}' (playbook, description, match, steps)",
            at(item)
        ));
    }
    let matcher = match item.get("match") {
        Some(m) => crate::playbook::matcher(&to_json(m))
            .map_err(|e| format!("{}: playbook '{name}': {e}", at(m)))?,
        None => {
            return Err(format!(
                "{}: playbook '{name}' has no 'match' (which incidents it answers)",
                at(item)
            ));
        }
    };
    let steps_node = item
        .get("steps")
        .filter(|s| !s.items().is_empty())
        .ok_or_else(|| format!("{}: playbook '{name}' has no steps", at(item)))?;
    let mut steps = Vec::new();
    for s in steps_node.items() {
        let mut st =
            step(&to_json(s)).map_err(|e| format!("{}: playbook '{name}': step: {e}", at(s)))?;
        st.origin = at(s);
        steps.push(st);
    }
    Ok(Playbook {
        name,
        description: v
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or("")
            .trim()
            .to_string(),
        matcher,
        steps,
        origin: String::new(),
    })
}

/// The built-in playbooks.
pub fn builtin() -> Vec<Playbook> {
    load(&[("playbooks/default.yaml", DEFAULT)]).expect("the built-in playbooks load")
}

/// The built-in playbooks followed by those in `paths` (which may replace them by name).
pub fn from_paths(paths: &[std::path::PathBuf]) -> Result<Vec<Playbook>, String> {
    let mut files = vec![("playbooks/default.yaml".to_string(), DEFAULT.to_string())];
    for p in paths {
        let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
        files.push((p.display().to_string(), text));
    }
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    load(&refs).map_err(|e| e.join("\n"))
}

impl Playbook {
    /// Whether the incident matches everything but labels (which need the cluster:
    /// [`for_incident`]).
    pub fn matches(&self, inc: &Incident) -> bool {
        let m = &self.matcher;
        (m.techniques.is_empty() || m.techniques.iter().any(|t| inc.techniques.contains(t)))
            && (m.rules.is_empty()
                || m.rules
                    .iter()
                    .any(|r| inc.findings.iter().any(|f| &f.rule == r)))
            && m.severity.is_none_or(|s| inc.severity >= s)
            && (m.namespaces.is_empty()
                || m.namespaces.iter().any(|g| {
                    Glob::new(g)
                        .map(|g| g.compile_matcher())
                        .is_ok_and(|g| inc.blast.namespaces.iter().any(|n| g.is_match(n)))
                }))
    }
}

/// The first playbook that matches the incident, labels aside ([`for_incident`] checks them).
pub fn choose<'a>(books: &'a [Playbook], inc: &Incident) -> Option<&'a Playbook> {
    books.iter().find(|p| p.matches(inc))
}

/// The playbook for a run: the one named, else the one already answering the incident, else
/// the first that matches. A playbook with `labels` matches only when a workload in the
/// incident's scope carries them, which needs the cluster: without one (`None`), such a
/// playbook is passed over, and the error says so when nothing else matches. A playbook
/// named on the command line must fit its labels too; one already answering the incident
/// was checked when it was chosen.
pub async fn for_incident<'a>(
    books: &'a [Playbook],
    inc: &Incident,
    named: Option<&str>,
    cluster: Option<&kube::Client>,
) -> Result<&'a Playbook, String> {
    let by_name = |n: &str| {
        books
            .iter()
            .find(|b| b.name == n)
            .ok_or_else(|| format!("no playbook named '{n}' (see `palisade respond playbooks`)"))
    };
    if let Some(n) = inc.response.playbook.as_deref().filter(|_| named.is_none()) {
        return by_name(n);
    }
    if let Some(n) = named {
        let book = by_name(n)?;
        if let (Some(client), false) = (cluster, book.matcher.labels.is_empty())
            && !labels_fit(client, inc, &book.matcher.labels).await?
        {
            return Err(format!(
                "playbook '{n}' is for workloads labelled {}; none in {}'s scope is",
                show_labels(&book.matcher.labels),
                inc.id
            ));
        }
        return Ok(book);
    }
    let mut passed_over = Vec::new();
    for book in books.iter().filter(|b| b.matches(inc)) {
        if book.matcher.labels.is_empty() {
            return Ok(book);
        }
        let labels = show_labels(&book.matcher.labels);
        match cluster {
            Some(client) if labels_fit(client, inc, &book.matcher.labels).await? => {
                return Ok(book);
            }
            Some(_) => passed_over.push(format!(
                "'{}' (no workload in scope is labelled {labels})",
                book.name
            )),
            None => passed_over.push(format!(
                "'{}' (its labels {labels} need the cluster to check)",
                book.name
            )),
        }
    }
    let mut msg = format!(
        "no playbook matches {} (techniques {}; rules {})",
        inc.id,
        inc.techniques
            .iter()
            .cloned()
            .collect::<Vec<_>>()
            .join(", "),
        inc.findings
            .iter()
            .map(|f| f.rule.clone())
            .collect::<Vec<_>>()
            .join(", ")
    );
    if !passed_over.is_empty() {
        msg += &format!("; passed over: {}", passed_over.join(", "));
    }
    Err(msg + "; name one with --playbook")
}

/// Whether a workload in the incident's scope (a Deployment, StatefulSet or DaemonSet) carries
/// every one of `labels`.
async fn labels_fit(
    client: &kube::Client,
    inc: &Incident,
    labels: &BTreeMap<String, String>,
) -> Result<bool, String> {
    use crate::actions::controller;
    let scope = crate::actions::Scope::of(inc);
    let mut unread = Vec::new();
    let kinds = controller::CONTROLLERS;
    let found = controller::found(client, &scope, &kinds, "", &mut unread).await?;
    Ok(found.iter().any(|c| {
        let have = c.object.metadata.labels.as_ref();
        labels
            .iter()
            .all(|(k, v)| have.and_then(|h| h.get(k)) == Some(v))
    }))
}

fn show_labels(labels: &BTreeMap<String, String>) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Replaces `${name}` with its value; unknown names are left as they are.
pub fn expand(text: &str, vars: &BTreeMap<String, String>) -> String {
    let mut out = text.to_string();
    for (k, v) in vars {
        out = out.replace(&format!("${{{k}}}"), v);
    }
    out
}

/// Expands variables in every string of a step's action.
pub fn expand_action(a: &Action, vars: &BTreeMap<String, String>) -> Action {
    fn walk(v: &mut Value, vars: &BTreeMap<String, String>) {
        match v {
            Value::String(s) => *s = expand(s, vars),
            Value::Array(a) => a.iter_mut().for_each(|x| walk(x, vars)),
            Value::Object(o) => o.values_mut().for_each(|x| walk(x, vars)),
            _ => {}
        }
    }
    let mut v = serde_json::to_value(a).unwrap_or(Value::Null);
    walk(&mut v, vars);
    serde_json::from_value(v).unwrap_or_else(|_| a.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_playbooks_load() {
        let b = builtin();
        assert!(b.iter().any(|p| p.name == "contain-container-escape"));
    }

    #[test]
    fn errors_name_the_place_and_the_problem() {
        let text = "- playbook: x\n  match: {severity: huge}\n  steps:\n    - action: quarantine\n- playbook: y\n  match: {}\n  steps:\n    - action: scale\n      replicas: 0\n      approval: maybe\n- playbook: z\n  match: {}\n  steps:\n    - action: teleport\n";
        let errs = load(&[("p.yaml", text)]).unwrap_err();
        assert_eq!(errs.len(), 3, "{errs:?}");
        assert!(
            errs[0].starts_with("p.yaml:2: playbook 'x': severity 'huge'"),
            "{}",
            errs[0]
        );
        assert!(
            errs[1].starts_with("p.yaml:8: playbook 'y': step: approval"),
            "{}",
            errs[1]
        );
        assert!(
            errs[2].contains("p.yaml:14") && errs[2].contains("teleport"),
            "{}",
            errs[2]
        );
    }

    #[test]
    fn variables_expand_in_actions() {
        let a: Action = serde_json::from_value(
            serde_json::json!({"action": "rollback", "env": "MODEL_VERSION=${good}"}),
        )
        .unwrap();
        let vars = BTreeMap::from([("good".to_string(), "v6".to_string())]);
        let Action::Rollback { env, .. } = expand_action(&a, &vars) else {
            panic!()
        };
        assert_eq!(env.as_deref(), Some("MODEL_VERSION=v6"));
    }
}
