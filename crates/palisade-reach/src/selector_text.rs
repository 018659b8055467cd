//! Label selectors written the way `kubectl -l` takes them: `app=model-server`,
//! `tier!=gpu`, `env in (prod,staging)`, `env notin (dev)`, `canary`, `!canary`, joined by
//! commas.

use palisade_k8s::selector::{Requirement, Selector};

pub fn parse(s: &str) -> Result<Selector, String> {
    let mut requirements = Vec::new();
    for term in split_terms(s) {
        let t = term.trim();
        if t.is_empty() {
            return Err(format!("empty term in selector '{s}'"));
        }
        requirements.push(requirement(t).ok_or_else(|| {
            format!("cannot read '{t}' in selector '{s}' (try app=model-server, tier!=gpu, env in (a,b), !canary)")
        })?);
    }
    if requirements.is_empty() {
        return Err("empty selector".into());
    }
    Ok(Selector { requirements })
}

/// Split at commas outside parentheses.
fn split_terms(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

fn valid_key(k: &str) -> bool {
    !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
}

fn requirement(t: &str) -> Option<Requirement> {
    if let Some(k) = t.strip_prefix('!') {
        let k = k.trim();
        return valid_key(k).then(|| Requirement::DoesNotExist(k.to_string()));
    }
    if let Some((k, v)) = t.split_once("!=") {
        let k = k.trim();
        return valid_key(k).then(|| Requirement::NotIn(k.to_string(), vec![v.trim().to_string()]));
    }
    if let Some((k, v)) = t.split_once('=') {
        let k = k.trim();
        let v = v.strip_prefix('=').unwrap_or(v).trim();
        return valid_key(k).then(|| Requirement::In(k.to_string(), vec![v.to_string()]));
    }
    for (op, notin) in [(" notin ", true), (" in ", false)] {
        if let Some((k, rest)) = t.split_once(op) {
            let k = k.trim();
            let list = rest.trim().strip_prefix('(')?.strip_suffix(')')?;
            let values: Vec<String> = list.split(',').map(|v| v.trim().to_string()).collect();
            if !valid_key(k) {
                return None;
            }
            return Some(if notin {
                Requirement::NotIn(k.to_string(), values)
            } else {
                Requirement::In(k.to_string(), values)
            });
        }
    }
    valid_key(t).then(|| Requirement::Exists(t.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn kubectl_forms() {
        let l = labels(&[("app", "model-server"), ("env", "prod")]);
        assert!(parse("app=model-server").unwrap().matches(&l));
        assert!(parse("app==model-server,env").unwrap().matches(&l));
        assert!(!parse("app!=model-server").unwrap().matches(&l));
        assert!(parse("env in (prod, staging)").unwrap().matches(&l));
        assert!(!parse("env notin (prod)").unwrap().matches(&l));
        assert!(parse("!canary").unwrap().matches(&l));
        assert!(parse("app=").unwrap().requirements.len() == 1);
        assert!(parse("a b c").is_err());
        assert!(parse("").is_err());
    }
}
