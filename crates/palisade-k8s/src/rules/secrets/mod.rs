//! Credentials in plain sight.

mod plaintext_credentials;
pub(crate) mod shapes;

use super::Rule;

pub static RULES: &[&Rule] = &[&plaintext_credentials::RULE];
