//! Build stages: which instructions belong to which `FROM`, what each stage's base image is once
//! build arguments are substituted (`ARG` before `FROM` is global; a stage sees only what it
//! re-declares), which stage builds on which, and what carries over between them.

use crate::parse::{Dockerfile, Instruction, ParseError, key_values};
use crate::script::{RunCommand, run_commands};
use std::ops::Range;

/// One build stage.
#[derive(Debug, Clone)]
pub struct Stage {
    pub index: usize,
    /// `AS name`, as written.
    pub name: Option<String>,
    /// Index of its `FROM` instruction.
    pub from: usize,
    /// The base as written (`python:${PY}-slim`).
    pub base_raw: String,
    /// The base with build arguments substituted.
    pub base: String,
    /// Build arguments the base uses that have no default (the base is then unknown).
    pub unresolved: Vec<String>,
    /// The earlier stage this one builds on (`FROM builder`).
    pub parent: Option<usize>,
    /// Its instructions after `FROM`.
    pub body: Range<usize>,
}

impl Stage {
    /// How findings name the stage: `Stage/name`, or `Stage/N` for an unnamed one.
    pub fn id(&self) -> String {
        match &self.name {
            Some(n) => format!("Stage/{n}"),
            None => format!("Stage/{}", self.index),
        }
    }

    /// How messages name the stage: `stage 'name'` or `stage N`.
    pub fn label(&self) -> String {
        match &self.name {
            Some(n) => format!("stage '{n}'"),
            None => format!("stage {}", self.index),
        }
    }

    pub fn is_scratch(&self) -> bool {
        self.base.eq_ignore_ascii_case("scratch")
    }

    /// Whether the base is an image from a registry (not `scratch`, not an earlier stage, and
    /// fully known).
    pub fn has_external_base(&self) -> bool {
        self.parent.is_none()
            && !self.is_scratch()
            && self.unresolved.is_empty()
            && palisade_core::image::is_reference(&self.base)
    }
}

/// A Dockerfile with its stages resolved.
#[derive(Debug)]
pub struct Build {
    pub file: Dockerfile,
    pub stages: Vec<Stage>,
    /// Global build arguments (declared before the first `FROM`) and their defaults.
    pub global_args: Vec<(String, Option<String>)>,
    /// Every simple command of every `RUN`, in file order, parsed once.
    pub runs: Vec<RunCommand>,
}

impl Build {
    pub fn new(mut file: Dockerfile) -> Self {
        let mut stages: Vec<Stage> = Vec::new();
        let mut global_args = Vec::new();
        let mut errors = Vec::new();
        for (i, inst) in file.instructions.iter().enumerate() {
            if inst.keyword == "FROM" {
                if let Some(last) = stages.last_mut() {
                    last.body.end = i;
                }
                let stage = from_stage(inst, i, stages.len(), &stages, &global_args);
                match stage {
                    Ok(s) => stages.push(s),
                    Err(e) => errors.push(e),
                }
            } else if stages.is_empty() {
                if inst.keyword == "ARG" {
                    for (k, v, _) in key_values(inst.args(), false) {
                        // A default may use earlier arguments: ARG B=python:${PY}-slim
                        let v = v.map(|v| substitute(&v, &|n| lookup(&global_args, n)).0);
                        global_args.push((k, v));
                    }
                } else {
                    let (line, column) = inst.pos(0);
                    errors.push(ParseError {
                        line,
                        column,
                        message: format!("{} before the first FROM", inst.keyword),
                    });
                }
            }
        }
        if let Some(last) = stages.last_mut() {
            last.body.end = file.instructions.len();
        }
        if stages.is_empty() && !file.instructions.is_empty() {
            errors.push(ParseError {
                line: file.instructions[0].line(),
                column: 1,
                message: "no FROM instruction: not a buildable Dockerfile".into(),
            });
        }
        file.errors.extend(errors);
        file.errors.sort_by_key(|e| (e.line, e.column));
        let runs = stages
            .iter()
            .flat_map(|s| s.body.clone().map(move |i| (s.index, i)))
            .flat_map(|(s, i)| run_commands(s, i, &file.instructions[i]))
            .collect();
        Build {
            file,
            stages,
            global_args,
            runs,
        }
    }

