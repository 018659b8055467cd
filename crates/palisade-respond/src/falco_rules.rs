//! Palisade's ML rules for Falco, and a checker for Falco's rules-file format.
//!
//! [`RULES`] is the file `palisade respond falco-rules` prints. [`check`] reads rules files as
//! Falco's engine would — the item kinds and their keys, priorities, and the condition
//! language (and/or/not, comparison and list operators, `exists`, fields with `[arg]`,
//! macros and lists by name) — and reports each problem with its file and line. The tests run
//! it over Falco's own default, incubating and sandbox rules (it must accept all of them) and
//! over Palisade's.

use palisade_k8s::yaml::{self, Node, NodeKind};
use std::collections::HashSet;

pub const RULES: &str = include_str!("../falco/palisade_ml_rules.yaml");

const PRIORITIES: [&str; 9] = [
    "emergency",
    "alert",
    "critical",
    "error",
    "warning",
    "notice",
    "informational",
    "info",
    "debug",
];
const BINARY: [&str; 20] = [
    "=",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "contains",
    "icontains",
    "bcontains",
    "startswith",
    "bstartswith",
    "endswith",
    "glob",
    "iglob",
    "regex",
    "in",
    "intersects",
    "pmatch",
    "bicontains",
];
const LIST_OPS: [&str; 3] = ["in", "intersects", "pmatch"];
const TRANSFORMERS: [&str; 5] = ["tolower", "toupper", "b64", "basename", "len"];

/// What the files define, carried from one file to the next (Falco loads them in order).
#[derive(Default)]
pub struct Defined {
    pub macros: HashSet<String>,
    pub lists: HashSet<String>,
    pub rules: HashSet<String>,
    /// Macro references (where, in what, which), resolved by [`unresolved`] once every file
    /// is read: Falco allows a macro to be used above its definition.
    uses: Vec<(String, String, String)>,
}

/// The macro references no file defined.
pub fn unresolved(d: &Defined) -> Vec<String> {
    d.uses
        .iter()
        .filter(|(_, _, m)| !d.macros.contains(m))
        .map(|(at, what, m)| format!("{at}: {what}: '{m}' is not a defined macro"))
        .collect()
}

/// Checks files in order, as Falco loads them: every syntax problem, then every macro used
/// but never defined.
pub fn check_all(files: &[(&str, &str)]) -> Vec<String> {
    let mut d = Defined::default();
    let mut errs: Vec<String> = files
        .iter()
        .flat_map(|(f, t)| check(f, t, &mut d))
        .collect();
    errs.extend(unresolved(&d));
    errs
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Open,
    Close,
    Comma,
    Word(String),
    Quoted(String),
}

fn after_operator(out: &[Tok]) -> bool {
    matches!(out.last(), Some(Tok::Word(w)) if BINARY.contains(&w.as_str()) && !LIST_OPS.contains(&w.as_str()))
}

