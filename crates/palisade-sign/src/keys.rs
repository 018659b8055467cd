//! Signing keys: PEM ECDSA P-256/P-384 (PKCS#8 `PRIVATE KEY` or SEC1 `EC PRIVATE KEY`) and
//! Ed25519 (PKCS#8), public keys as `PUBLIC KEY` (SubjectPublicKeyInfo). ECDSA signatures are
//! DER-encoded over the message with the curve's hash (SHA-256 for P-256, SHA-384 for P-384),
//! as `model_signing` and OpenSSL make them.

use crate::error::{Error, Result};
use ed25519_dalek::pkcs8::{DecodePrivateKey as _, DecodePublicKey as _, EncodePublicKey as _};
use p256::pkcs8::LineEnding;
use sha2::Digest as _;

pub enum PrivateKey {
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
    Ed25519(Box<ed25519_dalek::SigningKey>),
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub enum PublicKey {
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
    Ed25519(ed25519_dalek::VerifyingKey),
}

/// The hash an ECDSA signature in a certificate was made with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EcdsaHash {
    Sha256,
    Sha384,
    Sha512,
}

fn pem_label(text: &str) -> Option<&str> {
    let start = text.find("-----BEGIN ")? + 11;
    let end = text[start..].find("-----")?;
    Some(&text[start..start + end])
}

/// A PEM file's text; errors name the file and what it should hold.
pub fn read_pem(path: &std::path::Path, what: &str) -> std::result::Result<String, String> {
    let bytes =
        std::fs::read(path).map_err(|e| format!("cannot read {what} {}: {e}", path.display()))?;
    String::from_utf8(bytes)
        .map_err(|_| format!("{what} {} is not text (PEM expected)", path.display()))
}

impl PrivateKey {
    /// A PEM private key from a file; errors name the file.
    pub fn read(path: &std::path::Path) -> std::result::Result<PrivateKey, String> {
        PrivateKey::from_pem(&read_pem(path, "private key")?)
            .map_err(|e| format!("{}: {e}", path.display()))
    }

    /// A private key from PEM text.
    pub fn from_pem(text: &str) -> Result<PrivateKey> {
        match pem_label(text) {
            Some("PRIVATE KEY") => {
                if let Ok(k) = p256::ecdsa::SigningKey::from_pkcs8_pem(text) {
                    return Ok(PrivateKey::P256(k));
                }
                if let Ok(k) = p384::ecdsa::SigningKey::from_pkcs8_pem(text) {
                    return Ok(PrivateKey::P384(k));
                }
                if let Ok(k) = ed25519_dalek::SigningKey::from_pkcs8_pem(text) {
                    return Ok(PrivateKey::Ed25519(Box::new(k)));
                }
                Err(Error::Key(
                    "PKCS#8 key is not ECDSA P-256, ECDSA P-384 or Ed25519 (the key types model signing uses; P-521 and RSA are not supported)".into(),
                ))
            }
            Some("EC PRIVATE KEY") => {
                if let Ok(k) = p256::SecretKey::from_sec1_pem(text) {
                    return Ok(PrivateKey::P256(k.into()));
                }
                if let Ok(k) = p384::SecretKey::from_sec1_pem(text) {
                    return Ok(PrivateKey::P384(k.into()));
                }
                Err(Error::Key(
                    "EC key is not on P-256 or P-384 (P-521 is not supported)".into(),
                ))
            }
            Some("ENCRYPTED PRIVATE KEY") => Err(Error::Key(
                "the private key is encrypted; decrypt it first (openssl pkcs8 -in KEY -out plain.pem)".into(),
            )),
            Some(other) => Err(Error::Key(format!(
                "a '{other}' PEM block is not a supported private key (ECDSA P-256/P-384 or Ed25519)"
            ))),
            None => Err(Error::Key("no PEM block found".into())),
        }
    }

    pub fn public(&self) -> PublicKey {
        match self {
            PrivateKey::P256(k) => PublicKey::P256(*k.verifying_key()),
            PrivateKey::P384(k) => PublicKey::P384(*k.verifying_key()),
            PrivateKey::Ed25519(k) => PublicKey::Ed25519(k.verifying_key()),
        }
    }

    /// Sign `msg`: DER ECDSA with the curve's hash, or a raw 64-byte Ed25519 signature.
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        use p256::ecdsa::signature::Signer;
        match self {
            PrivateKey::P256(k) => {
                let s: p256::ecdsa::Signature = k.sign(msg);
                s.to_der().as_bytes().to_vec()
            }
            PrivateKey::P384(k) => {
                let s: p384::ecdsa::Signature = k.sign(msg);
                s.to_der().as_bytes().to_vec()
            }
            PrivateKey::Ed25519(k) => k.sign(msg).to_bytes().to_vec(),
        }
    }
}

