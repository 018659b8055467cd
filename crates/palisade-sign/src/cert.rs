//! Certificate-based signing: the bundle carries the signing certificate and the chain the
//! signer chose; the verifier trusts only the certificates it is given (`--certificate-chain`)
//! and checks, as `model_signing` does with OpenSSL, that the signing certificate leads to one
//! of them through valid signatures at the time it was issued (its `notBefore`), that every
//! issuer is a CA, and that the signing certificate may sign (key usage `digitalSignature` or
//! extended key usage `codeSigning`). Issuers sign with ECDSA (SHA-256/384/512) or Ed25519.

use crate::error::{Error, Result};
use crate::keys::{EcdsaHash, PublicKey};
pub use x509_cert::Certificate;
use x509_cert::der::{Decode, Encode, oid::ObjectIdentifier};
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage};

const ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ECDSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const ECDSA_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.4");
const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const CODE_SIGNING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.3");

/// Every certificate in PEM text (a file may hold several).
pub fn load_pem(text: &[u8], what: &str) -> Result<Vec<Certificate>> {
    let certs = Certificate::load_pem_chain(text)
        .map_err(|e| Error::Key(format!("{what}: not PEM certificates ({e})")))?;
    if certs.is_empty() {
        return Err(Error::Key(format!("{what}: no certificate found")));
    }
    Ok(certs)
}

pub fn der(c: &Certificate) -> Vec<u8> {
    c.to_der().unwrap_or_default()
}

pub fn from_der(b: &[u8]) -> Result<Certificate> {
    Certificate::from_der(b)
        .map_err(|e| Error::Bundle(format!("certificate is not DER X.509 ({e})")))
}

pub fn subject(c: &Certificate) -> String {
    c.tbs_certificate().subject().to_string()
}

pub fn public_key(c: &Certificate) -> Result<PublicKey> {
    let spki = c
        .tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .map_err(|e| Error::Key(format!("certificate key: {e}")))?;
    PublicKey::from_spki_der(&spki)
}

/// Did `issuer` sign `cert`?
fn signed_by(cert: &Certificate, issuer: &Certificate) -> std::result::Result<(), String> {
    let key = public_key(issuer).map_err(|e| e.to_string())?;
    let tbs = cert.tbs_certificate().to_der().map_err(|e| e.to_string())?;
    let sig = cert
        .signature()
        .as_bytes()
        .ok_or("certificate signature has unused bits")?;
    let alg = cert.signature_algorithm().oid;
    let hash = match alg {
        a if a == ECDSA_SHA256 => EcdsaHash::Sha256,
        a if a == ECDSA_SHA384 => EcdsaHash::Sha384,
        a if a == ECDSA_SHA512 => EcdsaHash::Sha512,
        a if a == ED25519 => EcdsaHash::Sha512,
        other => {
            return Err(format!(
                "signature algorithm {other} is not ECDSA or Ed25519 (RSA-signed chains are not supported)"
            ));
        }
    };
    key.verify_ecdsa(hash, &tbs, sig)
}

fn valid_at(c: &Certificate, t: std::time::Duration) -> bool {
    let v = c.tbs_certificate().validity();
    v.not_before.to_unix_duration() <= t && t <= v.not_after.to_unix_duration()
}

fn is_ca(c: &Certificate) -> bool {
    let tbs = c.tbs_certificate();
    let ca = matches!(tbs.get_extension::<BasicConstraints>(), Ok(Some((_, b))) if b.ca);
    let may_sign_certs = match tbs.get_extension::<KeyUsage>() {
        Ok(Some((_, ku))) => ku.key_cert_sign(),
        Ok(None) => true,
        Err(_) => false,
    };
    ca && may_sign_certs
}

fn may_sign(c: &Certificate) -> bool {
    let tbs = c.tbs_certificate();
    if let Ok(Some((_, ku))) = tbs.get_extension::<KeyUsage>()
        && ku.digital_signature()
    {
        return true;
    }
    matches!(tbs.get_extension::<ExtendedKeyUsage>(), Ok(Some((_, eku))) if eku.0.contains(&CODE_SIGNING))
}

/// Check the signing certificate (`chain[0]`) against the trusted certificates, with the
/// rest of `chain` as intermediates; the signing certificate's key when it holds.
pub fn verify_chain(chain: &[Certificate], trusted: &[Certificate]) -> Result<PublicKey> {
    let leaf = chain
        .first()
        .ok_or_else(|| Error::Bundle("certificate chain is empty".into()))?;
    let at = leaf
        .tbs_certificate()
        .validity()
        .not_before
        .to_unix_duration();
    if !may_sign(leaf) {
        return Err(Error::Signature(format!(
            "signing certificate '{}' may not sign (neither key usage digitalSignature nor extended key usage codeSigning)",
            subject(leaf)
        )));
    }
    let trusted_der: Vec<Vec<u8>> = trusted.iter().map(der).collect();
    let mut current = leaf;
    let mut path = vec![subject(leaf)];
    for _ in 0..=chain.len() {
        if !valid_at(current, at) {
            return Err(Error::Signature(format!(
                "certificate '{}' was not valid when the signing certificate was issued",
                subject(current)
            )));
        }
        if trusted_der.contains(&der(current)) {
            return public_key(leaf);
        }
        let issuer_name = current.tbs_certificate().issuer();
        let mut why = Vec::new();
        let mut next = None;
        // a trusted issuer ends the path; otherwise an intermediate from the bundle continues it
        for cand in trusted.iter().chain(chain[1..].iter()) {
            if cand.tbs_certificate().subject() != issuer_name {
                continue;
            }
            if !is_ca(cand) {
                why.push(format!("'{}' is not a CA", subject(cand)));
                continue;
            }
            match signed_by(current, cand) {
                Ok(()) => {
                    if trusted_der.contains(&der(cand)) {
                        if !valid_at(cand, at) {
                            return Err(Error::Signature(format!(
                                "trusted certificate '{}' was not valid when the signing certificate was issued",
                                subject(cand)
                            )));
                        }
                        return public_key(leaf);
                    }
                    next = Some(cand);
                    break;
                }
                Err(e) => why.push(format!("'{}': {e}", subject(cand))),
            }
        }
        if let Some(cand) = next {
            path.push(subject(cand));
            current = cand;
        } else {
            return Err(Error::Signature(format!(
                "certificate '{}' does not lead to a trusted certificate (issuer '{}'{}; path: {})",
                subject(current),
                issuer_name,
                if why.is_empty() {
                    " not among the trusted or bundled certificates".to_string()
                } else {
                    format!(": {}", why.join("; "))
                },
                path.join(" <- ")
            )));
        }
    }
    Err(Error::Signature(format!(
        "certificate chain does not end at a trusted certificate (path: {})",
        path.join(" <- ")
    )))
}
