//! Signing and verifying through the library: every way a model or its signature can be
//! changed is caught, with a message that names what changed.

use palisade_sign::keys::{PrivateKey, PublicKey};
use palisade_sign::{
    Difference, Error, Method, Serialization, Signer, Trust, VerifyOptions, cert, sign, verify,
};
use std::path::{Path, PathBuf};

const FIX: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

fn fixture(name: &str) -> String {
    std::fs::read_to_string(Path::new(FIX).join(name)).unwrap()
}

struct Tmp(PathBuf);

impl Tmp {
    fn new(tag: &str) -> Tmp {
        let p = std::env::temp_dir().join(format!("palisade-sign-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Tmp(p)
    }
}

impl Drop for Tmp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A small model directory: nested files, a dot file, an empty file, and a .git directory
/// (ignored by default).
fn model(t: &Tmp) -> PathBuf {
    let m = t.0.join("model");
    std::fs::create_dir_all(m.join("weights")).unwrap();
    std::fs::create_dir_all(m.join(".git")).unwrap();
    std::fs::write(m.join("config.json"), b"{\"layers\": 2}").unwrap();
    std::fs::write(m.join(".meta"), b"dot file").unwrap();
    std::fs::write(m.join("empty.txt"), b"").unwrap();
    std::fs::write(m.join("weights/part-1.bin"), vec![7u8; 300_000]).unwrap();
    std::fs::write(m.join("weights/part-2.bin"), vec![9u8; 123_457]).unwrap();
    std::fs::write(m.join(".git/HEAD"), b"ref: refs/heads/main").unwrap();
    m
}

fn key_signer(name: &str) -> Signer {
    Signer::Key(PrivateKey::from_pem(&fixture(name)).unwrap())
}

fn key_trust(name: &str) -> Trust {
    Trust::key(PublicKey::from_pem(&fixture(name)).unwrap())
}

fn signed(m: &Path, signer: &Signer, ser: &Serialization) -> Vec<u8> {
    sign(m, signer, ser, 2).unwrap().1.to_json().into_bytes()
}

fn opts() -> VerifyOptions {
    VerifyOptions {
        threads: 2,
        ..VerifyOptions::default()
    }
}

fn check(m: &Path, sig: &[u8], trust: &Trust) -> Result<palisade_sign::Verified, Error> {
    verify(m, sig, trust, &opts())
}

#[test]
fn every_key_type_signs_and_verifies() {
    let t = Tmp::new("keys");
    let m = model(&t);
    for (k, p) in [
        ("p256.key.pem", "p256.pub.pem"),
        ("p384.key.pem", "p384.pub.pem"),
        ("ed25519.key.pem", "ed25519.pub.pem"),
    ] {
        let sig = signed(&m, &key_signer(k), &Serialization::default());
        let v = check(&m, &sig, &key_trust(p)).unwrap_or_else(|e| panic!("{k}: {e}"));
        assert_eq!(
            v.files, 5,
            "{k}: .git is left out, the dot file and empty file are in"
        );
    }
}

#[test]
fn shards_and_other_digests_verify() {
    let t = Tmp::new("shards");
    let m = model(&t);
    for ser in [
        Serialization {
            method: Method::Shards(100_000),
            ..Serialization::default()
        },
        Serialization {
            hash: palisade_sign::HashAlg::Blake3,
            ..Serialization::default()
        },
        Serialization {
            hash: palisade_sign::HashAlg::Blake2b,
            method: Method::Shards(4096),
            ..Serialization::default()
        },
    ] {
        let (man, b) = sign(&m, &key_signer("p256.key.pem"), &ser, 2).unwrap();
        if let Method::Shards(n) = ser.method {
            let shards = man
                .items
                .iter()
                .filter(|i| i.file() == "weights/part-1.bin")
                .count();
            assert_eq!(shards as u64, 300_000u64.div_ceil(n));
            assert!(
                man.items.iter().all(|i| i.file() != "empty.txt"),
                "empty files have no shards"
            );
        }
        check(&m, b.to_json().as_bytes(), &key_trust("p256.pub.pem")).unwrap();
    }
}

fn differences(r: Result<palisade_sign::Verified, Error>) -> Vec<Difference> {
    match r {
        Err(Error::Mismatch(d)) => d,
        other => panic!("expected a mismatch, got {other:?}"),
    }
}

#[test]
fn modified_added_removed_and_renamed_files_are_named() {
    let t = Tmp::new("tamper");
    let m = model(&t);
    let sig = signed(&m, &key_signer("p256.key.pem"), &Serialization::default());
    let trust = key_trust("p256.pub.pem");

    std::fs::write(m.join("config.json"), b"{\"layers\": 3}").unwrap();
    let d = differences(check(&m, &sig, &trust));
    assert!(
        matches!(&d[..], [Difference::Modified { name, .. }] if name == "config.json"),
        "{d:?}"
    );
    std::fs::write(m.join("config.json"), b"{\"layers\": 2}").unwrap();

    std::fs::write(m.join("weights/backdoor.py"), b"import os").unwrap();
    let d = differences(check(&m, &sig, &trust));
    assert_eq!(d, vec![Difference::Added("weights/backdoor.py".into())]);
    // unless only the signed files are asked for
    let o = VerifyOptions {
        ignore_unsigned_files: true,
        ..opts()
    };
    verify(&m, &sig, &trust, &o).unwrap();
    std::fs::remove_file(m.join("weights/backdoor.py")).unwrap();

    std::fs::remove_file(m.join(".meta")).unwrap();
    let d = differences(check(&m, &sig, &trust));
    assert_eq!(d, vec![Difference::Removed(".meta".into())]);
    std::fs::write(m.join(".meta"), b"dot file").unwrap();

    std::fs::rename(m.join("weights/part-2.bin"), m.join("weights/part-3.bin")).unwrap();
    let d = differences(check(&m, &sig, &trust));
    assert_eq!(
        d,
        vec![Difference::Renamed {
            from: "weights/part-2.bin".into(),
            to: "weights/part-3.bin".into()
        }]
    );
    let msg = Error::Mismatch(d).to_string();
    assert!(
        msg.contains("weights/part-2.bin: renamed to weights/part-3.bin"),
        "{msg}"
    );
    std::fs::rename(m.join("weights/part-3.bin"), m.join("weights/part-2.bin")).unwrap();

    check(&m, &sig, &trust).unwrap();
}

#[test]
fn a_symlink_is_refused_unless_signed_with_symlinks() {
    let t = Tmp::new("symlink");
    let m = model(&t);
    let sig = signed(&m, &key_signer("p256.key.pem"), &Serialization::default());
    std::os::unix::fs::symlink("/etc/passwd", m.join("weights/link.bin")).unwrap();
    match check(&m, &sig, &key_trust("p256.pub.pem")) {
        Err(Error::Symlink(p)) => assert!(p.ends_with("weights/link.bin")),
        other => panic!("{other:?}"),
    }
    // signing with symlinks allowed signs the target's bytes under the link's name
    let ser = Serialization {
        allow_symlinks: true,
        ..Serialization::default()
    };
    let sig = signed(&m, &key_signer("p256.key.pem"), &ser);
    check(&m, &sig, &key_trust("p256.pub.pem")).unwrap();
}

#[test]
fn wrong_key_and_altered_bundles_fail_with_the_reason() {
    let t = Tmp::new("bundle");
    let m = model(&t);
    let sig = signed(&m, &key_signer("p256.key.pem"), &Serialization::default());
    let text = String::from_utf8(sig.clone()).unwrap();

    let e = check(&m, &sig, &key_trust("p384.pub.pem")).unwrap_err();
    assert!(
        matches!(e, Error::Signature(_)) && e.to_string().contains("another key"),
        "{e}"
    );

    // truncated
    let e = check(&m, &sig[..sig.len() / 2], &key_trust("p256.pub.pem")).unwrap_err();
    assert!(
        matches!(e, Error::Bundle(_)) && e.to_string().contains("not JSON"),
        "{e}"
    );

    // a digest in the signed statement changed: the subject digest no longer agrees, and
    // even with it fixed the signature does not
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let payload = base64_decode(v["dsseEnvelope"]["payload"].as_str().unwrap());
    let mut st: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    st["predicate"]["resources"][0]["digest"] = serde_json::json!("00".repeat(32));
    let e = check(&m, &with_payload(&v, &st), &key_trust("p256.pub.pem")).unwrap_err();
    assert!(e.to_string().contains("does not verify"), "{e}");

    // the signature bytes changed
    let mut v2 = v.clone();
    let s = v["dsseEnvelope"]["signatures"][0]["sig"].as_str().unwrap();
    let mut raw = base64_decode(s);
    let last = raw.len() - 1;
    raw[last] ^= 1;
    v2["dsseEnvelope"]["signatures"][0]["sig"] = serde_json::json!(base64_encode(&raw));
    let e = check(&m, v2.to_string().as_bytes(), &key_trust("p256.pub.pem")).unwrap_err();
    assert!(matches!(e, Error::Signature(_)), "{e}");

    // not a bundle at all
    let e = check(&m, b"{\"hello\": 1}", &key_trust("p256.pub.pem")).unwrap_err();
    assert!(e.to_string().contains("not a Sigstore bundle"), "{e}");
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

fn base64_encode(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn with_payload(bundle: &serde_json::Value, st: &serde_json::Value) -> Vec<u8> {
    let mut b = bundle.clone();
    b["dsseEnvelope"]["payload"] = serde_json::json!(base64_encode(st.to_string().as_bytes()));
    b.to_string().into_bytes()
}

fn certs(names: &[&str]) -> Vec<cert::Certificate> {
    names
        .iter()
        .flat_map(|n| cert::load_pem(fixture(n).as_bytes(), n).unwrap())
        .collect()
}

#[test]
fn certificate_chains_are_checked_up_to_a_trusted_root() {
    let t = Tmp::new("cert");
    let m = model(&t);
    let signer = Signer::Certificate {
        key: PrivateKey::from_pem(&fixture("leaf.key.pem")).unwrap(),
        chain: certs(&["leaf.pem", "inter.pem"]),
    };
    let sig = signed(&m, &signer, &Serialization::default());
    let v = check(&m, &sig, &Trust::certificates(certs(&["root.pem"]))).unwrap();
    assert!(
        v.signer.contains("model-signer@palisade.test"),
        "{}",
        v.signer
    );

    let e = check(&m, &sig, &Trust::certificates(certs(&["other-root.pem"]))).unwrap_err();
    assert!(
        e.to_string()
            .contains("does not lead to a trusted certificate"),
        "{e}"
    );

    // a key the certificate is not for
    let wrong = Signer::Certificate {
        key: PrivateKey::from_pem(&fixture("p256.key.pem")).unwrap(),
        chain: certs(&["leaf.pem", "inter.pem"]),
    };
    let e = sign(&m, &wrong, &Serialization::default(), 1).unwrap_err();
    assert!(e.to_string().contains("another key"), "{e}");

    // a certificate without signing usage
    let nosign = Signer::Certificate {
        key: PrivateKey::from_pem(&fixture("leaf.key.pem")).unwrap(),
        chain: certs(&["noleaf.pem", "inter.pem"]),
    };
    let sig = signed(&m, &nosign, &Serialization::default());
    let e = check(&m, &sig, &Trust::certificates(certs(&["root.pem"]))).unwrap_err();
    assert!(e.to_string().contains("may not sign"), "{e}");

    // a key-signed model checked against certificates says so
    let sig = signed(&m, &key_signer("p256.key.pem"), &Serialization::default());
    let e = check(&m, &sig, &Trust::certificates(certs(&["root.pem"]))).unwrap_err();
    assert!(e.to_string().contains("bare key"), "{e}");
}

#[test]
fn a_single_file_model_is_signed_as_dot() {
    let t = Tmp::new("single");
    let m = model(&t).join("config.json");
    let (man, b) = sign(
        &m,
        &key_signer("p256.key.pem"),
        &Serialization::default(),
        1,
    )
    .unwrap();
    assert_eq!(man.items.len(), 1);
    assert_eq!(man.items[0].name, ".");
    assert_eq!(man.model_name, "config.json");
    check(&m, b.to_json().as_bytes(), &key_trust("p256.pub.pem")).unwrap();
}

#[test]
fn unsupported_keys_are_named() {
    for (pem, want) in [
        (
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
            "encrypted",
        ),
        (
            "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n",
            "RSA PRIVATE KEY",
        ),
        ("not a key", "no PEM block"),
    ] {
        let e = PrivateKey::from_pem(pem).err().expect("refused");
        assert!(e.to_string().contains(want), "{e}");
    }
}

#[test]
fn the_key_is_picked_from_several_trusted_ones_by_its_hint() {
    let t = Tmp::new("several");
    let m = model(&t);
    let sig = signed(&m, &key_signer("p256.key.pem"), &Serialization::default());
    let mut trust = key_trust("p384.pub.pem");
    let Trust { keys, .. } = key_trust("ed25519.pub.pem");
    trust.keys.extend(keys);
    let e = check(&m, &sig, &trust).unwrap_err();
    assert!(e.to_string().contains("trusted keys' are"), "{e}");
    trust
        .keys
        .push(PublicKey::from_pem(&fixture("p256.pub.pem")).unwrap());
    let v = check(&m, &sig, &trust).unwrap();
    assert!(v.signer.starts_with("ECDSA P-256"), "{}", v.signer);
}
