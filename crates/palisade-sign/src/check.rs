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

/// The findings for these model files.
pub fn check_models(models: &[ModelFile], trusted: &Trusted) -> Vec<Finding> {
    let mut out = Vec::new();
    // a directory signed as one model is checked once
    let mut dirs: BTreeSet<PathBuf> = BTreeSet::new();
    let opts = VerifyOptions {
        threads: default_threads(),
        ..VerifyOptions::default()
    };
    for m in models {
        let name = m
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let own = m.path.with_file_name(format!("{name}.sig"));
        let dir = m.path.parent().map(Path::to_path_buf).unwrap_or_default();
        let dir_sig = dir.join("model.sig");
        let (model, sig_path, shown) = if own.is_file() {
            (m.path.clone(), own, format!("{}.sig", m.display))
        } else if dir_sig.is_file() {
            if !dirs.insert(dir.clone()) {
                continue;
            }
            let shown = match m.display.rsplit_once('/') {
                Some((d, _)) => format!("{d}/model.sig"),
                None => "model.sig".into(),
            };
            (dir.clone(), dir_sig, shown)
        } else {
            out.push(finding(
                &unsigned::RULE,
                &m.display,
                format!(
                    "no signature beside the model ({name}.sig, or model.sig for its directory): a swapped model cannot be told from the approved one"
                ),
            ));
            continue;
        };
        let sig = match std::fs::read(&sig_path) {
            Ok(b) => b,
            Err(e) => {
                out.push(finding(
                    &signature_invalid::RULE,
                    &shown,
                    format!("cannot read the signature: {e}"),
                ));
                continue;
            }
        };
        let mut o = opts.clone();
        if model == dir {
            o.ignore_paths.push("model.sig".into());
        }
        match verify(&model, &sig, trusted, &o) {
            Ok(Some(_)) => {}
            Ok(None) => out.push(finding(
                &signer_unknown::RULE,
                &shown,
                "the model matches its signature, but palisade.toml [model.signing] names no key or certificate to check who signed it".into(),
            )),
            Err(e) => out.push(finding(&signature_invalid::RULE, &shown, e.to_string())),
        }
    }
    out
}
