//! `palisade reach`: who can reach which workload, on which ports, and why — computed from
//! NetworkPolicies exactly as Kubernetes defines them.
//!
//! * [`topology`] — namespaces, workloads and their pods, what Ingress, routes and Routes send to;
//! * [`policy`] — NetworkPolicy objects read into rules, with malformed parts reported;
//! * [`ports`] — protocol/port sets; [`ipblock`] — CIDRs and the outside's partition;
//! * [`analysis`] — the connectivity (full matrix or focused) with the rules behind each edge;
//! * [`output`] — text, JSON and netpol-analyzer's connlist format.

pub mod analysis;
pub mod assertions;
pub mod bitset;
pub mod generate;
pub mod ipblock;
pub mod output;
pub mod policy;
pub mod ports;
pub mod rules;
pub mod scan;
pub mod selector_text;
pub mod topology;
