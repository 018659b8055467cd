//! `data/atlas-techniques.tsv` matches MITRE ATLAS's own `ATLAS.yaml`
//! (../shared/peer/atlas-data, mitre-atlas/atlas-data, Apache-2.0). (Rule files naming an ATLAS
//! technique not in it are refused when loaded: see the rules module's tests.)

use palisade_k8s::yaml;
use palisade_respond::crosswalk;
use std::path::Path;

#[test]
fn the_table_is_atlas_yaml() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/peer/atlas-data/dist/ATLAS.yaml");
    let text = std::fs::read_to_string(path).expect("../shared/peer/atlas-data is present");
    let parsed = yaml::parse(&text, 0);
    assert!(parsed.error.is_none(), "{:?}", parsed.error);
    let root = &parsed.documents[0].root;
    let matrix = &root.get("matrices").unwrap().items()[0];
    let mut from_yaml = Vec::new();
    for t in matrix.get("techniques").unwrap().items() {
        let id = t.get("id").and_then(|v| v.as_str()).unwrap();
        let name = t.get("name").and_then(|v| v.as_str()).unwrap();
        let attack = t.path(&["ATT&CK-reference", "id"]).and_then(|v| v.as_str());
        let tactics: Vec<&str> = t
            .get("tactics")
            .map(|x| x.items())
            .unwrap_or(&[])
            .iter()
            .filter_map(|x| x.as_str())
            .collect();
        from_yaml.push((
            id.to_string(),
            name.to_string(),
            attack.map(str::to_string),
            tactics.join(","),
        ));
    }
    let table: Vec<_> = crosswalk::techniques()
        .iter()
        .map(|t| {
            (
                t.id.to_string(),
                t.name.to_string(),
                t.attack.map(str::to_string),
                t.tactics.join(","),
            )
        })
        .collect();
    assert_eq!(table.len(), from_yaml.len());
    for (a, b) in table.iter().zip(&from_yaml) {
        assert_eq!(a, b);
    }
    assert!(table.iter().filter(|t| t.2.is_some()).count() >= 30);
}