fn tokens(s: &str) -> Result<Vec<Tok>, String> {
    let c: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        if ch.is_whitespace() {
            i += 1;
        } else if ch == '(' {
            out.push(Tok::Open);
            i += 1;
        } else if ch == ')' {
            out.push(Tok::Close);
            i += 1;
        } else if ch == ',' {
            out.push(Tok::Comma);
            i += 1;
        } else if ch == '"' || ch == '\'' {
            let start = i;
            i += 1;
            let mut text = String::new();
            while i < c.len() && c[i] != ch {
                if c[i] == '\\' && i + 1 < c.len() {
                    i += 1;
                }
                text.push(c[i]);
                i += 1;
            }
            if i >= c.len() {
                return Err(format!(
                    "unterminated string starting at column {}",
                    start + 1
                ));
            }
            i += 1;
            out.push(Tok::Quoted(text));
        } else if "=!<>".contains(ch) && !after_operator(&out) {
            let mut op = ch.to_string();
            if i + 1 < c.len() && c[i + 1] == '=' {
                op.push('=');
            }
            i += op.len();
            out.push(Tok::Word(op));
        } else {
            // A field, a macro, a keyword or a bare value. Right after an operator the value
            // runs to the next space (`evt.dir=<`, `!= <NA>`).
            let value = after_operator(&out);
            let start = i;
            let mut depth = 0;
            while i < c.len() {
                let x = c[i];
                if x == '[' {
                    depth += 1;
                } else if x == ']' {
                    depth -= 1;
                } else if depth == 0
                    && (x.is_whitespace() || "(),".contains(x) || (!value && "=!<>".contains(x)))
                {
                    break;
                }
                i += 1;
            }
            if i == start {
                i += 1;
            }
            out.push(Tok::Word(c[start..i].iter().collect()));
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
    /// Macros named in this condition (resolved by [`unresolved`] once every file is read).
    macros: Vec<String>,
}

fn is_field(w: &str) -> bool {
    let name = w.split('[').next().unwrap_or("");
    name.contains('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        && (!w.contains('[') || w.ends_with(']'))
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn word(&self) -> Option<&str> {
        match self.peek() {
            Some(Tok::Word(w)) => Some(w),
            _ => None,
        }
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn or(&mut self) -> Result<(), String> {
        self.and()?;
        while self.word() == Some("or") {
            self.pos += 1;
            self.and()?;
        }
        Ok(())
    }

    fn and(&mut self) -> Result<(), String> {
        self.not()?;
        while self.word() == Some("and") {
            self.pos += 1;
            self.not()?;
        }
        Ok(())
    }

    fn not(&mut self) -> Result<(), String> {
        if self.word() == Some("not") {
            self.pos += 1;
            return self.not();
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<(), String> {
        match self.next() {
            Some(Tok::Open) => {
                self.or()?;
                match self.next() {
                    Some(Tok::Close) => Ok(()),
                    other => Err(format!("expected ')', found {}", show(other.as_ref()))),
                }
            }
            Some(Tok::Word(w))
                if TRANSFORMERS.contains(&w.as_str()) && self.peek() == Some(&Tok::Open) =>
            {
                self.pos += 1;
                match self.next() {
                    Some(Tok::Word(f)) if is_field(&f) => {}
                    other => {
                        return Err(format!(
                            "{w}() takes a field, found {}",
                            show(other.as_ref())
                        ));
                    }
                }
                if self.next() != Some(Tok::Close) {
                    return Err(format!("{w}( is not closed"));
                }
                self.comparison("a transformed field")
            }
            Some(Tok::Word(w)) if is_field(&w) => self.comparison(&w),
            Some(Tok::Word(w)) if ["and", "or"].contains(&w.as_str()) => {
                Err(format!("'{w}' where a condition was expected"))
            }
            Some(Tok::Word(w)) => {
                if w.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    self.macros.push(w);
                    Ok(())
                } else {
                    Err(format!(
                        "'{w}' is neither a field (class.name) nor a macro name"
                    ))
                }
            }
            other => Err(format!(
                "expected a condition, found {}",
                show(other.as_ref())
            )),
        }
    }

    fn comparison(&mut self, field: &str) -> Result<(), String> {
        let Some(op) = self.word().map(str::to_string) else {
            return Err(format!("field {field} needs an operator"));
        };
        if op == "exists" {
            self.pos += 1;
            return Ok(());
        }
        if !BINARY.contains(&op.as_str()) {
            return Err(format!("'{op}' is not an operator (after {field})"));
        }
        self.pos += 1;
        if LIST_OPS.contains(&op.as_str()) {
            if self.next() != Some(Tok::Open) {
                return Err(format!("'{op}' takes a parenthesised list (after {field})"));
            }
            if self.peek() == Some(&Tok::Close) {
                self.pos += 1;
                return Ok(());
            }
            loop {
                match self.next() {
                    Some(Tok::Word(_)) | Some(Tok::Quoted(_)) => {}
                    other => {
                        return Err(format!(
                            "expected a list item, found {}",
                            show(other.as_ref())
                        ));
                    }
                }
                match self.next() {
                    Some(Tok::Comma) => continue,
                    Some(Tok::Close) => return Ok(()),
                    other => {
                        return Err(format!(
                            "expected ',' or ')' in the list, found {}",
                            show(other.as_ref())
                        ));
                    }
                }
            }
        }
        match self.next() {
            Some(Tok::Quoted(_)) => {}
            Some(Tok::Word(v)) if !["and", "or", "not"].contains(&v.as_str()) => {}
            other => {
                return Err(format!(
                    "'{op}' after {field} has no value (found {})",
                    show(other.as_ref())
                ));
            }
        }
        // `val(field)` (or a transformer) on the right-hand side.
        if self.peek() == Some(&Tok::Open) {
            self.pos += 1;
            match (self.next(), self.next()) {
                (Some(Tok::Word(f)), Some(Tok::Close)) if is_field(&f) => {}
                _ => return Err("a field reference on the right needs val(field.name)".into()),
            }
        }
        Ok(())
    }
}

fn show(t: Option<&Tok>) -> String {
    match t {
        None => "the end".into(),
        Some(Tok::Open) => "'('".into(),
        Some(Tok::Close) => "')'".into(),
        Some(Tok::Comma) => "','".into(),
        Some(Tok::Word(w)) => format!("'{w}'"),
        Some(Tok::Quoted(q)) => format!("\"{q}\""),
    }
}

/// Parses a condition; returns the macro names it uses.
pub fn condition(text: &str) -> Result<Vec<String>, String> {
    let mut p = Parser {
        toks: tokens(text)?,
        pos: 0,
        macros: Vec::new(),
    };
    p.or()?;
    if p.pos < p.toks.len() {
        return Err(format!(
            "unexpected {} after a complete condition",
            show(p.peek())
        ));
    }
    Ok(p.macros)
}

fn s<'a>(n: &'a Node, k: &str) -> Option<&'a str> {
    n.get(k).and_then(Node::as_str)
}

fn keys(n: &Node) -> Vec<&str> {
    n.entries().filter_map(|(k, _)| k.as_str()).collect()
}

/// Checks one rules file's syntax, adding what it defines to `defined`. Problems come as
/// `file:line: …`; macro references are checked by [`unresolved`] after the last file.
pub fn check(file: &str, text: &str, defined: &mut Defined) -> Vec<String> {
    let parsed = yaml::parse(text, 0);
    if let Some(e) = parsed.error {
        return vec![format!("{file}:{}:{}: {}", e.line, e.column, e.message)];
    }
    let mut errs = Vec::new();
    for doc in &parsed.documents {
        let items = match &doc.root.kind {
            NodeKind::Seq(items) => items,
            NodeKind::Scalar { text, .. } if text.is_empty() => continue,
            _ => {
                errs.push(format!(
                    "{file}:{}: a rules file is a YAML list",
                    doc.root.pos.line
                ));
                continue;
            }
        };
        for it in items.iter() {
            let at = format!("{file}:{}", it.pos.line);
            let ks = keys(it);
            let kind = [
                "rule",
                "macro",
                "list",
                "required_engine_version",
                "required_plugin_versions",
            ]
            .into_iter()
            .find(|k| ks.contains(k));
            let appending =
                it.get("append").is_some_and(Node::is_true) || it.get("override").is_some();
            let allowed: &[&str] = match kind {
                Some("rule") => &[
                    "rule",
                    "desc",
                    "condition",
                    "output",
                    "priority",
                    "tags",
                    "enabled",
                    "source",
                    "exceptions",
                    "append",
                    "override",
                    "warn_evttypes",
                    "skip-if-unknown-filter",
                    "required_engine_version",
                ],
                Some("macro") => &["macro", "condition", "append", "override"],
                Some("list") => &["list", "items", "append", "override"],
                Some(_) => &["required_engine_version", "required_plugin_versions"],
                None => {
                    errs.push(format!("{at}: an item needs one of rule, macro, list, required_engine_version, required_plugin_versions"));
                    continue;
                }
            };
            for k in &ks {
                if !allowed.contains(k) {
                    errs.push(format!(
                        "{at}: unknown key '{k}' in a {} item",
                        kind.unwrap_or("")
                    ));
                }
            }
            let cond =
                |c: Option<&str>, what: &str, errs: &mut Vec<String>, defined: &mut Defined| {
                    let Some(c) = c else { return };
                    match condition(c) {
                        Ok(used) => {
                            for m in used {
                                defined.uses.push((at.clone(), what.to_string(), m));
                            }
                        }
                        Err(e) => errs.push(format!("{at}: {what}: {e}")),
                    }
                };
            match kind {
                Some("list") => {
                    let name = s(it, "list").unwrap_or("");
                    if it
                        .get("items")
                        .is_none_or(|i| !matches!(i.kind, NodeKind::Seq(_)))
                    {
                        errs.push(format!("{at}: list '{name}' needs 'items' as a YAML list"));
                    }
                    defined.lists.insert(name.to_string());
                }
                Some("macro") => {
                    let name = s(it, "macro").unwrap_or("").to_string();
                    if s(it, "condition").is_none() && !appending {
                        errs.push(format!("{at}: macro '{name}' has no condition"));
                    }
                    cond(
                        s(it, "condition"),
                        &format!("macro '{name}'"),
                        &mut errs,
                        defined,
                    );
                    defined.macros.insert(name);
                }
                Some("rule") => {
                    let name = s(it, "rule").unwrap_or("").to_string();
                    if !appending {
                        for k in ["desc", "condition", "output", "priority"] {
                            if it.get(k).is_none()
                                && !(k != "condition" && defined.rules.contains(&name))
                            {
                                errs.push(format!("{at}: rule '{name}' has no '{k}'"));
                            }
                        }
                    }
                    if let Some(p) = s(it, "priority")
                        && !PRIORITIES.contains(&p.to_ascii_lowercase().as_str())
                    {
                        errs.push(format!(
                            "{at}: rule '{name}': priority '{p}' is not one of {}",
                            PRIORITIES.join(", ")
                        ));
                    }
                    if let Some(t) = it.get("tags")
                        && !matches!(t.kind, NodeKind::Seq(_))
                    {
                        errs.push(format!("{at}: rule '{name}': tags must be a list"));
                    }
                    cond(
                        s(it, "condition"),
                        &format!("rule '{name}'"),
                        &mut errs,
                        defined,
                    );
                    defined.rules.insert(name);
                }
                _ => {}
            }
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_parse_as_falco_writes_them() {
        assert_eq!(
            condition("spawned_process and not (my_macro or proc.name = sh)").unwrap(),
            ["spawned_process", "my_macro"],
            "macro references are returned for resolving later"
        );
        for ok in [
            "spawned_process and proc.name in (sh, bash) and not k8s.pod.label[app] = \"x\"",
            "evt.dir=< and fd.typechar='f' and fd.num>=0",
            "(evt.type in (open,openat) and fd.name pmatch (my_dirs)) or proc.aname[2] exists",
            "tolower(proc.name) = bash and fd.name = val(proc.exepath)",
            "k8s.ns.name = \"<NA>\" and proc.pname != <NA>",
            "evt.type in ()",
        ] {
            assert!(condition(ok).is_ok(), "{ok}: {:?}", condition(ok));
        }
        for (bad, why) in [
            ("proc.name = ", "no value"),
            ("(proc.name = sh", "expected ')'"),
            ("proc.name in sh", "parenthesised list"),
            ("proc.name frobs x", "not an operator"),
            ("proc.name = sh and", "expected a condition"),
            ("proc.name = \"sh", "unterminated"),
        ] {
            let e = condition(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }
}
