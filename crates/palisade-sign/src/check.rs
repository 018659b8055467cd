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

/// The keys and certificates `[model.signing]` names, loaded; an unreadable entry is an
/// error naming it.
pub fn load_trust(cfg: &ModelSigning) -> Result<Trust, String> {
    let mut t = Trust::default();
    for p in &cfg.public_keys {
        t.keys
            .push(PublicKey::read(p).map_err(|e| format!("[model.signing] {e}"))?);
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

/// A model file to check: where it is and how findings name it.
pub struct ModelFile {
    pub path: PathBuf,
    pub display: String,
}

fn finding(rule: &'static palisade_core::RuleMeta, display: &str, msg: String) -> Finding {
    Finding::new(rule, Location::new(display, 1, 1), msg)
}

/// Verify `model` with `sig` against what is trusted: the signer, or `None` when nothing is
/// trusted and only the content could be checked.
fn verify(
    model: &Path,
    sig: &[u8],
    trust: &Trust,
    opts: &VerifyOptions,
) -> Result<Option<String>, Error> {
    if trust.is_empty() {
        crate::verify_unauthenticated(model, sig, opts)?;
        return Ok(None);
    }
    crate::verify(model, sig, trust, opts).map(|v| Some(v.signer))
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

impl ModelFile {
    fn name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// The signature that covers a model file.
struct Covering {
    /// What the signature signs: the file, or its whole directory.
    model: PathBuf,
    signature: PathBuf,
    /// How findings name the signature.
    shown: String,
    whole_dir: bool,
}

/// `<file>.sig` beside the file, else `model.sig` in its directory.
fn covering(m: &ModelFile) -> Option<Covering> {
    let own = m.path.with_file_name(format!("{}.sig", m.name()));
    if own.is_file() {
        return Some(Covering {
            model: m.path.clone(),
            signature: own,
            shown: format!("{}.sig", m.display),
            whole_dir: false,
        });
    }
    let dir = m.path.parent().map(Path::to_path_buf).unwrap_or_default();
    let signature = dir.join("model.sig");
    signature.is_file().then(|| Covering {
        model: dir,
        signature,
        shown: match m.display.rsplit_once('/') {
            Some((d, _)) => format!("{d}/model.sig"),
            None => "model.sig".into(),
        },
        whole_dir: true,
    })
}

impl Covering {
    fn status(&self, trust: &Trust) -> Status {
        let sig = match std::fs::read(&self.signature) {
            Ok(b) => b,
            Err(e) => return Status::Invalid(format!("cannot read the signature: {e}")),
        };
        let mut o = VerifyOptions {
            threads: default_threads(),
            ..VerifyOptions::default()
        };
        if self.whole_dir {
            o.ignore_paths.push("model.sig".into());
        }
        match verify(&self.model, &sig, trust, &o) {
            Ok(Some(who)) => Status::Verified(who),
            Ok(None) => Status::SignerUnknown,
            Err(e) => Status::Invalid(e.to_string()),
        }
    }
}

/// The signature status of each model file, in order. A directory signed as one model is
/// verified once, however many of its files are asked about.
pub fn statuses(models: &[ModelFile], trust: &Trust) -> Vec<Status> {
    let covers: Vec<Option<Covering>> = models.iter().map(covering).collect();
    statuses_of(&covers, trust)
}

fn statuses_of(covers: &[Option<Covering>], trust: &Trust) -> Vec<Status> {
    let mut done: std::collections::HashMap<&Path, Status> = std::collections::HashMap::new();
    covers
        .iter()
        .map(|c| match c {
            None => Status::Unsigned,
            Some(c) => done
                .entry(c.signature.as_path())
                .or_insert_with(|| c.status(trust))
                .clone(),
        })
        .collect()
}

/// The findings for these model files (a directory's signature is reported once).
pub fn check_models(models: &[ModelFile], trust: &Trust) -> Vec<Finding> {
    let covers: Vec<Option<Covering>> = models.iter().map(covering).collect();
    let mut reported: BTreeSet<&str> = BTreeSet::new();
    let mut out = Vec::new();
    for ((m, c), st) in models.iter().zip(&covers).zip(statuses_of(&covers, trust)) {
        let Some(c) = c else {
            out.push(finding(
                &unsigned::RULE,
                &m.display,
                format!(
                    "no signature beside the model ({}.sig, or model.sig for its directory): a swapped model cannot be told from the approved one",
                    m.name()
                ),
            ));
            continue;
        };
        if !reported.insert(&c.shown) {
            continue;
        }
        match st {
            Status::Verified(_) | Status::Unsigned => {}
            Status::SignerUnknown => out.push(finding(
                &signer_unknown::RULE,
                &c.shown,
                "the model matches its signature, but palisade.toml [model.signing] names no key or certificate to check who signed it".into(),
            )),
            Status::Invalid(e) => out.push(finding(&signature_invalid::RULE, &c.shown, e)),
        }
    }
    out
}
