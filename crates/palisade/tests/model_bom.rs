//! `palisade model bom`: a CycloneDX 1.6 ML-BOM that validates against the official schema
//! (`../shared/peer/cyclonedx`, with the SPDX and JSF schemas it references) and says, per
//! model, its hash, format, scan verdict and signature status.

mod common;

use std::process::Command;

fn validate(bom: &std::path::Path) {
    let schemas = common::shared().join("peer/cyclonedx/schema");
    let script = r#"
import json, sys, jsonschema, referencing
from referencing.jsonschema import DRAFT7
d = sys.argv[2]
docs = [json.load(open(f"{d}/{f}")) for f in ("bom-1.6.schema.json", "spdx.schema.json", "jsf-0.82.schema.json")]
reg = referencing.Registry().with_resources([(s["$id"], referencing.Resource.from_contents(s, default_specification=DRAFT7)) for s in docs])
v = jsonschema.Draft7Validator(docs[0], registry=reg, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
errors = [f"{list(e.path)}: {e.message}" for e in v.iter_errors(json.load(open(sys.argv[1])))]
print("\n".join(errors) or "valid")
sys.exit(1 if errors else 0)
"#;
    let out = Command::new("python3")
        .args([
            "-c",
            script,
            &bom.to_string_lossy(),
            &schemas.to_string_lossy(),
        ])
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "the ML-BOM does not validate (scripts/test installs python jsonschema): {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn property<'a>(c: &'a serde_json::Value, name: &str) -> &'a str {
    c["properties"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .and_then(|p| p["value"].as_str())
        .unwrap_or("")
}

#[test]
fn the_example_bom_validates_and_tells_the_two_models_apart() {
    let out_path = std::env::temp_dir().join(format!("palisade-bom-{}.json", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .current_dir(common::repo())
        .args([
            "model",
            "bom",
            "examples/sklearn-api",
            "--config",
            "examples/sklearn-api/palisade.toml",
            "-o",
            &out_path.to_string_lossy(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    validate(&out_path);
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out_path).unwrap()).unwrap();
    let _ = std::fs::remove_file(&out_path);
    let comps = v["components"].as_array().unwrap();
    assert_eq!(comps.len(), 2, "{comps:?}");
    let hardened = comps
        .iter()
        .find(|c| property(c, "palisade:path").contains("hardened"))
        .unwrap();
    let vulnerable = comps
        .iter()
        .find(|c| property(c, "palisade:path").contains("vulnerable"))
        .unwrap();
    assert_eq!(hardened["type"], "machine-learning-model");
    assert_eq!(property(hardened, "palisade:scan:verdict"), "clean");
    assert_eq!(property(hardened, "palisade:signature"), "verified");
    assert_eq!(property(vulnerable, "palisade:scan:verdict"), "critical");
    assert_eq!(property(vulnerable, "palisade:signature"), "unsigned");
    // the hash is the file's SHA-256
    let expected = {
        use sha2::Digest;
        let b =
            std::fs::read(common::repo().join("examples/sklearn-api/hardened/model/iris.joblib"))
                .unwrap();
        sha2::Sha256::digest(&b)
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect::<String>()
    };
    assert_eq!(hardened["hashes"][0]["content"], expected.as_str());
}
