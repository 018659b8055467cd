//! What `palisade scan` asks of the connectivity: the ML servers left open, and the
//! assertions from `palisade.toml`. Malformed NetworkPolicies become input errors.

use crate::analysis::{Network, Node};
use crate::assertions::{self, Assertion};
use crate::rules::{ml_server_reachable, reach_assertion};
use palisade_core::suppress::InlineIndex;
use palisade_core::{Finding, InputError};
use palisade_k8s::load::Manifests;
use palisade_k8s::rules::Sink;

#[derive(Debug, Default)]
pub struct ReachFindings {
    pub findings: Vec<Finding>,
    pub suppressed: usize,
    pub errors: Vec<InputError>,
}

/// A policy problem as an input error with its file and line.
pub fn input_errors(net: &Network, m: &Manifests) -> Vec<InputError> {
    net.errors
        .iter()
        .map(|e| InputError {
            path: m.path_of(e.pos.file).to_string(),
            line: Some(e.pos.line as usize),
            column: Some(e.pos.col as usize),
            message: e.message.clone(),
        })
        .collect()
}

pub fn scan(m: &Manifests, asserts: &[Assertion]) -> ReachFindings {
    let net = Network::build(m);
    let indexes: Vec<InlineIndex> = m.files.iter().map(|f| InlineIndex::new(&f.text)).collect();
    let mut out = ReachFindings {
        errors: input_errors(&net, m),
        ..ReachFindings::default()
    };

    let mut sink = Sink::new(m, &indexes, &ml_server_reachable::META);
    for (w, pos, msg) in ml_server_reachable::check(&net) {
        let r = &m.resources[net.topo.workloads[w].resource];
        sink.report(r, pos, msg);
    }
    out.findings.append(&mut sink.findings);
    out.suppressed += sink.suppressed;

    let mut sink = Sink::new(m, &indexes, &reach_assertion::META);
    for v in assertions::check(&net, asserts) {
        // Point at the workload that is reached (or the one reaching out).
        let w = match (v.edge.dst, v.edge.src) {
            (Node::Workload(w), _) | (_, Node::Workload(w)) => w,
            _ => continue,
        };
        let wl = &net.topo.workloads[w];
        let msg = assertions::describe(&net, asserts, &v);
        sink.report(&m.resources[wl.resource], wl.pos, msg);
    }
    out.findings.append(&mut sink.findings);
    out.suppressed += sink.suppressed;
    out
}
