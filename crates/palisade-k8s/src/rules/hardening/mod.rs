//! Hardening beyond the Pod Security Standards.
use super::Rule;
pub static RULES: &[&Rule] = &[];
