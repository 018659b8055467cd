//! Verified recovery: checks that must all pass (retried until a timeout) before an incident
//! may be called recovered — the workload rolled out, its health endpoint answers, the guard's
//! probe metrics are back in range, the model on disk carries a valid signature.

use super::{Done, Evidence, Scope, deployments, get_deployment};
use crate::signal::Workload;
use kube::Client;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum Check {
    /// Every deployment in scope has rolled out: its latest generation observed, all replicas
    /// updated and available, none left from older revisions, and at least one running.
    Rollout,
    /// `GET url` answers with this status (200 by default). http:// only.
    Http {
        url: String,
        #[serde(default = "ok")]
        status: u16,
    },
    /// A Prometheus text-format endpoint (the guard's `/metrics`) has the series, and every
    /// sample matching the labels is within [min, max]: e.g. `palisade_guard_probe_accuracy`
    /// for the model at least 0.9.
    Metric {
        url: String,
        name: String,
        #[serde(default)]
        labels: BTreeMap<String, String>,
        #[serde(default)]
        min: Option<f64>,
        #[serde(default)]
        max: Option<f64>,
    },
    /// The model verifies against its signature with the given public key (OpenSSF model
    /// signing format, as `palisade model verify key`).
    Signature {
        model: PathBuf,
        signature: PathBuf,
        public_key: PathBuf,
    },
}

fn ok() -> u16 {
    200
}

impl Check {
    pub fn by_hand(&self, w: &Workload, timeout: u64) -> String {
        match self {
            Check::Rollout => format!(
                "kubectl rollout status deployment/{} -n {} --timeout={timeout}s",
                w.name, w.namespace
            ),
            Check::Http { url, .. } => format!("curl -fsS {url}"),
            Check::Metric { url, name, .. } => format!("curl -s {url} | grep '^{name}'"),
            Check::Signature {
                model,
                signature,
                public_key,
            } => format!(
                "palisade model verify key --public-key {} --signature {} {}",
                public_key.display(),
                signature.display(),
                model.display()
            ),
        }
    }

    async fn check(&self, client: &Client, http: &Http, scope: &Scope) -> Result<String, String> {
        match self {
            Check::Rollout => rollout(client, scope).await,
            Check::Http { url, status } => {
                let (code, _) = get(http, url).await?;
                if code == *status {
                    Ok(format!("{url} answered {code}"))
                } else {
                    Err(format!("{url} answered {code}, expected {status}"))
                }
            }
            Check::Metric {
                url,
                name,
                labels,
                min,
                max,
            } => {
                let (code, body) = get(http, url).await?;
                if code != 200 {
                    return Err(format!("{url} answered {code}"));
                }
                metric(&body, name, labels, *min, *max)
            }
            Check::Signature {
                model,
                signature,
                public_key,
            } => signature_check(model, signature, public_key),
        }
    }
}

async fn rollout(client: &Client, scope: &Scope) -> Result<String, String> {
    let mut out = Vec::new();
    for w in deployments(scope) {
        let d = get_deployment(client, w)
            .await?
            .ok_or_else(|| format!("deployment {w} not found"))?;
        let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        let st = d.status.clone().unwrap_or_default();
        let generation = d.metadata.generation.unwrap_or(0);
        if st.observed_generation.unwrap_or(0) < generation {
            return Err(format!("{w}: generation {generation} not yet observed"));
        }
        if want == 0 {
            return Err(format!("{w} runs no replicas"));
        }
        let (updated, available, total) = (
            st.updated_replicas.unwrap_or(0),
            st.available_replicas.unwrap_or(0),
            st.replicas.unwrap_or(0),
        );
        if updated < want || available < want || total > want {
            return Err(format!(
                "{w}: {updated} of {want} replicas updated, {available} available, {total} in all"
            ));
        }
        out.push(format!("{w} rolled out ({want} replicas available)"));
    }
    if out.is_empty() {
        return Err("no deployment in scope to check".into());
    }
    Ok(out.join("; "))
}

/// The HTTP client of a verify step's checks, made once per step (its pool is reused by
/// every retry).
type Http = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    http_body_util::Empty<bytes::Bytes>,
>;

/// A plain HTTP/1.1 GET with a 5 s limit.
async fn get(http: &Http, url: &str) -> Result<(u16, String), String> {
    use http_body_util::BodyExt;
    let uri: hyper::Uri = url.parse().map_err(|e| format!("'{url}': {e}"))?;
    if uri.scheme_str() != Some("http") {
        return Err(format!("'{url}': only http:// URLs are checked"));
    }
    let fut = async {
        let resp = http.get(uri).await.map_err(|e| format!("GET {url}: {e}"))?;
        let code = resp.status().as_u16();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?
            .to_bytes();
        Ok::<_, String>((code, String::from_utf8_lossy(&body).into_owned()))
    };
    tokio::time::timeout(Duration::from_secs(5), fut)
        .await
        .map_err(|_| format!("GET {url}: no answer within 5 s"))?
}

