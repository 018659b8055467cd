//! Connectivity assertions from `palisade.toml` (`[[reach.assert]]`), checked against the
//! computed connectivity. Each allowed connection in an assertion's scope that no clause
//! permits is a [`Violation`]; `palisade scan` reports each as a finding.

use crate::analysis::{Edge, Focus, Network, Node, Want};
use crate::ports::Conns;
use palisade_core::config::ReachAssertion;

/// An assertion with its selectors read.
#[derive(Debug, Clone)]
pub struct Assertion {
    pub name: String,
    from: Option<Focus>,
    to: Option<Focus>,
    only_from: Option<Vec<Focus>>,
    only_to: Option<Vec<Focus>>,
    not_from: Vec<Focus>,
    not_to: Vec<Focus>,
    ports: Option<Conns>,
    /// Without any clause, nothing may flow in scope.
    deny_all: bool,
}

/// A connection an assertion forbids.
#[derive(Debug, Clone)]
pub struct Violation {
    pub assertion: usize,
    pub edge: Edge,
    /// What was broken, in words.
    pub what: String,
}

fn focus(s: &str, what: &str) -> Result<Focus, String> {
    Focus::parse(s).map_err(|e| format!("{what}: {e}"))
}

fn focuses(list: &[String], what: &str) -> Result<Vec<Focus>, String> {
    list.iter().map(|s| focus(s, what)).collect()
}

/// Read the assertions; an error names the entry (`[[reach.assert]] #2`) and the field.
pub fn compile(raw: &[ReachAssertion]) -> Result<Vec<Assertion>, String> {
    raw.iter()
        .enumerate()
        .map(|(i, a)| {
            let at = format!("[[reach.assert]] #{}", i + 1);
            if a.from.is_none() && a.to.is_none() {
                return Err(format!("{at}: needs `from` or `to`"));
            }
            if a.only_from.is_some() && a.to.is_none() {
                return Err(format!(
                    "{at}: `only_from` needs `to` (who is being reached?)"
                ));
            }
            if a.only_to.is_some() && a.from.is_none() {
                return Err(format!("{at}: `only_to` needs `from`"));
            }
            let ports = a
                .ports
                .as_deref()
                .map(|p| {
                    Conns::parse(p).ok_or_else(|| {
                        format!(
                            "{at}: ports '{p}': write it like \"TCP 8501\" or \"TCP 53,UDP 53\""
                        )
                    })
                })
                .transpose()?;
            let name = a.name.clone().unwrap_or_else(|| {
                let mut parts = Vec::new();
                if let Some(f) = &a.from {
                    parts.push(format!("from {f}"));
                }
                if let Some(t) = &a.to {
                    parts.push(format!("to {t}"));
                }
                parts.join(" ")
            });
            Ok(Assertion {
                deny_all: a.only_from.is_none()
                    && a.only_to.is_none()
                    && a.not_from.is_empty()
                    && a.not_to.is_empty()
                    && ports.is_none(),
                name,
                from: a
                    .from
                    .as_deref()
                    .map(|s| focus(s, &format!("{at}: from")))
                    .transpose()?,
                to: a
                    .to
                    .as_deref()
                    .map(|s| focus(s, &format!("{at}: to")))
                    .transpose()?,
                only_from: a
                    .only_from
                    .as_deref()
                    .map(|l| focuses(l, &format!("{at}: only_from")))
                    .transpose()?,
                only_to: a
                    .only_to
                    .as_deref()
                    .map(|l| focuses(l, &format!("{at}: only_to")))
                    .transpose()?,
                not_from: focuses(&a.not_from, &format!("{at}: not_from"))?,
                not_to: focuses(&a.not_to, &format!("{at}: not_to"))?,
                ports,
            })
        })
        .collect()
}

impl Assertion {
    fn judge(&self, net: &Network, e: &Edge) -> Option<String> {
        let any = |list: &[Focus], n: Node| list.iter().any(|f| net.node_matches(f, n));
        if self.deny_all {
            return Some("the assertion allows no connection here".into());
        }
        if let Some(only) = &self.only_from
            && !any(only, e.src)
        {
            return Some("the source is not among `only_from`".into());
        }
        if let Some(only) = &self.only_to
            && !any(only, e.dst)
        {
            return Some("the destination is not among `only_to`".into());
        }
        if any(&self.not_from, e.src) {
            return Some("the source is listed in `not_from`".into());
        }
        if any(&self.not_to, e.dst) {
            return Some("the destination is listed in `not_to`".into());
        }
        if let Some(p) = &self.ports
            && !p.covers(&e.conns)
        {
            return Some(format!("that is more than the allowed {p}"));
        }
        None
    }
}

/// Every connection that breaks an assertion.
pub fn check(net: &Network, assertions: &[Assertion]) -> Vec<Violation> {
    let mut out = Vec::new();
    for (i, a) in assertions.iter().enumerate() {
        for edge in net.connectivity(a.from.as_ref(), a.to.as_ref(), Want::WHY) {
            if let Some(what) = a.judge(net, &edge) {
                out.push(Violation {
                    assertion: i,
                    edge,
                    what,
                });
            }
        }
    }
    out
}

/// The sentence a finding carries for a violation.
pub fn describe(net: &Network, assertions: &[Assertion], v: &Violation) -> String {
    let e = &v.edge;
    let why = crate::output::reasons(net, e);
    format!(
        "assertion '{}' fails: {} reaches {} on {}; {} ({})",
        assertions[v.assertion].name,
        net.node_name(e.src),
        net.node_name(e.dst),
        e.conns,
        v.what,
        why.join("; ")
    )
}