    /// Every instruction after a `FROM`, with its stage.
    pub fn instructions(&self) -> impl Iterator<Item = (&Stage, &Instruction)> {
        self.stages
            .iter()
            .flat_map(move |s| self.body(s).map(move |(_, i)| (s, i)))
    }

    /// Every `RUN` command with its stage and instruction.
    pub fn run_commands(&self) -> impl Iterator<Item = (&Stage, &Instruction, &RunCommand)> {
        self.runs
            .iter()
            .map(|r| (&self.stages[r.stage], &self.file.instructions[r.inst], r))
    }

    /// How messages name the final stage: "the image" for a single-stage build, else
    /// "final stage 'name'".
    pub fn final_label(&self, s: &Stage) -> String {
        if self.stages.len() == 1 {
            "the image".into()
        } else {
            format!("final {}", s.label())
        }
    }

    /// How messages name any stage: "" for a single-stage build (there is only the image),
    /// else "stage 'name' ".
    pub fn stage_prefix(&self, s: &Stage) -> String {
        if self.stages.len() == 1 {
            String::new()
        } else {
            format!("{} ", s.label())
        }
    }

    /// The stage `docker build` produces without `--target`: the last one.
    pub fn final_stage(&self) -> Option<&Stage> {
        self.stages.last()
    }

    /// The instructions of a stage after its `FROM`, with their indices.
    pub fn body(&self, s: &Stage) -> impl Iterator<Item = (usize, &Instruction)> {
        self.file.instructions[s.body.clone()]
            .iter()
            .enumerate()
            .map(move |(k, inst)| (s.body.start + k, inst))
    }

    /// The stage and its ancestors (`FROM builder` chains), nearest first.
    pub fn lineage<'a>(&'a self, s: &'a Stage) -> Vec<&'a Stage> {
        let mut out = vec![s];
        let mut cur = s;
        while let Some(p) = cur.parent {
            if out.len() > self.stages.len() {
                break;
            }
            cur = &self.stages[p];
            out.push(cur);
        }
        out
    }

    /// The external base image a stage ultimately builds on (through `FROM stage` chains).
    pub fn root_base<'a>(&'a self, s: &'a Stage) -> &'a Stage {
        self.lineage(s).last().copied().unwrap_or(s)
    }

    /// The last `USER` in effect at the end of a stage (inherited through `FROM stage`), with
    /// the instruction index.
    pub fn effective_user(&self, s: &Stage) -> Option<(usize, String)> {
        for st in self.lineage(s) {
            let found = self
                .body(st)
                .filter(|(_, i)| i.keyword == "USER")
                .last()
                .map(|(k, i)| (k, i.args().trim().to_string()));
            if found.is_some() {
                return found;
            }
        }
        None
    }

    /// Environment (`ENV`) in effect at the end of a stage, through its ancestors, with the
    /// instruction index and the offset of the value in the instruction's text.
    pub fn env(&self, s: &Stage) -> Vec<(String, String, usize, usize)> {
        let mut out = Vec::new();
        for st in self.lineage(s).into_iter().rev() {
            for (k, inst) in self.body(st).filter(|(_, i)| i.keyword == "ENV") {
                for (name, value, off) in key_values(inst.args(), true) {
                    out.push((name, value.unwrap_or_default(), k, inst.args_offset + off));
                }
            }
        }
        out
    }
}

fn from_stage(
    inst: &Instruction,
    i: usize,
    index: usize,
    stages: &[Stage],
    global_args: &[(String, Option<String>)],
) -> Result<Stage, ParseError> {
    let words: Vec<&str> = inst.args().split_whitespace().collect();
    let (line, column) = inst.args_pos();
    let err = |message: String| ParseError {
        line,
        column,
        message,
    };
    let (base_raw, name) = match words.as_slice() {
        [base] => (*base, None),
        [base, as_kw, name] if as_kw.eq_ignore_ascii_case("as") => (*base, Some(*name)),
        [] => return Err(err("FROM without an image".into())),
        _ => {
            return Err(err(format!(
                "FROM takes 'image [AS name]', found '{}'",
                inst.args().trim()
            )));
        }
    };
    let (base, unresolved) = substitute(base_raw, &|v| lookup(global_args, v));
    let parent = stages.iter().position(|s| {
        s.name
            .as_deref()
            .is_some_and(|n| n.eq_ignore_ascii_case(&base))
    });
    Ok(Stage {
        index,
        name: name.map(str::to_string),
        from: i,
        base_raw: base_raw.to_string(),
        base,
        unresolved,
        parent,
        body: i + 1..i + 1,
    })
}

