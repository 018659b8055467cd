//! `palisade scan` checks the signature beside every model file it finds (MDL020–MDL022),
//! against the keys `palisade.toml` trusts.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

struct Tmp(PathBuf);

impl Drop for Tmp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A copy of the hardened example (signed model, palisade.toml trusting its key).
fn hardened(tag: &str) -> Tmp {
    let dst = std::env::temp_dir().join(format!("palisade-sigscan-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dst);
    copy(&Path::new(ROOT).join("examples/sklearn-api/hardened"), &dst);
    Tmp(dst)
}

fn copy(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        let to = dst.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy(&e.path(), &to);
        } else {
            std::fs::copy(e.path(), &to).unwrap();
        }
    }
}

fn scan(dir: &Path) -> (i32, String) {
    common::outcome(&common::run(&["scan", &dir.to_string_lossy()]))
}

#[test]
fn a_signed_model_with_a_trusted_key_is_clean() {
    let t = hardened("clean");
    let (code, out) = scan(&t.0);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("No findings"), "{out}");
}

#[test]
fn a_swapped_model_is_critical_and_names_the_file() {
    let t = hardened("swap");
    let vulnerable = Path::new(ROOT).join("examples/sklearn-api/vulnerable/model/iris.joblib");
    std::fs::copy(vulnerable, t.0.join("model/iris.joblib")).unwrap();
    let (code, out) = scan(&t.0);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("MDL021"), "{out}");
    assert!(out.contains("iris.joblib: modified"), "{out}");
    assert!(out.contains("model/model.sig"), "{out}");
}

#[test]
fn an_added_file_in_a_signed_directory_is_named() {
    let t = hardened("added");
    std::fs::write(t.0.join("model/extra.pkl"), b"\x80\x04K\x01.").unwrap();
    let (code, out) = scan(&t.0);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("extra.pkl: added"), "{out}");
    // two model files under one directory signature: one finding, at the signature
    assert_eq!(out.matches("MDL021").count(), 1, "{out}");
}

#[test]
fn an_untrusted_or_unknown_signer_is_reported() {
    let t = hardened("signer");
    // trust another key: the signature no longer verifies
    std::fs::write(
        t.0.join("model-signer.pub.pem"),
        std::fs::read(Path::new(ROOT).join("crates/palisade-sign/tests/fixtures/p256.pub.pem"))
            .unwrap(),
    )
    .unwrap();
    let (code, out) = scan(&t.0);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("MDL021") && out.contains("another key"),
        "{out}"
    );
    // trust nothing: the content is checked, the signer is unknown
    std::fs::remove_file(t.0.join("palisade.toml")).unwrap();
    let (code, out) = scan(&t.0);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("MDL022"), "{out}");
}

#[test]
fn an_unsigned_model_is_reported_and_a_file_signature_counts() {
    let t = hardened("unsigned");
    std::fs::remove_file(t.0.join("model/model.sig")).unwrap();
    let (code, out) = scan(&t.0);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("MDL020"), "{out}");
    // a signature for the file alone, beside it
    let sign = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args([
            "model",
            "sign",
            "key",
            "--private-key",
            &format!("{ROOT}/crates/palisade-sign/tests/fixtures/p256.key.pem"),
            "--signature",
            &t.0.join("model/iris.joblib.sig").to_string_lossy(),
            &t.0.join("model/iris.joblib").to_string_lossy(),
        ])
        .output()
        .unwrap();
    assert!(sign.status.success());
    std::fs::write(
        t.0.join("palisade.toml"),
        format!(
            "[model.signing]\npublic_keys = [\"{ROOT}/crates/palisade-sign/tests/fixtures/p256.pub.pem\"]\n"
        ),
    )
    .unwrap();
    let (code, out) = scan(&t.0);
    assert_eq!(code, 0, "{out}");
}
