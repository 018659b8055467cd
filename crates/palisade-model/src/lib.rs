//! Static analysis of machine-learning model files: `palisade model scan` and the model part of
//! `palisade scan`.
//!
//! Files are recognised by content ([`formats`]), opened recursively within [`limits`], and
//! their pickles analysed by a symbolic machine ([`pickle`]) whose events the [`policy`]
//! (allowlist first) judges. Nothing is ever unpickled, imported or executed.
//!
//! ```no_run
//! use palisade_core::walk::Input;
//! let inputs = vec![Input::File { path: "model.pt".into(), display: "model.pt".into(), explicit: true }];
//! let result = palisade_model::scan::scan(&inputs, &palisade_model::scan::Options::default());
//! for f in &result.report.findings {
//!     println!("{} {} @{:?} {}", f.rule, f.path, f.offset, f.message);
//! }
//! ```

pub mod formats;
pub mod input;
pub mod limits;
pub mod pickle;
pub mod policy;
pub mod rules;
pub mod scan;
