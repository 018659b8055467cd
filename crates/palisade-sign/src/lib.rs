//! Model signing and verification in the OpenSSF Model Signing format: what `model_signing`
//! 1.x (sigstore/model-transparency) writes and reads — a Sigstore bundle whose DSSE envelope
//! signs an in-toto statement listing every file (or shard) of the model with its digest.
//!
//! Key-based (ECDSA P-256/P-384, Ed25519) and certificate-based signing work offline. Keyless
//! Sigstore signing needs the public Fulcio and Rekor services and is not offered; keyless
//! bundles are recognised and refused with that reason.
//!
//! The API the scanner, the guard and the response side call: [`sign`], [`verify`].

pub mod bundle;
pub mod cert;
pub mod check;
pub mod error;
pub mod keys;
pub mod manifest;
pub mod rules;
pub mod serialize;

pub use error::{Difference, Error, Result};
pub use serialize::{HashAlg, Method, Serialization};

use bundle::{Bundle, Material};
use keys::{PrivateKey, PublicKey};
use manifest::Manifest;
use std::collections::BTreeMap;
use std::path::Path;

/// Who signs.
pub enum Signer {
    Key(PrivateKey),
    /// A key with its certificate (first) and the chain to include in the bundle.
    Certificate {
        key: PrivateKey,
        chain: Vec<x509_cert::Certificate>,
    },
}

impl Signer {
    fn key(&self) -> &PrivateKey {
        match self {
            Signer::Key(k) | Signer::Certificate { key: k, .. } => k,
        }
    }
}

/// What a verifier trusts: public keys (a key-signed bundle must verify with one of them,
/// picked by the bundle's key hint) and certificates (roots or intermediates a signing
/// certificate must lead to).
#[derive(Default, Clone)]
pub struct Trust {
    pub keys: Vec<PublicKey>,
    pub certificates: Vec<x509_cert::Certificate>,
}

impl Trust {
    pub fn key(k: PublicKey) -> Trust {
        Trust {
            keys: vec![k],
            certificates: Vec::new(),
        }
    }

    pub fn certificates(c: Vec<x509_cert::Certificate>) -> Trust {
        Trust {
            keys: Vec::new(),
            certificates: c,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.certificates.is_empty()
    }
}

/// Sign the model (a file or directory): its manifest and the bundle to write.
pub fn sign(
    model: &Path,
    signer: &Signer,
    ser: &Serialization,
    threads: usize,
) -> Result<(Manifest, Bundle)> {
    let material = match signer {
        Signer::Key(k) => Material::PublicKey {
            hint: Some(k.public().hint()),
        },
        Signer::Certificate { key, chain } => {
            let leaf = chain
                .first()
                .ok_or_else(|| Error::Key("no signing certificate".into()))?;
            if cert::public_key(leaf)? != key.public() {
                return Err(Error::Key(format!(
                    "the signing certificate '{}' is for another key than the private key given",
                    cert::subject(leaf)
                )));
            }
            Material::Chain(chain.iter().map(cert::der).collect())
        }
    };
    let manifest = serialize::hash_model(model, ser, threads)?;
    let payload = manifest.statement();
    let sig = signer
        .key()
        .sign(&bundle::pae(bundle::PAYLOAD_TYPE, &payload));
    Ok((manifest, Bundle::new(material, payload, sig)))
}

/// What a successful verification established.
#[derive(Debug)]
pub struct Verified {
    pub manifest: Manifest,
    /// Who signed: the key type and hint, or the signing certificate's subject.
    pub signer: String,
    /// Files of the model checked.
    pub files: usize,
}

#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// More paths (relative to the model) to leave out, e.g. the signature file itself.
    pub ignore_paths: Vec<String>,
    /// Check only the files the signature lists; files added since are not an error.
    pub ignore_unsigned_files: bool,
    pub threads: usize,
}

/// Check that the signature is valid for `trust` and that it covers the model as it is now.
pub fn verify(
    model: &Path,
    signature: &[u8],
    trust: &Trust,
    opts: &VerifyOptions,
) -> Result<Verified> {
    verify_with(model, signature, Some(trust), opts)
}

/// Check the model against the signed manifest without establishing who signed it (for a
/// caller that has no key to check with): the content is intact or the differences are named.
pub fn verify_unauthenticated(
    model: &Path,
    signature: &[u8],
    opts: &VerifyOptions,
) -> Result<Verified> {
    verify_with(model, signature, None, opts)
}

fn verify_with(
    model: &Path,
    signature: &[u8],
    trust: Option<&Trust>,
    opts: &VerifyOptions,
) -> Result<Verified> {
    let b = Bundle::parse(signature)?;
    let signer = match trust {
        Some(t) => check_signature(&b, t)?,
        None => "nobody checked (no trusted key)".to_string(),
    };
    if b.payload_type != bundle::PAYLOAD_TYPE {
        return Err(Error::Bundle(format!(
            "payloadType '{}' is not {}",
            b.payload_type,
            bundle::PAYLOAD_TYPE
        )));
    }
    let expected = Manifest::from_statement(&b.payload)?;
    let mut ser = expected.serialization.clone();
    ser.ignore_paths.extend(opts.ignore_paths.iter().cloned());
    let mut files = serialize::files(model, &ser)?;
    if opts.ignore_unsigned_files {
        let signed: std::collections::BTreeSet<Vec<String>> =
            expected.items.iter().map(|i| i.parts.clone()).collect();
        files.retain(|f| signed.contains(&f.parts));
    }
    let n = files.len();
    let actual = serialize::hash_files(
        serialize::model_name(model),
        files,
        &ser,
        opts.threads.max(1),
    )?;
    let diffs = differences(&expected, &actual);
    if !diffs.is_empty() {
        return Err(Error::Mismatch(diffs));
    }
    Ok(Verified {
        manifest: expected,
        signer,
        files: n,
    })
}

