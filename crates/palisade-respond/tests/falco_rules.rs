//! Palisade's Falco rules are valid Falco rules: the checker that reads them accepts every
//! rules file Falco ships (default, incubating, sandbox) and rejects broken ones; each of our
//! rules has a counterpart in the detection rules that map it.

use palisade_respond::falco_rules::{Defined, RULES, check, check_all, unresolved};
use palisade_respond::rules::RuleSet;
use std::path::PathBuf;

fn falco_file(name: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/peer/falco-rules/rules")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn falcos_own_rules_pass_the_checker() {
    let mut d = Defined::default();
    for f in [
        "falco_rules.yaml",
        "falco-incubating_rules.yaml",
        "falco-sandbox_rules.yaml",
    ] {
        let mut text = falco_file(f);
        if f == "falco-sandbox_rules.yaml" {
            // One list there closes its flow sequence `]` at the indentation of its own key,
            // which YAML 1.2 does not allow (flow lines must be indented deeper) but yaml-cpp
            // accepts. Our YAML parser is strict and says where; indented, the file is checked.
            let errs = check(f, &text, &mut Defined::default());
            assert_eq!(
                errs,
                ["falco-sandbox_rules.yaml:1443:3: invalid indentation"]
            );
            text = text.replace("\n  ]\n", "\n    ]\n");
        }
        let errs = check(f, &text, &mut d);
        assert!(errs.is_empty(), "{f}: {errs:#?}");
    }
    assert_eq!(unresolved(&d), Vec::<String>::new());
    assert!(
        d.rules.len() >= 60 && d.macros.len() >= 200,
        "{} rules, {} macros",
        d.rules.len(),
        d.macros.len()
    );
}

#[test]
fn palisades_rules_are_self_contained_and_load_beside_falcos() {
    let mut alone = Defined::default();
    assert_eq!(
        check("palisade_ml_rules.yaml", RULES, &mut alone),
        Vec::<String>::new()
    );
    assert_eq!(
        unresolved(&alone),
        Vec::<String>::new(),
        "our rules need none of Falco's macros"
    );
    assert_eq!(alone.rules.len(), 4);
    let mut with = Defined::default();
    check(
        "falco_rules.yaml",
        &falco_file("falco_rules.yaml"),
        &mut with,
    );
    assert_eq!(
        check("palisade_ml_rules.yaml", RULES, &mut with),
        Vec::<String>::new()
    );
    assert!(alone.rules.iter().all(|r| r.starts_with("Palisade ")));
    assert!(
        alone.rules.is_subset(&with.rules) && with.rules.len() > alone.rules.len(),
        "ours load beside Falco's"
    );

    // Every rule has a detection rule that maps it by name.
    let detection = RuleSet::builtin();
    for r in &alone.rules {
        assert!(
            detection
                .rules
                .iter()
                .any(|d| d.condition_text.contains(r.as_str())),
            "no detection rule maps Falco rule '{r}'"
        );
    }
}

#[test]
fn broken_rules_are_reported_with_their_line() {
    let broken = RULES
        .replace("priority: CRITICAL", "priority: URGENT")
        .replace(
            "palisade_open_write and palisade_inference_container",
            "palisade_open_writes and palisade_inference_container",
        )
        .replace(
            "not fd.snet in (palisade_allowed_outbound_networks)",
            "not fd.snet in palisade_allowed_outbound_networks",
        );
    let errs = check_all(&[("broken.yaml", &broken)]);
    assert_eq!(errs.len(), 3, "{errs:#?}");
    assert!(errs.iter().any(|e| e.contains("priority 'URGENT'")));
    assert!(
        errs.iter()
            .any(|e| e.contains("'palisade_open_writes' is not a defined macro"))
    );
    assert!(
        errs.iter()
            .any(|e| e.contains("takes a parenthesised list"))
    );
    assert!(
        errs.iter().all(|e| e.starts_with("broken.yaml:")),
        "{errs:#?}"
    );
}
