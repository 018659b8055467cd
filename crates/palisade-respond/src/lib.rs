//! `palisade respond`: from the first alert to a contained, recovered, documented incident.
//!
//! Data flows one way: bytes → [`ingest`] (per-source readers) → [`signal::Signal`] →
//! [`detect`] (YAML [`rules`]) → [`detect::Detection`] → [`correlate`] into
//! [`incident::Incident`]s → [`store`] (SQLite, every entry hash-chained). [`engine::Engine`]
//! runs that pipeline in one transaction per batch, so whatever it acknowledges is on disk.

pub mod actions;
pub mod commit;
pub mod config;
pub mod correlate;
pub mod crosswalk;
pub mod dashboard;
pub mod detect;
pub mod drill;
pub mod engine;
pub mod falco_rules;
pub mod incident;
pub mod ingest;
pub mod playbook;
pub mod report;
pub mod rules;
pub mod runner;
pub mod serve;
pub mod signal;
pub mod store;
pub mod workload;
