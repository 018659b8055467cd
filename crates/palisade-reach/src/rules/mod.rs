//! The connectivity rules `palisade scan` runs: one file each, doc first.

pub mod ml_server_reachable;
pub mod reach_assertion;

use palisade_core::RuleMeta;

pub fn all() -> Vec<&'static RuleMeta> {
    vec![&ml_server_reachable::META, &reach_assertion::META]
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_rule_has_its_doc_sections() {
        for r in super::all() {
            for section in [
                "## What it does",
                "## Why is this bad?",
                "## Example",
                "## Use instead",
                "## References",
            ] {
                assert!(r.doc.contains(section), "{} lacks {section}", r.code);
            }
        }
    }
}
