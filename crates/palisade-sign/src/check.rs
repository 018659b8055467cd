//! Signature checks for the model files `palisade scan` finds: which signature covers each
//! file (`<file>.sig`, else `model.sig` in its directory), whether it verifies against the
//! keys and certificates `palisade.toml` trusts, and the findings (MDL020–MDL022).

use crate::error::Error;
use crate::keys::PublicKey;
use crate::rules::{signature_invalid, signer_unknown, unsigned};
use crate::{Trust, VerifyOptions, cert, serialize::default_threads};
use palisade_core::config::ModelSigning;
use palisade_core::{Finding, Location};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The trusted keys and certificates, loaded.
#[derive(Default)]
pub struct Trusted {
    keys: Vec<PublicKey>,
    certificates: Vec<cert::Certificate>,
}

impl Trusted {
    /// Load what `[model.signing]` names; an unreadable entry is an error naming it.
    pub fn load(cfg: &ModelSigning) -> Result<Trusted, String> {
        let mut t = Trusted::default();
        for p in &cfg.public_keys {
            let text = std::fs::read_to_string(p)
                .map_err(|e| format!("[model.signing] public key {}: {e}", p.display()))?;
            t.keys.push(
                PublicKey::from_pem(&text)
                    .map_err(|e| format!("[model.signing] {}: {e}", p.display()))?,
            );
        }
        for p in &cfg.certificates {
            let b = std::fs::read(p)
                .map_err(|e| format!("[model.signing] certificate {}: {e}", p.display()))?;
            t.certificates.extend(
                cert::load_pem(&b, &p.display().to_string())
                    .map_err(|e| format!("[model.signing] {e}"))?,
            );
        }
        Ok(t)
    }

    fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.certificates.is_empty()
    }
}

/// A model file to check: where it is and how findings name it.
pub struct ModelFile {
    pub path: PathBuf,
    pub display: String,
}

fn finding(rule: &'static palisade_core::RuleMeta, display: &str, msg: String) -> Finding {
    Finding::new(rule, Location::new(display, 1, 1), msg)
}

/// Verify `model` with `sig` against every trusted key and the trusted certificates: the
/// signer, or `None` when nothing is trusted and only the content could be checked.
fn verify(
    model: &Path,
    sig: &[u8],
    trusted: &Trusted,
    opts: &VerifyOptions,
) -> Result<Option<String>, Error> {
    if trusted.is_empty() {
        crate::verify_unauthenticated(model, sig, opts)?;
        return Ok(None);
    }
    let mut last = None;
    let mut trusts: Vec<Trust> = trusted.keys.iter().cloned().map(Trust::Key).collect();
    if !trusted.certificates.is_empty() {
        trusts.push(Trust::Certificates(trusted.certificates.clone()));
    }
    for t in &trusts {
        match crate::verify(model, sig, t, opts) {
            Ok(v) => return Ok(Some(v.signer)),
            // the content differs: no other key changes that
            Err(e @ (Error::Mismatch(_) | Error::Symlink(_) | Error::Bundle(_))) => return Err(e),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| Error::Signature("no trusted key verifies it".into())))
}

/// What the signature beside a model file says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Verified; who signed.
    Verified(String),
    /// No `<file>.sig` and no `model.sig` in its directory.
    Unsigned,
    /// The signature does not verify, or the model differs from it.
    Invalid(String),
    /// Intact, but nothing in palisade.toml says whose signatures to trust.
    SignerUnknown,
}

impl Status {
    pub fn label(&self) -> &'static str {
        match self {
            Status::Verified(_) => "verified",
            Status::Unsigned => "unsigned",
            Status::Invalid(_) => "invalid",
            Status::SignerUnknown => "signer-unknown",
        }
    }
}

/// Which signature covers a model file: (model path to verify, signature path, how findings
/// name the signature, whether it signs the whole directory).
fn covering(m: &ModelFile) -> Option<(PathBuf, PathBuf, String, bool)> {
    let name = m
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let own = m.path.with_file_name(format!("{name}.sig"));
    if own.is_file() {
        return Some((m.path.clone(), own, format!("{}.sig", m.display), false));
    }
    let dir = m.path.parent().map(Path::to_path_buf).unwrap_or_default();
    let dir_sig = dir.join("model.sig");
    if dir_sig.is_file() {
        let shown = match m.display.rsplit_once('/') {
            Some((d, _)) => format!("{d}/model.sig"),
            None => "model.sig".into(),
        };
        return Some((dir, dir_sig, shown, true));
    }
    None
}

fn status_of(model: &Path, sig_path: &Path, whole_dir: bool, trusted: &Trusted) -> Status {
    let sig = match std::fs::read(sig_path) {
        Ok(b) => b,
        Err(e) => return Status::Invalid(format!("cannot read the signature: {e}")),
    };
    let mut o = VerifyOptions {
        threads: default_threads(),
        ..VerifyOptions::default()
    };
    if whole_dir {
        o.ignore_paths.push("model.sig".into());
    }
    match verify(model, &sig, trusted, &o) {
        Ok(Some(who)) => Status::Verified(who),
        Ok(None) => Status::SignerUnknown,
        Err(e) => Status::Invalid(e.to_string()),
    }
}

/// The signature status of one model file.
pub fn status(m: &ModelFile, trusted: &Trusted) -> Status {
    match covering(m) {
        Some((model, sig, _, whole_dir)) => status_of(&model, &sig, whole_dir, trusted),
        None => Status::Unsigned,
    }
}

/// The findings for these model files.
pub fn check_models(models: &[ModelFile], trusted: &Trusted) -> Vec<Finding> {
    let mut out = Vec::new();
    // a directory signed as one model is checked once
    let mut dirs: BTreeSet<PathBuf> = BTreeSet::new();
    for m in models {
        let Some((model, sig, shown, whole_dir)) = covering(m) else {
            let name = m
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            out.push(finding(
                &unsigned::RULE,
                &m.display,
                format!(
                    "no signature beside the model ({name}.sig, or model.sig for its directory): a swapped model cannot be told from the approved one"
                ),
            ));
            continue;
        };
        if whole_dir && !dirs.insert(model.clone()) {
            continue;
        }
        match status_of(&model, &sig, whole_dir, trusted) {
            Status::Verified(_) => {}
            Status::SignerUnknown => out.push(finding(
                &signer_unknown::RULE,
                &shown,
                "the model matches its signature, but palisade.toml [model.signing] names no key or certificate to check who signed it".into(),
            )),
            Status::Invalid(e) => out.push(finding(&signature_invalid::RULE, &shown, e)),
            Status::Unsigned => {}
        }
    }
    out
}
