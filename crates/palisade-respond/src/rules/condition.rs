//! The condition language of detection rules: Falco's shape, over JSON paths.
//!
//! ```text
//! verb in (create, get) and objectRef.subresource in (exec, attach)
//!   and not user.username startswith "system:"
//! requestObject.spec.containers[*].securityContext.privileged = true
//! output_fields.proc.name exists and model_serving      # a macro
//! ```
//!
//! Grammar (`not` binds tightest, then `and`, then `or`; parentheses group):
//!
//! ```text
//! expr    := and ("or" and)*          and := unary ("and" unary)*
//! unary   := "not" unary | "(" expr ")" | MACRO | FIELD test
//! test    := "exists" | OP value | "in" "(" value ("," value)* ")" | "in" LIST
//! OP      := = != < <= > >= contains icontains startswith endswith glob
//! value   := 'quoted' | "quoted" | bare-word | number     (a LIST name inside "(…)" expands)
//! ```
//!
//! A field is a path into the signal's JSON ([`super::field`]); when it yields several values
//! (arrays, `[*]`), a test holds when any value passes it. `a != b` is `not a = b`: it holds
//! when no value equals.

use super::field::{self, Doc, Path};
use serde_json::Value;
use std::collections::HashMap;

#[derive(Debug, Clone)]
pub enum Condition {
    And(Vec<Condition>),
    Or(Vec<Condition>),
    Not(Box<Condition>),
    Test { path: Path, test: Test },
}

#[derive(Debug, Clone)]
pub enum Test {
    Exists,
    Eq(String),
    Lt(f64),
    Le(f64),
    Gt(f64),
    Ge(f64),
    In(Vec<String>),
    Contains(String),
    IContains(String),
    StartsWith(String),
    EndsWith(String),
    /// Any of the patterns (`glob '*x*'` or `glob (a, b, list)`).
    Glob(Vec<globset::GlobMatcher>),
}

/// Named lists and macros a condition may use.
#[derive(Default)]
pub struct Scope {
    pub lists: HashMap<String, Vec<String>>,
    pub macros: HashMap<String, Condition>,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Quoted(String),
    Open,
    Close,
    Comma,
    Op(&'static str),
}

fn lex(text: &str) -> Result<Vec<(usize, Tok)>, String> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'(' => {
                out.push((start, Tok::Open));
                i += 1
            }
            b')' => {
                out.push((start, Tok::Close));
                i += 1
            }
            b',' => {
                out.push((start, Tok::Comma));
                i += 1
            }
            b'\'' | b'"' => {
                let end = text[i + 1..]
                    .find(c as char)
                    .ok_or_else(|| format!("unterminated string starting at column {}", i + 1))?;
                out.push((start, Tok::Quoted(text[i + 1..i + 1 + end].to_string())));
                i += end + 2;
            }
            b'=' => {
                out.push((start, Tok::Op("=")));
                i += 1
            }
            b'!' | b'<' | b'>' => {
                let two = b.get(i + 1) == Some(&b'=');
                let op = match (c, two) {
                    (b'!', true) => "!=",
                    (b'<', true) => "<=",
                    (b'>', true) => ">=",
                    (b'<', false) => "<",
                    (b'>', false) => ">",
                    _ => return Err(format!("unexpected '!' at column {}", i + 1)),
                };
                out.push((start, Tok::Op(op)));
                i += if two { 2 } else { 1 };
            }
            _ => {
                while i < b.len() && !b" \t\n\r(),=!<>'\"".contains(&b[i]) {
                    i += 1;
                }
                out.push((start, Tok::Word(text[start..i].to_string())));
            }
        }
    }
    Ok(out)
}

struct Parser<'a> {
    toks: Vec<(usize, Tok)>,
    at: usize,
    scope: &'a Scope,
}

const WORD_OPS: [&str; 4] = ["contains", "icontains", "startswith", "endswith"];

