//! `palisade scan`: hand each input to the analyser for its kind and merge their reports.
//!
//! Dockerfiles go to `palisade-docker` by file name; everything else to `palisade-k8s`, which
//! hands back the explicit inputs (and stdin) that are not manifests. Those are Dockerfiles when
//! their first instruction is `FROM`/`ARG`, and otherwise reported under `skipped`. The
//! manifests also go to `palisade-reach` (ML servers left open by NetworkPolicies, the
//! `[[reach.assert]]` assertions, malformed policies). Model files (recognised by content:
//! pickles, PyTorch checkpoints, joblib, NumPy, safetensors, and archives holding them) go to
//! `palisade-model` first, whatever their name.

use palisade_core::walk::Input;
use palisade_core::{InputError, Report};
use palisade_docker::load::looks_like_dockerfile;
use palisade_reach::assertions::Assertion;

pub fn scan(
    inputs: &[Input],
    max_file_size: Option<u64>,
    asserts: &[Assertion],
    model: &palisade_model::scan::Options,
    trust: &palisade_sign::Trust,
) -> Report {
    let (models, rest): (Vec<Input>, Vec<Input>) = inputs.iter().cloned().partition(|i| {
        // manifests are not opened twice: only other files are sniffed for model content
        matches!(i, Input::File { path, .. }
            if !palisade_docker::is_dockerfile_name(path)
                && !palisade_k8s::load::has_manifest_extension(path)
                && palisade_model::scan::is_model_file(path))
    });
    let (docker, other): (Vec<Input>, Vec<Input>) = rest.into_iter().partition(
        |i| matches!(i, Input::File { path, .. } if palisade_docker::is_dockerfile_name(path)),
    );
    let mut opts = palisade_k8s::load::LoadOptions::default();
    if let Some(max) = max_file_size {
        opts.max_file_size = max;
    }
    let mut manifests = palisade_k8s::load::load(&other, &opts);
    let mut dockerfiles = palisade_docker::scan::load(&docker, opts.max_file_size);
    for (path, text) in std::mem::take(&mut manifests.unrecognised) {
        if looks_like_dockerfile(&text) {
            dockerfiles.add_text(path, text);
        } else {
            manifests.skipped.push(InputError::new(
                path,
                "not a Kubernetes manifest or a Dockerfile; not analysed",
            ));
        }
    }
    let reach = palisade_reach::scan::scan(&manifests, asserts);
    let mut report = palisade_k8s::scan::scan_manifests(manifests);
    report.findings.extend(reach.findings);
    report.suppressed += reach.suppressed;
    report.errors.extend(reach.errors);
    report.rules.extend(palisade_reach::rules::all());
    report.merge(palisade_docker::scan::scan_dockerfiles(dockerfiles));
    let scanned = palisade_model::scan::scan(&models, model);
    // every recognised model file must carry a signature that verifies (MDL020-022)
    let recognised: std::collections::BTreeSet<&str> =
        scanned.artifacts.iter().map(|a| a.path.as_str()).collect();
    let files: Vec<palisade_sign::check::ModelFile> = models
        .iter()
        .filter_map(|i| match i {
            Input::File { path, display, .. } if recognised.contains(display.as_str()) => {
                Some(palisade_sign::check::ModelFile {
                    path: path.clone(),
                    display: display.clone(),
                })
            }
            _ => None,
        })
        .collect();
    report.merge(scanned.report);
    report
        .findings
        .extend(palisade_sign::check::check_models(&files, trust));
    report.rules.extend(palisade_sign::rules::all());
    report
}
