//! `palisade model scan` and model files inside `palisade scan`, end to end.

mod common;

use common::{json, run, tempdir};

const CORPUS: &str = "crates/palisade-model/tests/corpus";

#[test]
fn a_malicious_pickle_is_reported_with_offset_and_exit_1() {
    let out = run(&[
        "model",
        "scan",
        &format!("{CORPUS}/malicious/os_system_p2.pkl"),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("critical MDL001 pickle-dangerous-call"),
        "{text}"
    );
    assert!(text.contains("calls os.system(\"mkdir -p"), "{text}");
    assert!(text.contains("(written as posix.system)"), "{text}");
    assert!(text.contains("  @"), "offset shown: {text}");
}

#[test]
fn benign_models_are_clean_and_say_so() {
    let out = run(&["model", "scan", &format!("{CORPUS}/benign")]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("benign/model.safetensors  [safetensors]  clean"),
        "{text}"
    );
    assert!(
        text.contains("[gzip → tar → zip → pickle]  clean"),
        "{text}"
    );
    assert!(
        text.contains("benign/model.7z  [7z → zip → pickle]  clean"),
        "{text}"
    );
    assert!(text.contains("No findings in 30 files"), "{text}");
}

#[test]
fn json_has_member_paths_offsets_and_a_models_list() {
    let out = run(&[
        "model",
        "scan",
        "--format",
        "json",
        &format!("{CORPUS}/malicious/zip_bad_crc.pt"),
    ]);
    let v = json(&out);
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "MDL001")
        .expect("MDL001");
    assert_eq!(
        f["path"],
        format!("{CORPUS}/malicious/zip_bad_crc.pt!archive/data.pkl")
    );
    assert!(f["offset"].as_u64().is_some());
    assert!(
        f["techniques"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "AML.T0011.000")
    );
    let crc = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "MDL007")
        .expect("MDL007");
    assert!(crc["message"].as_str().unwrap().contains("CRC"));
    let models = v["models"].as_array().unwrap();
    assert_eq!(models.len(), 1);
    assert_eq!(models[0]["format"], "zip → pickle");
    assert_eq!(models[0]["worst"], "critical");
}

#[test]
fn sarif_locates_model_findings_by_byte_offset() {
    let out = run(&[
        "model",
        "scan",
        "--format",
        "sarif",
        &format!("{CORPUS}/malicious/os_system_p2.pkl"),
    ]);
    let v = json(&out);
    let region = &v["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"];
    assert!(region["byteOffset"].as_u64().is_some(), "{region}");
}

#[test]
fn palisade_toml_extends_the_allowlist() {
    let dir = tempdir("model-allow");
    std::fs::write(dir.join("net.pkl"), b"\x80\x02c__main__\nNet\n)\x81.").unwrap();
    let path = dir.join("net.pkl");
    let out = run(&["model", "scan", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("MDL002"));
    std::fs::write(
        dir.join("palisade.toml"),
        "[model]\nallow = [\"__main__.Net\"]\n",
    )
    .unwrap();
    let cfg = dir.join("palisade.toml");
    let out = run(&[
        "model",
        "scan",
        "--config",
        cfg.to_str().unwrap(),
        path.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn palisade_scan_finds_model_files_by_content_beside_manifests() {
    let dir = tempdir("scan-models");
    std::fs::copy(
        common::repo().join(format!("{CORPUS}/malicious/model.safetensors")),
        dir.join("model.safetensors"),
    )
    .unwrap();
    std::fs::copy(
        common::repo().join(format!("{CORPUS}/benign/model.safetensors")),
        dir.join("clean.safetensors"),
    )
    .unwrap();
    std::fs::write(
        dir.join("pod.yaml"),
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n    image: x@sha256:0000000000000000000000000000000000000000000000000000000000000000\n",
    )
    .unwrap();
    let out = run(&["scan", "--format", "json", dir.to_str().unwrap()]);
    let v = json(&out);
    let rules: Vec<(String, String)> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_string(),
                f["path"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        rules
            .iter()
            .any(|(r, p)| r == "MDL001" && p.ends_with("model.safetensors")),
        "{rules:?}"
    );
    assert!(
        rules
            .iter()
            .any(|(r, p)| r == "MDL009" && p.ends_with("model.safetensors")),
        "{rules:?}"
    );
    // the clean model has nothing wrong in it; it is only unsigned
    assert!(
        !rules
            .iter()
            .any(|(r, p)| p.ends_with("clean.safetensors") && r != "MDL020"),
        "{rules:?}"
    );
    assert!(
        rules
            .iter()
            .any(|(r, p)| r == "MDL020" && p.ends_with("clean.safetensors")),
        "{rules:?}"
    );
    assert!(rules.iter().any(|(r, _)| r.starts_with("K8S")), "{rules:?}");
    assert!(
        v["errors"].as_array().unwrap().is_empty(),
        "{}",
        v["errors"]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn explicit_non_model_files_are_skipped_with_a_reason() {
    let out = run(&["model", "scan", "README.md"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("not a recognised model format"), "{text}");
}
