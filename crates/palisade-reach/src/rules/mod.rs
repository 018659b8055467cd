//! The connectivity rules `palisade scan` runs: one file each, doc first (the binary's
//! `rules_and_explain` test checks every rule's doc sections).

pub mod ml_server_reachable;
pub mod reach_assertion;

use palisade_core::RuleMeta;

pub fn all() -> Vec<&'static RuleMeta> {
    vec![&ml_server_reachable::META, &reach_assertion::META]
}