/// Parses a condition; macros and lists must already be in `scope`. The error gives the column.
pub fn parse(text: &str, scope: &Scope) -> Result<Condition, String> {
    let mut p = Parser {
        toks: lex(text)?,
        at: 0,
        scope,
    };
    if p.toks.is_empty() {
        return Err("the condition is empty".into());
    }
    let c = p.or()?;
    match p.toks.get(p.at) {
        None => Ok(c),
        Some((col, t)) => Err(format!("unexpected {} at column {}", describe(t), col + 1)),
    }
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Word(w) => format!("'{w}'"),
        Tok::Quoted(q) => format!("string \"{q}\""),
        Tok::Open => "'('".into(),
        Tok::Close => "')'".into(),
        Tok::Comma => "','".into(),
        Tok::Op(o) => format!("'{o}'"),
    }
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at).map(|(_, t)| t)
    }

    fn col(&self) -> usize {
        self.toks
            .get(self.at)
            .map(|(c, _)| c + 1)
            .unwrap_or_else(|| self.toks.last().map(|(c, _)| c + 2).unwrap_or(1))
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.at).map(|(_, t)| t.clone());
        self.at += 1;
        t
    }

    fn keyword(&self, k: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(w)) if w == k)
    }

    fn or(&mut self) -> Result<Condition, String> {
        let mut parts = vec![self.and()?];
        while self.keyword("or") {
            self.at += 1;
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 {
            parts.pop().unwrap()
        } else {
            Condition::Or(parts)
        })
    }

    fn and(&mut self) -> Result<Condition, String> {
        let mut parts = vec![self.unary()?];
        while self.keyword("and") {
            self.at += 1;
            parts.push(self.unary()?);
        }
        Ok(if parts.len() == 1 {
            parts.pop().unwrap()
        } else {
            Condition::And(parts)
        })
    }

    fn unary(&mut self) -> Result<Condition, String> {
        let col = self.col();
        match self.next() {
            Some(Tok::Word(w)) if w == "not" => Ok(Condition::Not(Box::new(self.unary()?))),
            Some(Tok::Open) => {
                let c = self.or()?;
                match self.next() {
                    Some(Tok::Close) => Ok(c),
                    _ => Err(format!("missing ')' for the '(' at column {col}")),
                }
            }
            Some(Tok::Word(w)) if w == "and" || w == "or" => {
                Err(format!("'{w}' at column {col} has nothing before it"))
            }
            Some(Tok::Word(w)) => {
                let ends_here = matches!(self.peek(), None | Some(Tok::Close))
                    || self.keyword("and")
                    || self.keyword("or");
                if ends_here {
                    return match self.scope.macros.get(&w) {
                        Some(m) => Ok(m.clone()),
                        None => Err(format!(
                            "'{w}' at column {col} is neither a macro nor followed by a test \
                             (exists, =, !=, <, in, contains, startswith, …)"
                        )),
                    };
                }
                let path = field::parse_path(&w).map_err(|e| format!("column {col}: {e}"))?;
                if self.peek() == Some(&Tok::Op("!=")) {
                    self.at += 1;
                    let test = Test::Eq(self.value("!=")?);
                    return Ok(Condition::Not(Box::new(Condition::Test { path, test })));
                }
                let test = self.test(&w)?;
                Ok(Condition::Test { path, test })
            }
            Some(t) => Err(format!(
                "expected a field, 'not' or '(' at column {col}, found {}",
                describe(&t)
            )),
            None => Err(format!(
                "the condition ends where a test was expected (column {col})"
            )),
        }
    }

    fn value(&mut self, after: &str) -> Result<String, String> {
        let col = self.col();
        match self.next() {
            Some(Tok::Word(w)) | Some(Tok::Quoted(w)) => Ok(w),
            Some(t) => Err(format!(
                "expected a value after {after} at column {col}, found {}",
                describe(&t)
            )),
            None => Err(format!("expected a value after {after} at column {col}")),
        }
    }

    fn number(&mut self, op: &str) -> Result<f64, String> {
        let col = self.col();
        let v = self.value(op)?;
        v.parse()
            .map_err(|_| format!("'{op}' needs a number, found '{v}' at column {col}"))
    }

    fn test(&mut self, field: &str) -> Result<Test, String> {
        let col = self.col();
        match self.next() {
            Some(Tok::Word(w)) if w == "exists" => Ok(Test::Exists),
            Some(Tok::Op(op)) => Ok(match op {
                "=" => Test::Eq(self.value("=")?),
                "<" => Test::Lt(self.number(op)?),
                "<=" => Test::Le(self.number(op)?),
                ">" => Test::Gt(self.number(op)?),
                _ => Test::Ge(self.number(op)?),
            }),
            Some(Tok::Word(w)) if w == "in" => self.list().map(Test::In),
            Some(Tok::Word(w)) if w == "glob" => {
                let patterns = if self.peek() == Some(&Tok::Open) {
                    self.list()?
                } else {
                    vec![self.value("glob")?]
                };
                patterns
                    .iter()
                    .map(|p| {
                        globset::Glob::new(p)
                            .map(|g| g.compile_matcher())
                            .map_err(|e| format!("bad glob '{p}' at column {col}: {e}"))
                    })
                    .collect::<Result<_, _>>()
                    .map(Test::Glob)
            }
            Some(Tok::Word(w)) if WORD_OPS.contains(&w.as_str()) => {
                let v = self.value(&w)?;
                Ok(match w.as_str() {
                    "contains" => Test::Contains(v),
                    "icontains" => Test::IContains(v.to_lowercase()),
                    "startswith" => Test::StartsWith(v),
                    _ => Test::EndsWith(v),
                })
            }
            Some(t) => Err(format!(
                "expected a test after '{field}' at column {col} (exists, =, !=, <, <=, >, >=, in, \
                 contains, icontains, startswith, endswith, glob), found {}",
                describe(&t)
            )),
            None => Err(format!("'{field}' at column {col} needs a test after it")),
        }
    }

    fn list(&mut self) -> Result<Vec<String>, String> {
        let col = self.col();
        match self.next() {
            Some(Tok::Word(name)) => self
                .scope
                .lists
                .get(&name)
                .cloned()
                .ok_or_else(|| format!("'in {name}' at column {col}: no list named '{name}'")),
            Some(Tok::Open) => {
                let mut items = Vec::new();
                loop {
                    match self.next() {
                        Some(Tok::Close) if items.is_empty() => return Ok(items),
                        Some(Tok::Word(w)) => match self.scope.lists.get(&w) {
                            Some(l) => items.extend(l.iter().cloned()),
                            None => items.push(w),
                        },
                        Some(Tok::Quoted(q)) => items.push(q),
                        _ => return Err(format!("bad list starting at column {col}")),
                    }
                    match self.next() {
                        Some(Tok::Comma) => continue,
                        Some(Tok::Close) => return Ok(items),
                        _ => {
                            return Err(format!(
                                "the list starting at column {col} needs ',' between items and a ')'"
                            ));
                        }
                    }
                }
            }
            _ => Err(format!(
                "'in' at column {col} needs a list: (a, b) or a list name"
            )),
        }
    }
}