/// Finds the samples of `name` with `labels` in Prometheus text format and checks their range.
pub fn metric(
    text: &str,
    name: &str,
    labels: &BTreeMap<String, String>,
    min: Option<f64>,
    max: Option<f64>,
) -> Result<String, String> {
    let mut seen = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let (series, rest) = match line.find('{') {
            Some(i) if line[..i] == *name => {
                let Some(j) = line.rfind('}') else { continue };
                (&line[i + 1..j], &line[j + 1..])
            }
            _ => match line.split_once(' ') {
                Some((n, rest)) if n == name => ("", rest),
                _ => continue,
            },
        };
        let have: BTreeMap<&str, &str> = series
            .split("\",")
            .filter_map(|kv| kv.split_once("=\""))
            .map(|(k, v)| (k.trim(), v.trim_end_matches('"')))
            .collect();
        if labels
            .iter()
            .all(|(k, v)| have.get(k.as_str()) == Some(&v.as_str()))
        {
            let v: f64 = rest
                .split_whitespace()
                .next()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("unreadable sample: {line}"))?;
            seen.push(v);
        }
    }
    if seen.is_empty() {
        return Err(format!("no sample of {name} with labels {labels:?}"));
    }
    for v in &seen {
        if min.is_some_and(|m| *v < m) || max.is_some_and(|m| *v > m) {
            return Err(format!(
                "{name} is {v}, outside [{}, {}]",
                min.map_or("-inf".into(), |m| m.to_string()),
                max.map_or("+inf".into(), |m| m.to_string())
            ));
        }
    }
    Ok(format!(
        "{name} = {} (in range)",
        seen.iter()
            .map(f64::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

fn signature_check(model: &Path, signature: &Path, key: &Path) -> Result<String, String> {
    let public = palisade_sign::keys::PublicKey::read(key)?;
    let sig = std::fs::read(signature).map_err(|e| format!("{}: {e}", signature.display()))?;
    let mut opts = palisade_sign::VerifyOptions {
        threads: 2,
        ..Default::default()
    };
    // A signature kept inside the model directory is not part of the model.
    if let Ok(rel) = signature.strip_prefix(model) {
        opts.ignore_paths.push(rel.to_string_lossy().into_owned());
    }
    let v = palisade_sign::verify(model, &sig, &palisade_sign::Trust::key(public), &opts)
        .map_err(|e| format!("{}: {e}", model.display()))?;
    Ok(format!(
        "{} verifies ({} files, signed by {})",
        model.display(),
        v.files,
        v.signer
    ))
}

pub async fn run(
    client: &Client,
    scope: &Scope,
    checks: &[Check],
    timeout: u64,
) -> Result<Done, String> {
    let deadline = Instant::now() + Duration::from_secs(timeout);
    let http: Http =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http();
    loop {
        let mut passed = Vec::new();
        let mut failed = Vec::new();
        for c in checks {
            match c.check(client, &http, scope).await {
                Ok(m) => passed.push(m),
                Err(m) => failed.push(m),
            }
        }
        if failed.is_empty() {
            let ev = vec![Evidence::json("recovery checks", &passed)];
            return Ok(Done::read_only(passed, ev));
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "recovery not confirmed within {timeout}s: {}",
                failed.join("; ")
            ));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_check_passes_on_the_signed_model_and_names_a_changed_file() {
        let keys = Path::new(env!("CARGO_MANIFEST_DIR")).join("../palisade-sign/tests/fixtures");
        let dir = std::env::temp_dir().join(format!("palisade-verify-sig-{}", std::process::id()));
        let model = dir.join("model");
        std::fs::create_dir_all(&model).unwrap();
        std::fs::write(model.join("weights.bin"), b"approved weights").unwrap();
        let key = palisade_sign::keys::PrivateKey::read(&keys.join("p384.key.pem")).unwrap();
        let signer = palisade_sign::Signer::Key(key);
        let (_, bundle) = palisade_sign::sign(&model, &signer, &Default::default(), 1).unwrap();
        let sig = dir.join("model.sig");
        std::fs::write(&sig, bundle.to_json()).unwrap();
        let public = keys.join("p384.pub.pem");
        let ok = signature_check(&model, &sig, &public).unwrap();
        assert!(ok.contains("verifies (1 files"), "{ok}");
        std::fs::write(model.join("weights.bin"), b"poisoned weights").unwrap();
        let err = signature_check(&model, &sig, &public).unwrap_err();
        assert!(err.contains("weights.bin"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn metrics_are_found_by_name_and_labels() {
        let text = "# HELP x\npalisade_guard_probe_accuracy{model=\"digits\"} 0.97\npalisade_guard_probe_accuracy{model=\"other\"} 0.2\nup 1\n";
        let l = |m: &str| BTreeMap::from([("model".to_string(), m.to_string())]);
        assert!(
            metric(
                text,
                "palisade_guard_probe_accuracy",
                &l("digits"),
                Some(0.9),
                None
            )
            .is_ok()
        );
        let e = metric(
            text,
            "palisade_guard_probe_accuracy",
            &l("other"),
            Some(0.9),
            None,
        )
        .unwrap_err();
        assert!(e.contains("0.2"), "{e}");
        assert!(metric(text, "up", &BTreeMap::new(), Some(1.0), Some(1.0)).is_ok());
        assert!(
            metric(
                text,
                "palisade_guard_probe_accuracy",
                &l("none"),
                None,
                None
            )
            .is_err()
        );
    }
}
