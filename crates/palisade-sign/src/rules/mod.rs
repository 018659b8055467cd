//! The model-signature rules `palisade scan` applies to the model files it finds, one per
//! file: each holds the rule's metadata and documentation. [`crate::check`] decides when.

pub mod signature_invalid;
pub mod signer_unknown;
pub mod unsigned;

use palisade_core::RuleMeta;

pub fn all() -> Vec<&'static RuleMeta> {
    vec![
        &unsigned::RULE,
        &signature_invalid::RULE,
        &signer_unknown::RULE,
    ]
}
