//! MITRE ATLAS techniques and the ATT&CK techniques they adapt.
//!
//! `data/atlas-techniques.tsv` is generated from ATLAS's own `ATLAS.yaml` (Apache-2.0; the test
//! `tests/crosswalk.rs` checks it against `../shared/peer/atlas-data`). Falco tags its rules with
//! ATT&CK IDs; [`enrich`] adds the ATLAS technique each maps to (T1611 → AML.T0105 Escape to Host),
//! matching sub-techniques by their parent (T1552.007 → T1552 → AML.T0055).

use std::collections::BTreeSet;
use std::sync::OnceLock;

const TABLE: &str = include_str!("../data/atlas-techniques.tsv");

pub struct Technique {
    pub id: &'static str,
    pub name: &'static str,
    /// The ATT&CK technique this one adapts, if any.
    pub attack: Option<&'static str>,
    pub tactics: Vec<&'static str>,
}

pub fn techniques() -> &'static [Technique] {
    static T: OnceLock<Vec<Technique>> = OnceLock::new();
    T.get_or_init(|| {
        TABLE
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .filter_map(|l| {
                let mut f = l.split('\t');
                Some(Technique {
                    id: f.next()?,
                    name: f.next()?,
                    attack: f.next().filter(|a| !a.is_empty()),
                    tactics: f
                        .next()
                        .unwrap_or("")
                        .split(',')
                        .filter(|t| !t.is_empty())
                        .collect(),
                })
            })
            .collect()
    })
}

/// An ATLAS technique by ID.
pub fn atlas(id: &str) -> Option<&'static Technique> {
    techniques().iter().find(|t| t.id == id)
}

/// The ATLAS techniques that adapt an ATT&CK technique (or its parent, for a sub-technique).
pub fn atlas_for_attack(attack: &str) -> Vec<&'static str> {
    let parent = attack.split('.').next().unwrap_or(attack);
    techniques()
        .iter()
        .filter(|t| t.attack.is_some_and(|a| a == attack || a == parent))
        .map(|t| t.id)
        .collect()
}

/// The techniques plus the ATLAS IDs their ATT&CK members map to; sorted, deduplicated.
pub fn enrich(ids: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut set = BTreeSet::new();
    for id in ids {
        if !id.starts_with("AML.") {
            set.extend(atlas_for_attack(&id).into_iter().map(str::to_string));
        }
        set.insert(id);
    }
    set.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_attack_to_atlas_including_sub_techniques() {
        assert_eq!(atlas_for_attack("T1611"), ["AML.T0105"]);
        assert_eq!(atlas_for_attack("T1552.007"), ["AML.T0055"]);
        assert!(atlas_for_attack("T1609").is_empty());
        assert_eq!(atlas("AML.T0043").unwrap().name, "Craft Adversarial Data");
        assert_eq!(
            enrich(["T1611".to_string(), "AML.T0043".to_string()]),
            ["AML.T0043", "AML.T0105", "T1611"]
        );
    }
}
