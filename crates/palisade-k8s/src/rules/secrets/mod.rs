//! Credentials in plain sight.
use super::Rule;
pub static RULES: &[&Rule] = &[];
