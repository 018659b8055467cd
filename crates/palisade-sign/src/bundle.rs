//! The signature file: a Sigstore bundle (v0.3 JSON) holding a DSSE envelope over the in-toto
//! statement, and the verification material — a public-key hint, an X.509 chain, or (keyless
//! Sigstore) a Fulcio certificate with transparency-log entries.

use crate::error::{Error, Result};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};

pub const MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Material {
    /// Key-based: SHA-256 of the signer's PEM public key (absent in older bundles).
    PublicKey { hint: Option<String> },
    /// Certificate-based: DER certificates, the signing one first.
    Chain(Vec<Vec<u8>>),
    /// Keyless Sigstore (a Fulcio certificate and Rekor entries).
    Keyless,
}

#[derive(Debug, Clone)]
pub struct Bundle {
    pub media_type: String,
    pub material: Material,
    pub payload_type: String,
    pub payload: Vec<u8>,
    pub signatures: Vec<Vec<u8>>,
}

/// DSSE's pre-authentication encoding: what is actually signed.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut v = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    )
    .into_bytes();
    v.extend_from_slice(payload);
    v
}

/// The encoding `model_signing` 0.2 signed by mistake (Python's `str(bytes)` inside the
/// string); its verifier still accepts it, so this one does too.
pub fn pae_compat(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut repr = String::from("b'");
    for &c in payload {
        match c {
            b'\\' => repr.push_str("\\\\"),
            b'\'' => repr.push_str("\\'"),
            b'\n' => repr.push_str("\\n"),
            b'\r' => repr.push_str("\\r"),
            b'\t' => repr.push_str("\\t"),
            0x20..=0x7e => repr.push(c as char),
            _ => repr.push_str(&format!("\\x{c:02x}")),
        }
    }
    repr.push('\'');
    format!(
        "DSSEV1 {} {} {} {}",
        payload_type.len(),
        payload_type,
        payload.len(),
        repr
    )
    .into_bytes()
}

impl Bundle {
    pub fn new(material: Material, payload: Vec<u8>, signature: Vec<u8>) -> Bundle {
        Bundle {
            media_type: MEDIA_TYPE.into(),
            material,
            payload_type: PAYLOAD_TYPE.into(),
            payload,
            signatures: vec![signature],
        }
    }

    pub fn to_json(&self) -> String {
        let material = match &self.material {
            Material::PublicKey { hint } => json!({
                "publicKey": {"hint": hint.clone().unwrap_or_default()},
                "tlogEntries": [],
            }),
            Material::Chain(certs) => json!({
                "x509CertificateChain": {
                    "certificates": certs.iter().map(|c| json!({"rawBytes": B64.encode(c)})).collect::<Vec<_>>(),
                },
                "tlogEntries": [],
            }),
            Material::Keyless => json!({}),
        };
        let v = json!({
            "mediaType": self.media_type,
            "verificationMaterial": material,
            "dsseEnvelope": {
                "payload": B64.encode(&self.payload),
                "payloadType": self.payload_type,
                "signatures": self.signatures.iter().map(|s| json!({"sig": B64.encode(s), "keyid": ""})).collect::<Vec<_>>(),
            },
        });
        serde_json::to_string_pretty(&v).unwrap_or_default() + "\n"
    }

    pub fn parse(text: &[u8]) -> Result<Bundle> {
        let bad = |m: &str| Error::Bundle(m.to_string());
        let v: Value = serde_json::from_slice(text)
            .map_err(|e| Error::Bundle(format!("not JSON ({e}); is this a model signature?")))?;
        let media_type = v["mediaType"].as_str().unwrap_or("").to_string();
        if !media_type.starts_with("application/vnd.dev.sigstore.bundle") {
            return Err(Error::Bundle(format!(
                "mediaType '{media_type}' is not a Sigstore bundle"
            )));
        }
        let vm = &v["verificationMaterial"];
        let material =
            if vm.get("publicKey").is_some() {
                Material::PublicKey {
                    hint: vm["publicKey"]["hint"]
                        .as_str()
                        .filter(|h| !h.is_empty())
                        .map(str::to_string),
                }
            } else if let Some(certs) = vm["x509CertificateChain"]["certificates"].as_array() {
                let mut out = Vec::new();
                for (i, c) in certs.iter().enumerate() {
                    let raw = c["rawBytes"].as_str().unwrap_or("");
                    out.push(B64.decode(raw).map_err(|e| {
                        Error::Bundle(format!("certificate {i} is not base64 ({e})"))
                    })?);
                }
                if out.is_empty() {
                    return Err(bad("the certificate chain is empty"));
                }
                Material::Chain(out)
            } else if vm.get("certificate").is_some() || vm.get("tlogEntries").is_some() {
                Material::Keyless
            } else {
                return Err(bad(
                    "verificationMaterial has no public key or certificates",
                ));
            };
        let env = &v["dsseEnvelope"];
        if env.is_null() {
            return Err(bad(
                "the bundle has no dsseEnvelope (it signs a message, not a model manifest)",
            ));
        }
        let payload = B64
            .decode(env["payload"].as_str().unwrap_or(""))
            .map_err(|e| Error::Bundle(format!("dsseEnvelope.payload is not base64 ({e})")))?;
        let payload_type = env["payloadType"].as_str().unwrap_or("").to_string();
        let mut signatures = Vec::new();
        for (i, s) in env["signatures"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            signatures.push(
                B64.decode(s["sig"].as_str().unwrap_or(""))
                    .map_err(|e| Error::Bundle(format!("signature {i} is not base64 ({e})")))?,
            );
        }
        if signatures.is_empty() {
            return Err(bad("dsseEnvelope has no signatures"));
        }
        Ok(Bundle {
            media_type,
            material,
            payload_type,
            payload,
            signatures,
        })
    }
}
