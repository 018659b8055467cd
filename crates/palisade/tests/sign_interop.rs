//! Interoperability with the reference implementation, both ways: models signed by
//! `model_signing` (sigstore/model-transparency, pip `model-signing`) verify with
//! `palisade model verify`, and models signed by `palisade model sign` verify with
//! `model_signing verify` — keys (P-256, P-384), certificates, shards and BLAKE3.
//!
//! `scripts/test` installs `model-signing` into `.venv-interop` and points `MODEL_SIGNING` at
//! its command.

mod common;

use common::outcome;
use std::path::{Path, PathBuf};
use std::process::Command;

const FIX: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../palisade-sign/tests/fixtures"
);

fn fixture(name: &str) -> String {
    format!("{FIX}/{name}")
}

fn model_signing() -> PathBuf {
    if let Ok(p) = std::env::var("MODEL_SIGNING") {
        return PathBuf::from(p);
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv-interop/bin/model_signing");
    assert!(
        venv.exists(),
        "model_signing is not installed: run scripts/test (it installs model-signing into .venv-interop) or set MODEL_SIGNING"
    );
    venv
}

fn palisade(args: &[&str]) -> (i32, String) {
    outcome(&common::run(args))
}

fn verify_key(public: &str, sig: &str, model: &str) -> (i32, String) {
    palisade(&[
        "model",
        "verify",
        "key",
        "--public-key",
        public,
        "--signature",
        sig,
        model,
    ])
}

fn verify_certificate(trusted: &str, sig: &str, model: &str) -> (i32, String) {
    palisade(&[
        "model",
        "verify",
        "certificate",
        "--certificate-chain",
        trusted,
        "--signature",
        sig,
        model,
    ])
}

fn reference(args: &[&str]) -> (i32, String) {
    outcome(&Command::new(model_signing()).args(args).output().unwrap())
}

struct Tmp(PathBuf);

impl Tmp {
    fn new(tag: &str) -> Tmp {
        let p = std::env::temp_dir().join(format!("palisade-interop-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(p.join("model/tokenizer")).unwrap();
        std::fs::write(p.join("model/config.json"), b"{\"hidden\": 8}").unwrap();
        std::fs::write(p.join("model/tokenizer/vocab.txt"), b"a\nb\nc\n").unwrap();
        std::fs::write(p.join("model/model.safetensors"), vec![3u8; 2_500_000]).unwrap();
        std::fs::write(p.join("model/.hidden"), b"x").unwrap();
        Tmp(p)
    }
    fn path(&self, rel: &str) -> String {
        self.0.join(rel).to_string_lossy().into_owned()
    }
}

impl Drop for Tmp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn palisade_signatures_verify_with_model_signing() {
    let t = Tmp::new("p2m");
    let model = t.path("model");
    for (key, public, extra) in [
        ("p256.key.pem", "p256.pub.pem", vec![]),
        ("p384.key.pem", "p384.pub.pem", vec![]),
        (
            "p256.key.pem",
            "p256.pub.pem",
            vec!["--shard-size", "1000000"],
        ),
        ("p256.key.pem", "p256.pub.pem", vec!["--hash", "blake3"]),
    ] {
        let sig = t.path("p.sig");
        let key_path = fixture(key);
        let mut args = vec![
            "model",
            "sign",
            "key",
            "--private-key",
            &key_path,
            "--signature",
            &sig,
        ];
        args.extend(extra.iter().copied());
        args.push(&model);
        let (code, out) = palisade(&args);
        assert_eq!(code, 0, "{out}");
        let (code, out) = reference_api_verify(&fixture(public), &sig, &model);
        assert_eq!(code, 0, "{key} {extra:?}: model_signing says: {out}");
    }
    // a path left out of the signature is left out by model_signing's verification too
    let sig = t.path("ignored.sig");
    let ignored = t.path("model/tokenizer");
    let (code, out) = palisade(&[
        "model",
        "sign",
        "key",
        "--private-key",
        &fixture("p256.key.pem"),
        "--ignore-paths",
        &ignored,
        "--signature",
        &sig,
        &model,
    ]);
    assert_eq!(code, 0, "{out}");
    std::fs::write(t.path("model/tokenizer/vocab.txt"), b"changed").unwrap();
    let (code, out) = reference_api_verify(&fixture("p256.pub.pem"), &sig, &model);
    assert_eq!(code, 0, "model_signing says: {out}");
    // and model_signing sees a change palisade signed against
    std::fs::write(t.path("model/config.json"), b"{\"hidden\": 9}").unwrap();
    let (code, out) = reference(&[
        "verify",
        "key",
        "--public_key",
        &fixture("p256.pub.pem"),
        "--signature",
        &t.path("p.sig"),
        &model,
    ]);
    assert_ne!(code, 0, "{out}");
}

/// Verify through `model_signing`'s Python API, which (unlike its command line, which forces
/// the files serialization) takes the serialization from the signature, shards included.
fn reference_api_verify(public: &str, sig: &str, model: &str) -> (i32, String) {
    let python = model_signing().with_file_name("python");
    let script = "import sys, model_signing\nmodel_signing.verifying.Config().use_elliptic_key_verifier(public_key=sys.argv[1]).verify(sys.argv[3], sys.argv[2])\nprint('Verification succeeded')";
    outcome(
        &Command::new(python)
            .args(["-c", script, public, sig, model])
            .output()
            .unwrap(),
    )
}

#[test]
fn model_signing_shard_and_blake3_signatures_verify_with_palisade() {
    let t = Tmp::new("api");
    let model = t.path("model");
    let python = model_signing().with_file_name("python");
    for (ser, name) in [
        ("use_shard_serialization(shard_size=1000000)", "shards.sig"),
        (
            "use_file_serialization(hashing_algorithm='blake3')",
            "blake3.sig",
        ),
    ] {
        let sig = t.path(name);
        let script = format!(
            "import sys, model_signing\nh = model_signing.hashing.Config().{ser}\nmodel_signing.signing.Config().use_elliptic_key_signer(private_key=sys.argv[1]).set_hashing_config(h).sign(sys.argv[2], sys.argv[3])"
        );
        let out = Command::new(&python)
            .args(["-c", &script, &fixture("p384.key.pem"), &model, &sig])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let (code, out) = verify_key(&fixture("p384.pub.pem"), &sig, &model);
        assert_eq!(code, 0, "{name}: {out}");
    }
}

#[test]
fn model_signing_signatures_verify_with_palisade() {
    let t = Tmp::new("m2p");
    let model = t.path("model");
    for (key, public) in [
        ("p256.key.pem", "p256.pub.pem"),
        ("p384.key.pem", "p384.pub.pem"),
    ] {
        // the signature inside the model directory is left out by both tools
        let sig = t.path("model/model.sig");
        let (code, out) = reference(&[
            "sign",
            "key",
            "--private_key",
            &fixture(key),
            "--signature",
            &sig,
            &model,
        ]);
        assert_eq!(code, 0, "model_signing sign: {out}");
        let (code, out) = verify_key(&fixture(public), &sig, &model);
        assert_eq!(code, 0, "{key}: {out}");
        assert!(out.contains("Verified") && out.contains("4 files"), "{out}");
    }
    // palisade's verdict on a model changed after model_signing signed it names the file
    // (the last signature was made with the P-384 key)
    std::fs::write(t.path("model/tokenizer/vocab.txt"), b"a\nb\nEVIL\n").unwrap();
    let (code, out) = verify_key(&fixture("p384.pub.pem"), &t.path("model/model.sig"), &model);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("tokenizer/vocab.txt: modified"), "{out}");
    // a signature made for another key
    let (code, out) = verify_key(&fixture("p256.pub.pem"), &t.path("model/model.sig"), &model);
    assert_eq!(code, 1, "{out}");
}

#[test]
fn certificate_signatures_verify_both_ways() {
    let t = Tmp::new("cert");
    let model = t.path("model");
    let sig = t.path("ref.sig");
    let (code, out) = reference(&[
        "sign",
        "certificate",
        "--private_key",
        &fixture("leaf.key.pem"),
        "--signing_certificate",
        &fixture("leaf.pem"),
        "--certificate_chain",
        &fixture("inter.pem"),
        "--signature",
        &sig,
        &model,
    ]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = verify_certificate(&fixture("root.pem"), &sig, &model);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("model-signer@palisade.test"), "{out}");

    let sig = t.path("ours.sig");
    let (code, out) = palisade(&[
        "model",
        "sign",
        "certificate",
        "--private-key",
        &fixture("leaf.key.pem"),
        "--signing-certificate",
        &fixture("leaf.pem"),
        "--certificate-chain",
        &fixture("inter.pem"),
        "--signature",
        &sig,
        &model,
    ]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = reference(&[
        "verify",
        "certificate",
        "--certificate_chain",
        &fixture("root.pem"),
        "--signature",
        &sig,
        &model,
    ]);
    assert_eq!(code, 0, "model_signing says: {out}");
    // a root that did not issue the chain
    let (code, out) = verify_certificate(&fixture("other-root.pem"), &sig, &model);
    assert_eq!(code, 1, "{out}");
}

#[test]
fn keyless_is_refused_with_the_reason() {
    let (code, out) = palisade(&["model", "sign", "sigstore", "model"]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("offline") || out.contains("does not use"),
        "{out}"
    );
}
