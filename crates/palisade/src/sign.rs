//! `palisade model sign` and `palisade model verify`: the command-line face of
//! `palisade-sign`, with `model_signing`'s options and defaults (signature `model.sig`, git
//! paths ignored, the signature file itself left out when it lies inside the model).

use crate::cli::{HashChoice, SignCommon, SignMethod, VerifyCommon, VerifyMethod};
use crate::commands::{EXIT_FINDINGS, EXIT_OK};
use palisade_sign::keys::{PrivateKey, PublicKey};
use palisade_sign::serialize::{GIT_PATHS, default_threads};
use palisade_sign::{Error, HashAlg, Method, Serialization, Signer, Trust, VerifyOptions};
use std::path::{Path, PathBuf};

const OFFLINE: &str = "keyless Sigstore signing and verification need the public Sigstore services (Fulcio, Rekor, the TUF trust root), which palisade does not use; sign with `key` or `certificate` instead (the bundle format is the same)";

fn read(path: &Path, what: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {what} {}: {e}", path.display()))
}

fn certificates(
    paths: &[PathBuf],
    what: &str,
) -> Result<Vec<palisade_sign::cert::Certificate>, String> {
    let mut out = Vec::new();
    for p in paths {
        let certs = palisade_sign::cert::load_pem(&read(p, what)?, &p.display().to_string())
            .map_err(|e| e.to_string())?;
        out.extend(certs);
    }
    Ok(out)
}

/// Paths to leave out, relative to the model: each given path as `model_signing` resolves it
/// (against the working directory, kept when it lies inside the model), else taken as
/// relative to the model.
fn relative_ignores(model: &Path, paths: &[PathBuf]) -> Vec<String> {
    let root = std::fs::canonicalize(model).unwrap_or_else(|_| model.to_path_buf());
    let mut out = Vec::new();
    for p in paths {
        let abs = if p.is_absolute() {
            p.clone()
        } else {
            std::env::current_dir().unwrap_or_default().join(p)
        };
        let resolved = normalize(&abs);
        if let Ok(rel) = resolved.strip_prefix(&root) {
            let s = rel.to_string_lossy().replace('\\', "/");
            if !s.is_empty() {
                out.push(s);
            }
        } else if p.is_relative() && !p.starts_with("..") && !abs.exists() {
            out.push(p.to_string_lossy().replace('\\', "/"));
        }
    }
    out
}

/// An absolute path with `.`/`..` folded and existing parents resolved (the file itself may
/// not exist yet, like a signature about to be written).
fn normalize(p: &Path) -> PathBuf {
    if let Ok(c) = std::fs::canonicalize(p) {
        return c;
    }
    match (p.parent(), p.file_name()) {
        (Some(parent), Some(name)) => normalize(parent).join(name),
        _ => p.to_path_buf(),
    }
}

fn serialization(c: &SignCommon) -> Serialization {
    let mut ignore_paths: Vec<String> = if c.no_ignore_git_paths {
        Vec::new()
    } else {
        GIT_PATHS.iter().map(|s| s.to_string()).collect()
    };
    let mut given = c.ignore_paths.clone();
    given.push(c.signature.clone());
    ignore_paths.extend(relative_ignores(&c.model, &given));
    Serialization {
        method: c.shard_size.map_or(Method::Files, Method::Shards),
        hash: match c.hash {
            HashChoice::Sha256 => HashAlg::Sha256,
            HashChoice::Blake2b => HashAlg::Blake2b,
            HashChoice::Blake3 => HashAlg::Blake3,
        },
        allow_symlinks: c.allow_symlinks,
        ignore_paths,
    }
}

pub fn sign(method: SignMethod) -> Result<u8, String> {
    let (common, signer) = match method {
        SignMethod::Key {
            common,
            private_key,
        } => {
            let key = PrivateKey::read(&private_key)?;
            (common, Signer::Key(key))
        }
        SignMethod::Certificate {
            common,
            private_key,
            signing_certificate,
            certificate_chain,
        } => {
            let key = PrivateKey::read(&private_key)?;
            let mut chain = certificates(&[signing_certificate], "signing certificate")?;
            chain.truncate(1);
            chain.extend(certificates(&certificate_chain, "certificate chain")?);
            (common, Signer::Certificate { key, chain })
        }
        SignMethod::Sigstore { .. } => return Err(OFFLINE.into()),
    };
    if let Some(0) = common.shard_size {
        return Err("--shard-size must be at least 1".into());
    }
    let ser = serialization(&common);
    let (manifest, bundle) = palisade_sign::sign(&common.model, &signer, &ser, default_threads())
        .map_err(|e| e.to_string())?;
    std::fs::write(&common.signature, bundle.to_json())
        .map_err(|e| format!("cannot write {}: {e}", common.signature.display()))?;
    let files: std::collections::BTreeSet<&Vec<String>> =
        manifest.items.iter().map(|i| &i.parts).collect();
    println!(
        "Signed {} ({} file{}, {} digest{}, {}) -> {}",
        common.model.display(),
        files.len(),
        if files.len() == 1 { "" } else { "s" },
        manifest.items.len(),
        if manifest.items.len() == 1 { "" } else { "s" },
        ser.hash.name(),
        common.signature.display()
    );
    Ok(EXIT_OK)
}

pub fn verify(method: VerifyMethod) -> Result<u8, String> {
    let (common, trust) = match method {
        VerifyMethod::Key { common, public_key } => {
            let key = PublicKey::read(&public_key)?;
            (common, Trust::key(key))
        }
        VerifyMethod::Certificate {
            common,
            certificate_chain,
        } => (
            common,
            Trust::certificates(certificates(&certificate_chain, "trusted certificate")?),
        ),
        VerifyMethod::Sigstore { .. } => return Err(OFFLINE.into()),
    };
    run_verify(&common, &trust)
}

fn run_verify(c: &VerifyCommon, trust: &Trust) -> Result<u8, String> {
    let sig = read(&c.signature, "signature")?;
    let mut given = c.ignore_paths.clone();
    given.push(c.signature.clone());
    let opts = VerifyOptions {
        ignore_paths: relative_ignores(&c.model, &given),
        ignore_unsigned_files: c.ignore_unsigned_files,
        threads: default_threads(),
    };
    match palisade_sign::verify(&c.model, &sig, trust, &opts) {
        Ok(v) => {
            println!(
                "Verified {}: {} file{} as signed by {}",
                c.model.display(),
                v.files,
                if v.files == 1 { "" } else { "s" },
                v.signer
            );
            Ok(EXIT_OK)
        }
        Err(
            e @ (Error::Mismatch(_) | Error::Signature(_) | Error::Symlink(_) | Error::Bundle(_)),
        ) => {
            eprintln!(
                "palisade: verification FAILED for {} with {}: {e}",
                c.model.display(),
                c.signature.display()
            );
            Ok(EXIT_FINDINGS)
        }
        Err(e) => Err(e.to_string()),
    }
}
