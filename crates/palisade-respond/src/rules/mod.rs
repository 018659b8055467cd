//! Detection rules as data.
//!
//! A rules file is a YAML list of `list`, `macro` and `rule` items, in Falco's shape:
//!
//! ```yaml
//! - list: shell_binaries
//!   items: [bash, sh, zsh]
//! - macro: pod_exec
//!   condition: objectRef.resource = pods and objectRef.subresource in (exec, attach)
//! - rule: pod-exec-or-attach
//!   code: RSP001
//!   desc: Someone opened a shell or attached to a container.
//!   source: k8s_audit                 # falco | k8s_audit | guard | generic; absent: any
//!   condition: pod_exec and verb in (create, get)
//!   severity: medium                  # or from-source
//!   techniques: [T1609]
//!   correlate: [workload, node]       # the keys incidents join on (default: workload, node,
//!                                     # tenant, model)
//!   threshold: {count: 20, within: 60s, by: [subject.tenant]}   # optional: fire on the Nth
//!   fallback: true                    # only when no other rule of its source matched
//!   output: "exec into %{subject.pod} by %{user.username}"
//! ```
//!
//! The shipped rules (`rules/default.yaml`) load first; user files come after and may add
//! rules, replace one by giving its name again, switch one off with `enabled: false`, and extend a
//! list with `append: true`. Errors name the file, line and column and what is wrong; conditions
//! are in [`condition`], field paths in [`field`].

pub mod condition;
pub mod field;

use crate::signal::Source;
use condition::{Condition, Scope};
use palisade_core::Severity;
use palisade_k8s::yaml::{self, Node, NodeKind};

/// The shipped detection rules.
pub const DEFAULT_RULES: &str = include_str!("../../rules/default.yaml");

/// What an incident is keyed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyKind {
    Workload,
    Node,
    Tenant,
    Model,
    Namespace,
    Pod,
    User,
}

impl KeyKind {
    pub const ALL: [KeyKind; 7] = [
        KeyKind::Workload,
        KeyKind::Node,
        KeyKind::Tenant,
        KeyKind::Model,
        KeyKind::Namespace,
        KeyKind::Pod,
        KeyKind::User,
    ];
    pub const DEFAULT: [KeyKind; 4] = [
        KeyKind::Workload,
        KeyKind::Node,
        KeyKind::Tenant,
        KeyKind::Model,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::Workload => "workload",
            KeyKind::Node => "node",
            KeyKind::Tenant => "tenant",
            KeyKind::Model => "model",
            KeyKind::Namespace => "namespace",
            KeyKind::Pod => "pod",
            KeyKind::User => "user",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleSeverity {
    Fixed(Severity),
    /// The signal's own severity (Falco's priority, the guard's severity).
    FromSource,
}

#[derive(Debug, Clone)]
pub struct Threshold {
    pub count: u64,
    pub within_secs: f64,
    pub by: Vec<field::Path>,
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    pub code: Option<String>,
    pub desc: String,
    pub source: Option<Source>,
    pub condition: Condition,
    pub condition_text: String,
    pub severity: RuleSeverity,
    pub techniques: Vec<String>,
    pub correlate: Vec<KeyKind>,
    pub threshold: Option<Threshold>,
    pub fallback: bool,
    pub output: Option<String>,
    /// `file:line` where the rule was defined.
    pub origin: String,
}

/// The rules in force, in definition order.
#[derive(Debug)]
pub struct RuleSet {
    pub rules: Vec<Rule>,
}

struct Item<'a> {
    origin: String,
    node: &'a Node,
}

impl RuleSet {
    /// The shipped rules only.
    pub fn builtin() -> RuleSet {
        RuleSet::load(&[("default.yaml", DEFAULT_RULES)]).expect("the shipped rules are valid")
    }

    /// The shipped rules followed by the given files (name, text).
    pub fn with_files(files: &[(String, String)]) -> Result<RuleSet, Vec<String>> {
        let mut all: Vec<(&str, &str)> = vec![("default.yaml", DEFAULT_RULES)];
        all.extend(files.iter().map(|(n, t)| (n.as_str(), t.as_str())));
        RuleSet::load(&all)
    }

