//! Dockerfile analysis for `palisade scan`.
//!
//! [`parse`] reads a Dockerfile the way BuildKit does and keeps the exact line of every
//! instruction (and of every word of a continued one); [`stage`] resolves build stages, build
//! arguments and what carries over between stages; [`script`] reads the shell commands of
//! `RUN` (once per file) and the words of any instruction; [`rules`] holds one file per rule
//! (`DF001`…); [`scan`] turns inputs into a [`palisade_core::Report`].
//!
//! ```
//! let report = palisade_docker::scan::scan_text("Dockerfile", "FROM python:3.11\nCMD [\"python\", \"app.py\"]\n");
//! assert!(report.findings.iter().any(|f| f.rule == "DF001")); // runs as root
//! ```

pub mod load;
pub mod parse;
pub mod rules;
pub mod scan;
pub mod script;
pub mod stage;

pub use load::is_dockerfile_name;