fn lookup(args: &[(String, Option<String>)], name: &str) -> Option<String> {
    args.iter()
        .rev()
        .find(|(k, _)| k == name)
        .and_then(|(_, d)| d.clone())
}

/// Substitute `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:+alt}`,
/// `${VAR+alt}` (and `\$` escapes) using `lookup`. Returns the text and the names that had
/// no value and no default.
pub fn substitute(s: &str, lookup: &dyn Fn(&str) -> Option<String>) -> (String, Vec<String>) {
    let mut out = String::new();
    let mut missing = Vec::new();
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == '\\' && s[i + 1..].starts_with('$') {
            out.push('$');
            chars.next();
            continue;
        }
        if c != '$' {
            out.push(c);
            continue;
        }
        let rest = &s[i + 1..];
        if let Some(inner) = rest.strip_prefix('{') {
            let Some(end) = inner.find('}') else {
                out.push_str(&s[i..]);
                break;
            };
            let expr = &inner[..end];
            for _ in 0..end + 2 {
                chars.next();
            }
            let (name, op, word) = split_modifier(expr);
            let value = lookup(name).filter(|v| !(op.starts_with(':') && v.is_empty()));
            match (op, value) {
                (":-" | "-", Some(v)) | ("", Some(v)) => out.push_str(&v),
                (":-" | "-", None) => out.push_str(word),
                (":+" | "+", Some(_)) => out.push_str(word),
                (":+" | "+", None) => {}
                _ => {
                    missing.push(name.to_string());
                    out.push_str(&s[i..i + end + 3]);
                }
            }
        } else {
            let len = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            if len == 0 {
                out.push('$');
                continue;
            }
            let name = &rest[..len];
            for _ in 0..len {
                chars.next();
            }
            match lookup(name) {
                Some(v) => out.push_str(&v),
                None => {
                    missing.push(name.to_string());
                    out.push('$');
                    out.push_str(name);
                }
            }
        }
    }
    (out, missing)
}

fn split_modifier(expr: &str) -> (&str, &str, &str) {
    for op in [":-", ":+", "-", "+"] {
        if let Some(at) = expr.find(op) {
            return (&expr[..at], op, &expr[at + op.len()..]);
        }
    }
    (expr, "", "")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse;

    #[test]
    fn args_substituted_into_from() {
        let b = Build::new(parse(
            "ARG PY=3.11\nARG REG\nARG IMG=python:${PY}-slim\nFROM ${IMG} AS base\nFROM ${REG}/x AS other\nFROM base\nUSER app\n",
        ));
        assert!(b.file.errors.is_empty(), "{:?}", b.file.errors);
        assert_eq!(b.stages[0].base, "python:3.11-slim");
        assert_eq!(b.stages[1].unresolved, vec!["REG".to_string()]);
        assert_eq!(b.stages[2].parent, Some(0));
        assert_eq!(b.stages[2].id(), "Stage/2");
        assert_eq!(b.effective_user(&b.stages[2]).unwrap().1, "app");
        assert!(b.effective_user(&b.stages[0]).is_none());
    }

    #[test]
    fn user_does_not_carry_into_a_fresh_base() {
        let b = Build::new(parse(
            "FROM python:3.11 AS build\nUSER 1000\nFROM python:3.11-slim\nCOPY --from=build /a /a\n",
        ));
        assert_eq!(b.effective_user(&b.stages[0]).unwrap().1, "1000");
        assert!(b.effective_user(b.final_stage().unwrap()).is_none());
    }

    #[test]
    fn substitution_forms() {
        let look = |v: &str| (v == "A").then(|| "a".to_string());
        assert_eq!(
            substitute("${A}-$A-${B:-d}-${A:+x}-${B:+y}-\\$A", &look).0,
            "a-a-d-x--$A"
        );
        assert_eq!(substitute("$B/x", &look).1, vec!["B".to_string()]);
        assert_eq!(substitute("${A", &look).0, "${A");
    }

    #[test]
    fn structural_errors() {
        let b = Build::new(parse("RUN echo\nFROM a b c\n"));
        assert_eq!(b.file.errors.len(), 3, "{:?}", b.file.errors);
    }
}