    /// The shipped rules followed by these files; one error listing every problem.
    pub fn from_paths(paths: &[std::path::PathBuf]) -> Result<RuleSet, String> {
        let files = paths
            .iter()
            .map(|p| {
                std::fs::read_to_string(p)
                    .map(|t| (p.display().to_string(), t))
                    .map_err(|e| format!("{}: cannot read: {e}", p.display()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        RuleSet::with_files(&files)
            .map_err(|errs| format!("the detection rules have errors:\n  {}", errs.join("\n  ")))
    }

    /// Rules from files in order; every problem is reported, each with its place.
    pub fn load(files: &[(&str, &str)]) -> Result<RuleSet, Vec<String>> {
        let mut errors = Vec::new();
        let parsed: Vec<(&str, yaml::Parsed)> = files
            .iter()
            .map(|(name, text)| (*name, yaml::parse(text, 0)))
            .collect();
        let mut items = Vec::new();
        for (name, p) in &parsed {
            if let Some(e) = &p.error {
                errors.push(format!("{name}:{}:{}: {}", e.line, e.column, e.message));
                continue;
            }
            for doc in &p.documents {
                match &doc.root.kind {
                    NodeKind::Seq(list) => items.extend(list.iter().map(|node| Item {
                        origin: format!("{name}:{}", node.pos.line),
                        node,
                    })),
                    NodeKind::Scalar { text, .. } if text.is_empty() => {}
                    _ => errors.push(format!(
                        "{name}:{}: a rules file is a YAML list of `- list:`, `- macro:` and `- rule:` items",
                        doc.root.pos.line
                    )),
                }
            }
        }
        let mut scope = Scope::default();
        for it in items.iter().filter(|i| i.node.get("list").is_some()) {
            if let Err(e) = add_list(it, &mut scope) {
                errors.push(format!("{}: {e}", it.origin));
            }
        }
        for it in items.iter().filter(|i| i.node.get("macro").is_some()) {
            let res = (|| {
                let name = text(it.node, "macro")?;
                let cond = text(it.node, "condition")?;
                let c = condition::parse(&cond, &scope)
                    .map_err(|e| format!("macro '{name}': condition: {e}"))?;
                scope.macros.insert(name, c);
                Ok::<_, String>(())
            })();
            if let Err(e) = res {
                errors.push(format!("{}: {e}", it.origin));
            }
        }
        let mut rules: Vec<Rule> = Vec::new();
        for it in items.iter() {
            let n = it.node;
            if n.get("list").is_some() || n.get("macro").is_some() {
                continue;
            }
            if n.get("rule").is_none() {
                errors.push(format!(
                    "{}: an item needs one of 'rule', 'macro' or 'list'",
                    it.origin
                ));
                continue;
            }
            match rule(it, &scope) {
                Ok((r, enabled)) => {
                    rules.retain(|x| x.name != r.name);
                    if enabled {
                        rules.push(r);
                    }
                }
                Err(e) => errors.push(format!("{}: {e}", it.origin)),
            }
        }
        let mut codes = std::collections::HashMap::new();
        for r in &rules {
            if let Some(c) = &r.code
                && let Some(other) = codes.insert(c.clone(), r.name.clone())
            {
                errors.push(format!(
                    "{}: rule '{}' reuses code {c} of rule '{other}'",
                    r.origin, r.name
                ));
            }
        }
        if errors.is_empty() {
            Ok(RuleSet { rules })
        } else {
            Err(errors)
        }
    }

    pub fn get(&self, name: &str) -> Option<&Rule> {
        self.rules
            .iter()
            .find(|r| r.name == name || r.code.as_deref() == Some(name))
    }
}

const RULE_KEYS: [&str; 12] = [
    "rule",
    "code",
    "desc",
    "source",
    "condition",
    "severity",
    "techniques",
    "correlate",
    "threshold",
    "fallback",
    "output",
    "enabled",
];

fn text(n: &Node, key: &str) -> Result<String, String> {
    match n.get(key) {
        Some(v) => v
            .as_nonempty_str()
            .map(str::to_string)
            .ok_or_else(|| format!("'{key}' must be a non-empty string")),
        None => Err(format!("'{key}' is missing")),
    }
}

fn strings(n: &Node, key: &str) -> Result<Vec<String>, String> {
    match n.get(key) {
        None => Ok(Vec::new()),
        Some(v) if matches!(v.kind, NodeKind::Seq(_)) => v
            .items()
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("'{key}' must be a list of strings"))
            })
            .collect(),
        Some(_) => Err(format!("'{key}' must be a list")),
    }
}

fn add_list(it: &Item, scope: &mut Scope) -> Result<(), String> {
    let name = text(it.node, "list")?;
    let items = strings(it.node, "items")?;
    let append = it.node.get("append").is_some_and(Node::is_true);
    match (append, scope.lists.get_mut(&name)) {
        (true, Some(existing)) => existing.extend(items),
        (true, None) => {
            return Err(format!(
                "list '{name}' has append: true but no earlier list of that name"
            ));
        }
        (false, _) => {
            scope.lists.insert(name, items);
        }
    }
    Ok(())
}

/// Seconds from `30`, `30s`, `5m`, `2h`.
pub fn duration_secs(s: &str) -> Option<f64> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let n: f64 = num.trim().parse().ok()?;
    let mult = match unit {
        "ms" => 0.001,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86_400.0,
        _ => return None,
    };
    (n.is_finite() && n > 0.0).then_some(n * mult)
}

fn rule(it: &Item, scope: &Scope) -> Result<(Rule, bool), String> {
    let n = it.node;
    let name = text(n, "rule")?;
    let ctx = |e: String| format!("rule '{name}': {e}");
    for (k, _) in n.entries() {
        let k = k.as_str().unwrap_or("");
        if !RULE_KEYS.contains(&k) {
            return Err(ctx(format!(
                "unknown key '{k}' (known: {})",
                RULE_KEYS.join(", ")
            )));
        }
    }
    let enabled = n.get("enabled").is_none_or(|e| e.as_bool() != Some(false));
    let condition_text = text(n, "condition").map_err(ctx)?;
    let condition =
        condition::parse(&condition_text, scope).map_err(|e| ctx(format!("condition: {e}")))?;
    let source = match n.get("source").and_then(Node::as_str) {
        None | Some("any") => None,
        Some(s) => Some(Source::parse(s).ok_or_else(|| {
            ctx(format!(
                "source '{s}' is not one of falco, k8s_audit, guard, generic, any"
            ))
        })?),
    };
    let severity = match n.get("severity").and_then(Node::as_str) {
        None => return Err(ctx("'severity' is missing".into())),
        Some("from-source") => RuleSeverity::FromSource,
        Some(s) => RuleSeverity::Fixed(s.parse().map_err(|_| {
            ctx(format!(
                "severity '{s}' is not one of critical, high, medium, low, info, from-source"
            ))
        })?),
    };
    let techniques = strings(n, "techniques").map_err(ctx)?;
    if let Some(bad) = techniques.iter().find(|t| !crate::ingest::is_technique(t)) {
        return Err(ctx(format!(
            "technique '{bad}' is not an ATT&CK (T1234) or ATLAS (AML.T0001) ID"
        )));
    }
    if let Some(bad) = techniques
        .iter()
        .find(|t| t.starts_with("AML.") && crate::crosswalk::atlas(t).is_none())
    {
        return Err(ctx(format!("'{bad}' is not a technique in MITRE ATLAS")));
    }
    let correlate = match n.get("correlate") {
        None => KeyKind::DEFAULT.to_vec(),
        Some(_) => strings(n, "correlate")
            .map_err(ctx)?
            .iter()
            .map(|k| {
                KeyKind::ALL.into_iter().find(|x| x.as_str() == k).ok_or_else(|| {
                    ctx(format!("correlate key '{k}' is not one of workload, node, tenant, model, namespace, pod, user"))
                })
            })
            .collect::<Result<_, _>>()?,
    };
    let threshold = match n.get("threshold") {
        None => None,
        Some(t) => {
            let count = t
                .get("count")
                .and_then(Node::as_i64)
                .filter(|c| *c >= 1)
                .ok_or_else(|| ctx("threshold.count must be a whole number ≥ 1".into()))?
                as u64;
            let within = t
                .get("within")
                .and_then(Node::as_str)
                .and_then(duration_secs)
                .ok_or_else(
                    || ctx("threshold.within must be a duration like 60s, 5m, 1h".into()),
                )?;
            let by = strings(t, "by")
                .map_err(|e| ctx(format!("threshold.{e}")))?
                .iter()
                .map(|p| field::parse_path(p).map_err(|e| ctx(format!("threshold.by: {e}"))))
                .collect::<Result<_, _>>()?;
            Some(Threshold {
                count,
                within_secs: within,
                by,
            })
        }
    };
    Ok((
        Rule {
            code: n
                .get("code")
                .and_then(Node::as_nonempty_str)
                .map(str::to_string),
            desc: n
                .get("desc")
                .and_then(Node::as_str)
                .unwrap_or("")
                .trim()
                .to_string(),
            source,
            condition,
            condition_text,
            severity,
            techniques,
            correlate,
            threshold,
            fallback: n.get("fallback").is_some_and(Node::is_true),
            output: n
                .get("output")
                .and_then(Node::as_nonempty_str)
                .map(str::to_string),
            origin: it.origin.clone(),
            name,
        },
        enabled,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_rules_load_with_unique_codes() {
        let set = RuleSet::builtin();
        assert!(set.rules.len() >= 20, "{}", set.rules.len());
        assert!(
            set.rules
                .iter()
                .all(|r| r.code.is_some() && !r.desc.is_empty())
        );
    }

    #[test]
    fn user_files_override_disable_and_extend() {
        let user = r#"
- list: secret_readers
  append: true
  items: [vault-agent]
- rule: port-forward
  enabled: false
  condition: verb = x
  severity: low
- rule: my-rule
  code: USR001
  source: generic
  condition: rule = miner
  severity: high
"#;
        let set = RuleSet::with_files(&[("mine.yaml".into(), user.into())]).unwrap();
        assert!(set.get("port-forward").is_none());
        assert_eq!(set.get("USR001").unwrap().origin, "mine.yaml:9");
    }

    #[test]
    fn errors_name_the_file_line_and_problem() {
        let bad = r#"
- rule: a
  condition: verb in (x
  severity: high
- rule: b
  condition: verb = x
  severity: loud
- rule: c
  condition: verb = x
  severity: low
  techniques: [AML.T9999]
- rule: d
  condition: verb = x
  severity: low
  colour: red
- macro: m
  condition: nope
- list: l
  append: true
  items: [a]
- rule: e
  condition: verb = x
  severity: low
  threshold: {count: 0, within: 5m}
"#;
        let errs = RuleSet::load(&[("bad.yaml", bad)]).unwrap_err();
        let all = errs.join("\n");
        for want in [
            "bad.yaml:2: rule 'a': condition: the list starting at column 9",
            "bad.yaml:5: rule 'b': severity 'loud'",
            "bad.yaml:8: rule 'c': 'AML.T9999' is not a technique in MITRE ATLAS",
            "bad.yaml:12: rule 'd': unknown key 'colour'",
            "bad.yaml:16: macro 'm': condition: 'nope'",
            "bad.yaml:18: list 'l' has append: true",
            "bad.yaml:21: rule 'e': threshold.count",
        ] {
            assert!(all.contains(want), "missing {want:?} in:\n{all}");
        }
        let errs = RuleSet::load(&[("x.yaml", "rule: [")]).unwrap_err();
        assert!(
            errs[0].starts_with("x.yaml:") && errs[0].contains("did not find"),
            "{errs:?}"
        );
    }
}