impl Condition {
    /// Whether the condition holds for a signal.
    pub fn eval(&self, doc: &Doc) -> bool {
        match self {
            Condition::And(cs) => cs.iter().all(|c| c.eval(doc)),
            Condition::Or(cs) => cs.iter().any(|c| c.eval(doc)),
            Condition::Not(c) => !c.eval(doc),
            Condition::Test { path, test } => doc.resolve(path).iter().any(|v| test.holds(v)),
        }
    }
}

fn equals(v: &Value, want: &str) -> bool {
    match v {
        Value::Number(n) => match (n.as_f64(), want.parse::<f64>()) {
            (Some(a), Ok(b)) => a == b,
            _ => false,
        },
        _ => field::text(v).is_some_and(|t| t == want),
    }
}

impl Test {
    fn holds(&self, v: &Value) -> bool {
        let num = || match v {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.parse().ok(),
            _ => None,
        };
        let text = || field::text(v);
        match self {
            Test::Exists => true,
            Test::Eq(w) => equals(v, w),
            Test::Lt(n) => num().is_some_and(|x| x < *n),
            Test::Le(n) => num().is_some_and(|x| x <= *n),
            Test::Gt(n) => num().is_some_and(|x| x > *n),
            Test::Ge(n) => num().is_some_and(|x| x >= *n),
            Test::In(items) => items.iter().any(|w| equals(v, w)),
            Test::Contains(w) => text().is_some_and(|t| t.contains(w.as_str())),
            Test::IContains(w) => text().is_some_and(|t| t.to_lowercase().contains(w.as_str())),
            Test::StartsWith(w) => text().is_some_and(|t| t.starts_with(w.as_str())),
            Test::EndsWith(w) => text().is_some_and(|t| t.ends_with(w.as_str())),
            Test::Glob(gs) => text().is_some_and(|t| gs.iter().any(|g| g.is_match(t.as_ref()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn scope() -> Scope {
        let mut s = Scope::default();
        s.lists
            .insert("shells".into(), vec!["bash".into(), "sh".into()]);
        let m = parse("objectRef.resource = pods", &s).unwrap();
        s.macros.insert("pod_target".into(), m);
        s
    }

    fn holds(cond: &str, doc: &Value) -> bool {
        parse(cond, &scope()).unwrap().eval(&Doc::plain(doc))
    }

    #[test]
    fn evaluates_falco_like_conditions_over_an_audit_event() {
        let ev = json!({
            "verb": "create",
            "objectRef": {"resource": "pods", "subresource": "exec", "namespace": "ml"},
            "user": {"username": "alice", "groups": ["dev", "system:authenticated"]},
            "requestObject": {"spec": {"containers": [
                {"name": "a"}, {"name": "b", "securityContext": {"privileged": true}}]}},
            "responseStatus": {"code": 101}
        });
        assert!(holds(
            "verb in (create, get) and objectRef.subresource in (exec, attach)",
            &ev
        ));
        assert!(holds(
            "pod_target and not user.username startswith 'system:'",
            &ev
        ));
        assert!(holds(
            "requestObject.spec.containers[*].securityContext.privileged = true",
            &ev
        ));
        assert!(!holds(
            "requestObject.spec.containers[0].securityContext.privileged = true",
            &ev
        ));
        assert!(holds(
            "user.groups contains system: and responseStatus.code >= 100",
            &ev
        ));
        assert!(holds("user.groups = dev", &ev), "arrays match any element");
        assert!(holds(
            "user.groups != admins and objectRef.name exists or verb = create",
            &ev
        ));
        assert!(!holds("objectRef.name exists", &ev));
        assert!(holds(
            "objectRef.namespace glob 'm*' and user.username icontains ALI",
            &ev
        ));
        assert!(
            holds("objectRef.namespace glob (shells, '?l')", &ev),
            "glob takes a list"
        );
        assert!(holds("not (verb = get or verb = list)", &ev));
        assert!(
            holds("user.username in (shells, alice)", &ev),
            "lists expand inside (…)"
        );
        assert!(!holds("user.username in shells", &ev));
    }

    #[test]
    fn dotted_keys_resolve_like_falco_output_fields() {
        let alert =
            json!({"output_fields": {"k8s.ns.name": "ml", "proc.name": "bash", "fd.name": null}});
        assert!(holds(
            "output_fields.k8s.ns.name = ml and output_fields.proc.name in shells",
            &alert
        ));
        assert!(
            !holds("output_fields.fd.name exists", &alert),
            "null is absent"
        );
    }

    #[test]
    fn errors_name_the_column_and_what_was_expected() {
        let s = scope();
        for (cond, want) in [
            ("", "empty"),
            ("verb", "neither a macro"),
            ("verb ==", "expected a value after = at column 7"),
            ("verb in (a b)", "needs ','"),
            ("verb in nolist", "no list named 'nolist'"),
            ("(verb = a", "missing ')'"),
            ("verb = a)", "unexpected ')' at column 9"),
            ("and verb = a", "nothing before it"),
            ("code > many", "needs a number"),
            ("verb = 'open", "unterminated string"),
            ("verb matches x", "expected a test after 'verb'"),
            ("a..b exists", "empty segment"),
        ] {
            let e = parse(cond, &s).unwrap_err();
            assert!(e.contains(want), "{cond}: {e}");
        }
    }
}
