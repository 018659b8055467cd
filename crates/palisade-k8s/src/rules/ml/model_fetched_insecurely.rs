use crate::ml::names_model_source;
use crate::rules::{Check, Rule, Sink};
use crate::workload::PodTemplate;
use crate::yaml::Node;
use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Flags models fetched over plain HTTP when a pod starts: an `http://` URL in a KServe
`storageUri`, in an argument or environment variable that names a model
(`--model-uri`, `--storage-uri`, `MODEL_URL`, `MODEL_PATH`, …), or pointing at a model file (`.safetensors`,
`.bin`, `.pt`, `.onnx`, `.gguf`, `.pkl`, `.joblib`, `.h5`, `.mar`, archives). Also
`S3_USE_HTTPS=0` for KServe's storage initializer. Loopback addresses are not flagged; addresses
inside the cluster are reported at a lower severity.

## Why is this bad?
Nothing authenticates what arrives: anyone on the path (a compromised node, a spoofed DNS name, a
proxy) can hand the server different weights — a backdoored model with the same accuracy, or a
pickle that runs code when it is loaded.

## Example
```yaml
spec:
  predictor:
    model:
      storageUri: http://models.example.com/fraud/model.joblib
```

## Use instead
`https://` or a signed object store URI (`s3://`, `gs://` over TLS), and verify what you load
(`palisade model verify`).

## References
- CWE-494 Download of Code Without Integrity Check; CWE-319 Cleartext Transmission
- MITRE ATLAS AML.T0010.003 AI Supply Chain Compromise: Model; AML.T0011.000
"#;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "K8S103",
        name: "model-fetched-insecurely",
        severity: Severity::High,
        family: "ml-supply-chain",
        summary: "Model downloaded over plain HTTP at start",
        controls: &["cwe:CWE-494", "cwe:CWE-319"],
        techniques: &["AML.T0010.003", "AML.T0011.000"],
        fix: "fetch models over HTTPS (or a TLS object store) and verify their signature",
        doc: DOC,
    },
    check: Check::Pod(check),
};

const MODEL_EXTENSIONS: &[&str] = &[
    ".safetensors",
    ".bin",
    ".pt",
    ".pth",
    ".onnx",
    ".gguf",
    ".pkl",
    ".pickle",
    ".joblib",
    ".h5",
    ".keras",
    ".pb",
    ".mar",
    ".ckpt",
    ".tar.gz",
    ".tgz",
    ".zip",
    ".npy",
    ".npz",
];

/// The plain-HTTP URL in `text`, with whether its host is inside the cluster; None for
/// loopback or no URL.
fn plain_http(text: &str) -> Option<(&str, bool)> {
    let at = text.find("http://")?;
    let url = &text[at..];
    let url = &url[..url.find([' ', '"', '\'', ',']).unwrap_or(url.len())];
    let host = url["http://".len()..]
        .split(['/', ':'])
        .next()
        .unwrap_or("");
    if matches!(host, "localhost" | "127.0.0.1" | "0.0.0.0" | "[::1]") || host.starts_with("127.") {
        return None;
    }
    let internal = !host.contains('.') || host.ends_with(".svc") || host.contains(".svc.");
    Some((url, internal))
}

fn model_url(url: &str) -> bool {
    let path = url
        .split(['?', '#'])
        .next()
        .unwrap_or(url)
        .to_ascii_lowercase();
    MODEL_EXTENSIONS.iter().any(|e| path.ends_with(e))
}

fn report(
    sink: &mut Sink,
    t: &PodTemplate,
    c: Option<&crate::workload::Container>,
    pos: crate::yaml::Pos,
    url: &str,
    internal: bool,
    via: &str,
) {
    let msg = format!(
        "fetches its model over plain HTTP ({url}, {via}){}",
        if internal {
            "; the host is inside the cluster, but nothing authenticates the download"
        } else {
            ""
        }
    );
    let f = match c {
        Some(c) => sink.container(t, c, pos, msg),
        None => sink.pod(t, pos, msg),
    };
    if let Some(f) = f
        && internal
    {
        f.severity = Severity::Medium;
    }
}

fn check(t: &PodTemplate, sink: &mut Sink) {
    // KServe: the storageUri of the component this template came from.
    if t.resource.kind == "InferenceService"
        && let Some(role) = t.role.as_deref()
        && let Some(comp) = t.resource.spec().and_then(|s| s.get(role))
    {
        let mut nodes: Vec<&Node> = Vec::new();
        for key in ["storageUri", "storage_uri"] {
            nodes.extend(comp.get(key));
            for (_, v) in comp.entries() {
                nodes.extend(v.get(key));
            }
        }
        for n in nodes {
            if let Some((url, internal)) = n.as_str().and_then(plain_http) {
                report(sink, t, None, n.pos, url, internal, "storageUri");
            }
        }
    }
    for c in &t.containers {
        let cl = c.launch();
        let argv = &cl.launch.argv;
        for (i, w) in argv.iter().enumerate() {
            let Some((url, internal)) = plain_http(w) else {
                continue;
            };
            let flag = if w.starts_with("--") {
                w.as_str()
            } else {
                i.checked_sub(1).map_or("", |p| argv[p].as_str())
            };
            if names_model_source(flag) || model_url(url) {
                let pos = cl.argv_pos.get(i).copied().unwrap_or(c.node.pos);
                report(sink, t, Some(c), pos, url, internal, "argument");
            }
        }
        for e in c.get("env").map(Node::items).unwrap_or(&[]) {
            let name = e.get("name").and_then(Node::as_str).unwrap_or("");
            let Some(v) = e.get("value") else { continue };
            let value = v.as_str().unwrap_or("");
            if name == "S3_USE_HTTPS" && value == "0" {
                if let Some(f) = sink.container(
                    t,
                    c,
                    v.pos,
                    "downloads models from S3 without TLS (S3_USE_HTTPS=0)",
                ) {
                    f.severity = Severity::Medium;
                }
                continue;
            }
            if let Some((url, internal)) = plain_http(value)
                && (names_model_source(name) || model_url(url))
            {
                report(
                    sink,
                    t,
                    Some(c),
                    v.pos,
                    url,
                    internal,
                    &format!("env {name}"),
                );
            }
        }
    }
}
