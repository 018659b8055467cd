//! Credentials in plain sight.

mod plaintext_credentials;

use super::Rule;

pub static RULES: &[&Rule] = &[&plaintext_credentials::RULE];
