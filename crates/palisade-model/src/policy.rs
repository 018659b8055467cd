//! The model-scan policy: which globals a model may reference (the allowlist) and which are
//! known to be dangerous, as data (`policy.toml`, documented there), extendable from
//! `palisade.toml`'s `[model] allow`.

use serde::Deserialize;

const BUILTIN: &str = include_str!("policy.toml");

/// Attribute names that only appear in a path to reach interpreter internals.
const INTERNAL_ATTRS: &[&str] = &[
    "__globals__",
    "__builtins__",
    "__subclasses__",
    "__getattribute__",
    "__getattr__",
    "__class__",
    "__base__",
    "__bases__",
    "__mro__",
    "__dict__",
    "__code__",
    "__self__",
    "__func__",
    "__closure__",
    "__import__",
    "__loader__",
    "__spec__",
    "__init__",
    "__reduce__",
    "__reduce_ex__",
    "__setstate__",
    "__call__",
    "f_globals",
    "f_locals",
    "gi_frame",
    "tb_frame",
];

#[derive(Deserialize)]
struct File {
    allow: Vec<Group>,
    dangerous: Vec<Group>,
}

#[derive(Deserialize)]
struct Group {
    #[serde(default)]
    group: String,
    why: String,
    names: Vec<String>,
}

/// How the policy judges a global.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// On the allowlist (the group that allows it).
    Allowed(String),
    /// Known to be dangerous, and why.
    Dangerous(String),
    /// Neither: not something a model needs.
    Unlisted,
}

#[derive(Debug, Clone)]
struct Pattern {
    segs: Vec<String>,
}

impl Pattern {
    fn new(s: &str) -> Pattern {
        Pattern {
            segs: s.split('.').map(str::to_string).collect(),
        }
    }

    fn matches(&self, path: &[&str]) -> bool {
        match_segs(&self.segs, path)
    }
}

fn match_segs(pat: &[String], path: &[&str]) -> bool {
    match pat.split_first() {
        None => path.is_empty(),
        Some((p, rest)) if p == "**" => (0..=path.len()).any(|k| match_segs(rest, &path[k..])),
        Some((p, rest)) => match path.split_first() {
            Some((s, prest)) => seg_matches(p, s) && match_segs(rest, prest),
            None => false,
        },
    }
}

fn seg_matches(p: &str, s: &str) -> bool {
    if p == "<Class>" {
        return s.chars().next().is_some_and(|c| c.is_ascii_uppercase());
    }
    match p.split_once('*') {
        None => p == s,
        Some((pre, post)) => {
            s.len() >= pre.len() + post.len() && s.starts_with(pre) && s.ends_with(post)
        }
    }
}

/// The policy a scan runs with.
#[derive(Debug, Clone)]
pub struct Policy {
    allow: Vec<(Pattern, String)>,
    dangerous: Vec<(Pattern, String)>,
}

impl Default for Policy {
    fn default() -> Self {
        let f: File = toml::from_str(BUILTIN).expect("the built-in policy.toml parses");
        let mut p = Policy {
            allow: Vec::new(),
            dangerous: Vec::new(),
        };
        for g in f.allow {
            for n in g.names {
                p.allow.push((Pattern::new(&n), g.group.clone()));
            }
        }
        for g in f.dangerous {
            for n in g.names {
                p.dangerous.push((Pattern::new(&n), g.why.clone()));
            }
        }
        p
    }
}

impl Policy {
    /// The built-in policy plus the user's own allowlist entries (`palisade.toml`).
    pub fn with_allowed(extra: &[String]) -> Policy {
        let mut p = Policy::default();
        for e in extra {
            p.allow
                .push((Pattern::new(e), "palisade.toml [model] allow".into()));
        }
        p
    }

    /// Judge a resolved dotted path.
    pub fn judge(&self, resolved: &str) -> Verdict {
        let segs: Vec<&str> = resolved.split('.').collect();
        if let Some((_, g)) = self.allow.iter().find(|(p, _)| p.matches(&segs)) {
            return Verdict::Allowed(g.clone());
        }
        if let Some((_, why)) = self.dangerous.iter().find(|(p, _)| p.matches(&segs)) {
            return Verdict::Dangerous(why.clone());
        }
        if let Some(a) = segs.iter().skip(1).find(|s| INTERNAL_ATTRS.contains(s)) {
            return Verdict::Dangerous(format!(
                "walks interpreter internals through '{a}' (a way to reach any function)"
            ));
        }
        for start in 1..segs.len() {
            if let Some((_, why)) = self
                .dangerous
                .iter()
                .find(|(p, _)| p.matches(&segs[start..]))
            {
                return Verdict::Dangerous(format!(
                    "{why} (reached as {})",
                    segs[start..].join(".")
                ));
            }
        }
        Verdict::Unlisted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_policy_judges_the_usual_suspects() {
        let p = Policy::default();
        assert!(matches!(
            p.judge("torch._utils._rebuild_tensor_v2"),
            Verdict::Allowed(_)
        ));
        assert!(matches!(p.judge("torch.FloatStorage"), Verdict::Allowed(_)));
        assert!(matches!(
            p.judge("torch.nn.modules.linear.Linear"),
            Verdict::Allowed(_)
        ));
        assert!(matches!(
            p.judge("sklearn.linear_model._logistic.LogisticRegression"),
            Verdict::Allowed(_)
        ));
        assert_eq!(p.judge("sklearn.datasets.fetch_openml"), Verdict::Unlisted);
        assert!(matches!(p.judge("os.system"), Verdict::Dangerous(_)));
        assert!(matches!(p.judge("subprocess.Popen"), Verdict::Dangerous(_)));
        match p.judge("torch.serialization.os.system") {
            Verdict::Dangerous(w) => assert!(w.contains("reached as os.system"), "{w}"),
            v => panic!("{v:?}"),
        }
        assert!(matches!(
            p.judge("torch.nn.Module.__init__.__globals__"),
            Verdict::Dangerous(_)
        ));
        assert_eq!(p.judge("__main__.MyModel"), Verdict::Unlisted);
    }

    #[test]
    fn user_allowlist_extends_the_builtin_one() {
        let p = Policy::with_allowed(&["mypkg.models.<Class>".into()]);
        assert!(matches!(p.judge("mypkg.models.Net"), Verdict::Allowed(_)));
        assert_eq!(p.judge("mypkg.models.helper"), Verdict::Unlisted);
    }
}