impl PublicKey {
    /// A PEM public key from a file; errors name the file.
    pub fn read(path: &std::path::Path) -> std::result::Result<PublicKey, String> {
        PublicKey::from_pem(&read_pem(path, "public key")?)
            .map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn from_pem(text: &str) -> Result<PublicKey> {
        match pem_label(text) {
            Some("PUBLIC KEY") => {}
            Some(other) => {
                return Err(Error::Key(format!(
                    "a '{other}' PEM block is not a public key (expected 'PUBLIC KEY')"
                )));
            }
            None => return Err(Error::Key("no PEM block found".into())),
        }
        let der = ed25519_dalek::pkcs8::spki::Document::from_pem(text)
            .map_err(|e| Error::Key(format!("public key PEM: {e}")))?
            .1;
        Self::from_spki_der(der.as_bytes())
    }

    /// A public key from DER SubjectPublicKeyInfo (as in a certificate).
    pub fn from_spki_der(der: &[u8]) -> Result<PublicKey> {
        if let Ok(k) = p256::ecdsa::VerifyingKey::from_public_key_der(der) {
            return Ok(PublicKey::P256(k));
        }
        if let Ok(k) = p384::ecdsa::VerifyingKey::from_public_key_der(der) {
            return Ok(PublicKey::P384(k));
        }
        if let Ok(k) = ed25519_dalek::VerifyingKey::from_public_key_der(der) {
            return Ok(PublicKey::Ed25519(k));
        }
        Err(Error::Key(
            "public key is not ECDSA P-256, ECDSA P-384 or Ed25519".into(),
        ))
    }

    pub fn kind(&self) -> &'static str {
        match self {
            PublicKey::P256(_) => "ECDSA P-256",
            PublicKey::P384(_) => "ECDSA P-384",
            PublicKey::Ed25519(_) => "Ed25519",
        }
    }

    /// The key as PEM SubjectPublicKeyInfo, the way OpenSSL and `cryptography` write it.
    pub fn pem(&self) -> String {
        let r = match self {
            PublicKey::P256(k) => k.to_public_key_pem(LineEnding::LF),
            PublicKey::P384(k) => k.to_public_key_pem(LineEnding::LF),
            PublicKey::Ed25519(k) => k.to_public_key_pem(LineEnding::LF),
        };
        r.unwrap_or_default()
    }

    /// `model_signing`'s key hint: SHA-256 (hex) of the PEM public key.
    pub fn hint(&self) -> String {
        crate::manifest::to_hex(&sha2::Sha256::digest(self.pem().as_bytes()))
    }

    /// Verify a signature over `msg` made with this key's default hash.
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> std::result::Result<(), String> {
        match self {
            PublicKey::P256(_) => self.verify_ecdsa(EcdsaHash::Sha256, msg, sig),
            PublicKey::P384(_) => self.verify_ecdsa(EcdsaHash::Sha384, msg, sig),
            PublicKey::Ed25519(k) => {
                let s = ed25519_dalek::Signature::from_slice(sig)
                    .map_err(|_| "Ed25519 signature is not 64 bytes".to_string())?;
                k.verify_strict(msg, &s)
                    .map_err(|_| "the Ed25519 signature does not match".to_string())
            }
        }
    }

    /// Verify a DER ECDSA signature over `msg` hashed with `hash` (certificates may pair any
    /// curve with any hash); Ed25519 ignores `hash`.
    pub fn verify_ecdsa(
        &self,
        hash: EcdsaHash,
        msg: &[u8],
        sig: &[u8],
    ) -> std::result::Result<(), String> {
        use p256::ecdsa::signature::hazmat::PrehashVerifier;
        let digest = match hash {
            EcdsaHash::Sha256 => sha2::Sha256::digest(msg).to_vec(),
            EcdsaHash::Sha384 => sha2::Sha384::digest(msg).to_vec(),
            EcdsaHash::Sha512 => sha2::Sha512::digest(msg).to_vec(),
        };
        let mismatch = || format!("the {} signature does not match", self.kind());
        match self {
            PublicKey::P256(k) => {
                let s = p256::ecdsa::Signature::from_der(sig)
                    .map_err(|_| "signature is not a DER ECDSA P-256 signature".to_string())?;
                k.verify_prehash(&digest, &s).map_err(|_| mismatch())
            }
            PublicKey::P384(k) => {
                let s = p384::ecdsa::Signature::from_der(sig)
                    .map_err(|_| "signature is not a DER ECDSA P-384 signature".to_string())?;
                k.verify_prehash(&digest, &s).map_err(|_| mismatch())
            }
            PublicKey::Ed25519(_) => self.verify(msg, sig),
        }
    }
}
