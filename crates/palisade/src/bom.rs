//! `palisade model bom`: a CycloneDX 1.6 ML-BOM of the model files under the given paths.
//! Each recognised model becomes a `machine-learning-model` component with its SHA-256, its
//! format chain, the model scan's verdict and the signature status (as in `palisade scan`),
//! recorded as `palisade:*` properties.

use crate::cli::BomArgs;
use crate::commands::{EXIT_OK, load_config_for, model_options};
use palisade_core::config::now_utc_rfc3339;
use palisade_core::walk::Input;
use palisade_sign::check::{ModelFile, Status, load_trust, statuses};
use palisade_sign::manifest::to_hex;
use palisade_sign::serialize::{HashAlg, digest_file};
use serde_json::{Value, json};

fn property(name: &str, value: impl Into<String>) -> Value {
    json!({"name": name, "value": value.into()})
}

/// A version-4-shaped UUID from a digest (the BOM's serial number is stable for the same
/// content at the same time).
fn uuid_from(seed: &[u8]) -> String {
    use sha2::Digest;
    let h = sha2::Sha256::digest(seed);
    let mut b = [0u8; 16];
    b.copy_from_slice(&h[..16]);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let x: String = b.iter().map(|c| format!("{c:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &x[0..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..32]
    )
}

pub fn bom(args: BomArgs) -> Result<u8, String> {
    let cfg = load_config_for(args.config.as_deref(), &args.paths)?;
    let trust = load_trust(&cfg.model_signing)?;
    let walk = palisade_core::walk::discover(&args.paths, &|p| cfg.is_excluded(p));
    for e in &walk.errors {
        eprintln!("palisade: {}: {}", e.path, e.message);
    }
    let files: Vec<Input> = walk
        .inputs
        .into_iter()
        .filter(|i| matches!(i, Input::File { .. }))
        .collect();
    let scanned = palisade_model::scan::scan(&files, &model_options(&cfg));
    let mut components = Vec::new();
    let mut seed = Vec::new();
    let paths: std::collections::HashMap<&str, &std::path::PathBuf> = files
        .iter()
        .filter_map(|i| match i {
            Input::File { path, display, .. } => Some((display.as_str(), path)),
            Input::Stdin => None,
        })
        .collect();
    // the recognised models with their files; signatures checked together (a signed
    // directory is verified once for all its models)
    let models: Vec<(&palisade_model::scan::Artifact, &std::path::PathBuf)> = scanned
        .artifacts
        .iter()
        .filter_map(|a| paths.get(a.path.as_str()).map(|&p| (a, p)))
        .collect();
    let model_files: Vec<ModelFile> = models
        .iter()
        .map(|(a, p)| ModelFile {
            path: (*p).clone(),
            display: a.path.clone(),
        })
        .collect();
    for ((a, path), sig) in models.into_iter().zip(statuses(&model_files, &trust)) {
        let digest = to_hex(&digest_file(path, HashAlg::Sha256).map_err(|e| e.to_string())?);
        seed.extend(digest.as_bytes());
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| a.path.clone());
        let verdict = match a.worst {
            Some(s) => s.to_string(),
            None => "clean".into(),
        };
        let mut props = vec![
            property("palisade:path", a.path.clone()),
            property("palisade:format", a.format.clone()),
            property("palisade:scan:verdict", verdict),
            property("palisade:scan:findings", a.findings.to_string()),
            property("palisade:signature", sig.label()),
        ];
        match &sig {
            Status::Verified(who) => props.push(property("palisade:signature:signer", who.clone())),
            Status::Invalid(why) => props.push(property("palisade:signature:error", why.clone())),
            _ => {}
        }
        components.push(json!({
            "type": "machine-learning-model",
            "bom-ref": format!("model:{}", a.path),
            "name": name,
            "hashes": [{"alg": "SHA-256", "content": digest}],
            "properties": props,
        }));
    }
    let timestamp = now_utc_rfc3339();
    seed.extend(timestamp.as_bytes());
    let bom = json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": format!("urn:uuid:{}", uuid_from(&seed)),
        "version": 1,
        "metadata": {
            "timestamp": timestamp,
            "tools": {"components": [{
                "type": "application",
                "name": "palisade",
                "version": env!("CARGO_PKG_VERSION"),
            }]},
        },
        "components": components,
    });
    let text = serde_json::to_string_pretty(&bom).map_err(|e| e.to_string())? + "\n";
    match &args.output {
        Some(p) => {
            std::fs::write(p, text).map_err(|e| format!("cannot write {}: {e}", p.display()))?
        }
        None => print!("{text}"),
    }
    Ok(EXIT_OK)
}