/// Verify the envelope's signature; who signed.
fn check_signature(b: &Bundle, trust: &Trust) -> Result<String> {
    let pae = bundle::pae(&b.payload_type, &b.payload);
    let sig = &b.signatures[0];
    // model_signing 0.2's encoding, which its verifier still accepts
    let signs = |key: &PublicKey| {
        key.verify(&pae, sig).or_else(|e| {
            key.verify(&bundle::pae_compat(&b.payload_type, &b.payload), sig)
                .map_err(|_| e)
        })
    };
    match &b.material {
        Material::Keyless => Err(Error::Unsupported(
            "this is a keyless Sigstore signature: verifying it needs Sigstore's trust root and transparency log (Fulcio, Rekor), which palisade does not reach offline; verify it with `model_signing verify sigstore`".into(),
        )),
        Material::PublicKey { .. } if trust.keys.is_empty() => Err(Error::Signature(
            "the model was signed with a bare key and no public key is trusted: verify with `key --public-key`".into(),
        )),
        Material::PublicKey { hint } => {
            // the hint names the key; bundles without one are tried against every key
            let candidates: Vec<&PublicKey> = trust
                .keys
                .iter()
                .filter(|k| hint.as_ref().is_none_or(|h| *h == k.hint()))
                .collect();
            if candidates.is_empty() {
                let ours: Vec<String> = trust.keys.iter().map(|k| k.hint()).collect();
                return Err(Error::Signature(format!(
                    "signed by another key (the signature's key hint is {}, the trusted key{} {})",
                    hint.as_deref().unwrap_or(""),
                    if ours.len() == 1 { "'s is" } else { "s' are" },
                    ours.join(", ")
                )));
            }
            let mut last = String::new();
            for k in candidates {
                match signs(k) {
                    Ok(()) => return Ok(format!("{} key {}", k.kind(), &k.hint()[..16])),
                    Err(e) => last = e,
                }
            }
            Err(Error::Signature(format!(
                "{last}: the signed statement was altered or the signature was made with another key"
            )))
        }
        Material::Chain(_) if trust.certificates.is_empty() => Err(Error::Signature(
            "the model was signed with a certificate and no certificate is trusted: verify with `certificate --certificate-chain`".into(),
        )),
        Material::Chain(ders) => {
            let chain = ders
                .iter()
                .map(|d| cert::from_der(d))
                .collect::<Result<Vec<_>>>()?;
            let key = cert::verify_chain(&chain, &trust.certificates)?;
            signs(&key).map_err(|e| {
                Error::Signature(format!(
                    "{e}: the signed statement was altered or the signature was made with another key"
                ))
            })?;
            Ok(format!("certificate '{}'", cert::subject(&chain[0])))
        }
    }
}

/// How the model on disk differs from the signed manifest, sorted by name.
pub fn differences(expected: &Manifest, actual: &Manifest) -> Vec<Difference> {
    let exp: BTreeMap<&str, &[u8]> = expected
        .items
        .iter()
        .map(|i| (i.name.as_str(), i.digest.as_slice()))
        .collect();
    let act: BTreeMap<&str, &[u8]> = actual
        .items
        .iter()
        .map(|i| (i.name.as_str(), i.digest.as_slice()))
        .collect();
    let mut removed: Vec<&str> = exp
        .keys()
        .filter(|k| !act.contains_key(*k))
        .copied()
        .collect();
    let mut added: Vec<&str> = act
        .keys()
        .filter(|k| !exp.contains_key(*k))
        .copied()
        .collect();
    let mut out = Vec::new();
    // a removed file whose digest reappears under a new name was renamed
    if expected.serialization.method == Method::Files {
        removed.retain(|r| {
            let d = exp[r];
            if let Some(pos) = added.iter().position(|a| act[a] == d) {
                out.push(Difference::Renamed {
                    from: r.to_string(),
                    to: added.remove(pos).to_string(),
                });
                false
            } else {
                true
            }
        });
    }
    out.extend(removed.iter().map(|r| Difference::Removed(r.to_string())));
    out.extend(added.iter().map(|a| Difference::Added(a.to_string())));
    for (k, d) in &exp {
        if let Some(a) = act.get(k)
            && a != d
        {
            out.push(Difference::Modified {
                name: k.to_string(),
                expected: manifest::to_hex(d),
                actual: manifest::to_hex(a),
            });
        }
    }
    out.sort_by(|a, b| diff_name(a).cmp(diff_name(b)));
    out
}

fn diff_name(d: &Difference) -> &str {
    match d {
        Difference::Added(n) | Difference::Removed(n) => n,
        Difference::Modified { name, .. } => name,
        Difference::Renamed { from, .. } => from,
    }
}
