//! Palisade's shared vocabulary.
//!
//! Every Palisade capability speaks in the types defined here: a static problem is a
//! [`Finding`] raised by a rule described by [`RuleMeta`], located by a [`Location`] and ranked by a
//! [`Severity`]. A scan collects findings and input errors into a [`Report`], which the reporters in
//! [`report`] render as text, JSON (the output contract in `DESIGN.md`) or SARIF 2.1.0.
//! [`suppress`] decides which findings the user has silenced (inline comments, annotations,
//! `palisade.toml`, a baseline report) and [`config`] reads `palisade.toml`.
//!
//! ```
//! use palisade_core::{Finding, Location, RuleMeta, Severity};
//! static RULE: RuleMeta = RuleMeta {
//!     code: "X001", name: "example", severity: Severity::High, family: "example",
//!     summary: "an example", controls: &[], techniques: &[], fix: "do better", doc: "",
//! };
//! let f = Finding::new(&RULE, Location::new("a.yaml", 3, 5), "something is wrong");
//! assert_eq!(f.severity, Severity::High);
//! ```

pub mod config;
pub mod event;
pub mod finding;
pub mod image;
pub mod ml;
pub mod npy;
pub mod parallel;
pub mod report;
pub mod rule;
pub mod secrets;
pub mod severity;
pub mod shell;
pub mod source;
pub mod suppress;
pub mod time;
pub mod walk;

pub use event::Event;
pub use finding::{Finding, Location};
pub use report::{InputError, Report, Summary};
pub use rule::RuleMeta;
pub use severity::Severity;

/// The tool's name and version as they appear in every report.
pub const TOOL_NAME: &str = "palisade";
/// The version of this build.
pub const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");
