//! Reading Kubernetes manifests: files and standard input → documents → [`Resource`]s.
//!
//! YAML and JSON, multi-document streams, `List` kinds (`v1/List`, `*List`), CRLF and a BOM are
//! handled. Helm chart sources (files with `{{ }}` below a `templates/` folder) are not YAML:
//! each chart is reported once in `skipped` with a hint to pipe `helm template`. Anything else
//! that cannot be analysed (invalid YAML, binary, too large, not UTF-8, unreadable) becomes an
//! [`InputError`] with its line, and loading goes on.

use crate::yaml::{self, Node, NodeKind, Pos};
use palisade_core::InputError;
use palisade_core::source::{self, NotText};
use palisade_core::walk::{Input, STDIN_PATH};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Default largest file read: 16 MiB.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 16 * 1024 * 1024;

/// A file that was read, by index.
#[derive(Debug)]
pub struct SourceFile {
    pub path: String,
    pub text: Arc<str>,
}

/// One Kubernetes object from the manifests.
#[derive(Debug)]
pub struct Resource {
    pub api_version: String,
    pub kind: String,
    pub name: String,
    /// `metadata.namespace` as written (None when absent).
    pub namespace: Option<String>,
    pub root: Node,
}

impl Resource {
    pub fn file(&self) -> u32 {
        self.root.pos.file
    }

    /// `Kind/namespace/name` or `Kind/name`, as findings name resources.
    pub fn id(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{}/{}/{}", self.kind, ns, self.name),
            None => format!("{}/{}", self.kind, self.name),
        }
    }

    /// The namespace a namespaced object lands in when none is written (`default`).
    pub fn effective_namespace(&self) -> &str {
        self.namespace.as_deref().unwrap_or("default")
    }

    pub fn metadata(&self) -> Option<&Node> {
        self.root.get("metadata")
    }

    pub fn spec(&self) -> Option<&Node> {
        self.root.get("spec")
    }

    /// The API group (`apps`, `serving.kserve.io`, "" for core).
    pub fn group(&self) -> &str {
        match self.api_version.rsplit_once('/') {
            Some((g, _)) => g,
            None => "",
        }
    }

    pub fn pos(&self) -> Pos {
        self.root.pos
    }

    /// `metadata.labels`.
    pub fn labels(&self) -> Vec<(String, String)> {
        self.root
            .path(&["metadata", "labels"])
            .map(Node::string_pairs)
            .unwrap_or_default()
    }

    /// An annotation's value.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.root
            .path(&["metadata", "annotations", key])
            .and_then(Node::as_str)
    }
}

/// Everything loaded from the inputs.
#[derive(Debug, Default)]
pub struct Manifests {
    pub files: Vec<SourceFile>,
    pub resources: Vec<Resource>,
    pub errors: Vec<InputError>,
    pub skipped: Vec<InputError>,
    /// Inputs named explicitly (or stdin) that are text but not Kubernetes manifests: the
    /// caller offers them to other analysers. (display path, text)
    pub unrecognised: Vec<(String, String)>,
}

impl Manifests {
    pub fn path_of(&self, file: u32) -> &str {
        &self.files[file as usize].path
    }
}

#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub max_file_size: u64,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            max_file_size: DEFAULT_MAX_FILE_SIZE,
        }
    }
}

/// `.yaml`, `.yml` or `.json`: read as manifests, never as anything else.
pub fn has_manifest_extension(p: &Path) -> bool {
    matches!(
        p.extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase())
            .as_deref(),
        Some("yaml" | "yml" | "json")
    )
}

/// The chart folder of a Helm template: the parent of the nearest `templates` folder.
fn helm_chart_root(path: &Path) -> Option<PathBuf> {
    let mut cur = path.parent();
    while let Some(dir) = cur {
        if dir.file_name().is_some_and(|n| n == "templates") {
            return dir.parent().map(Path::to_path_buf);
        }
        cur = dir.parent();
    }
    None
}

enum Decoded {
    Text(String),
    NotManifest,
    Error(String),
}

fn decode(bytes: Vec<u8>, explicit_or_yaml: bool) -> Decoded {
    match source::decode(bytes) {
        Ok(t) => Decoded::Text(t),
        Err(NotText::Binary) if !explicit_or_yaml => Decoded::NotManifest,
        Err(NotText::Binary) => Decoded::Error("binary file, not YAML or JSON".into()),
        Err(NotText::NotUtf8 { line }) => Decoded::Error(format!("not valid UTF-8 (line {line})")),
    }
}

/// Load every manifest among `inputs`. Files that are not manifests (by extension when found by
/// walking) are left to other analysers.
pub fn load(inputs: &[Input], opts: &LoadOptions) -> Manifests {
    let mut m = Manifests::default();
    let mut charts: BTreeMap<PathBuf, usize> = BTreeMap::new();
    for input in inputs {
        let (display, text) = match input {
            Input::Stdin => {
                let bytes = match source::read_limited(std::io::stdin().lock(), opts.max_file_size)
                {
                    Ok(b) => b,
                    Err(e) => {
                        m.errors.push(InputError::new(STDIN_PATH, e));
                        continue;
                    }
                };
                match decode(bytes, true) {
                    Decoded::Text(t) if !t.contains("apiVersion") && !t.trim().is_empty() => {
                        m.unrecognised.push((STDIN_PATH.to_string(), t));
                        continue;
                    }
                    Decoded::Text(t) => (STDIN_PATH.to_string(), t),
                    Decoded::NotManifest => continue,
                    Decoded::Error(e) => {
                        m.errors.push(InputError::new(STDIN_PATH, e));
                        continue;
                    }
                }
            }
            Input::File {
                path,
                display,
                explicit,
            } => {
                let manifest_ext = has_manifest_extension(path);
                if !manifest_ext && !explicit {
                    continue;
                }
                let bytes = match source::read_file(path, opts.max_file_size) {
                    Ok(b) => b,
                    Err(e) => {
                        m.errors.push(InputError::new(display.clone(), e));
                        continue;
                    }
                };
                let text = match decode(bytes, manifest_ext) {
                    Decoded::Text(t) => t,
                    Decoded::NotManifest => continue,
                    Decoded::Error(e) => {
                        m.errors.push(InputError::new(display.clone(), e));
                        continue;
                    }
                };
                if !manifest_ext && !text.contains("apiVersion") {
                    // An explicit file of another kind (a Dockerfile with another name, say).
                    m.unrecognised.push((display.clone(), text));
                    continue;
                }
                if text.contains("{{")
                    && let Some(chart) = helm_chart_root(path)
                {
                    *charts.entry(chart).or_default() += 1;
                    continue;
                }
                (display.clone(), text)
            }
        };
        load_text(&mut m, display, text);
    }
    for (chart, n) in charts {
        let shown = chart.to_string_lossy();
        let shown = if shown.is_empty() { "." } else { &shown };
        m.skipped.push(InputError::new(
            shown.to_string(),
            format!(
                "Helm chart source ({n} template file{}) is not YAML until rendered; run `helm template {shown} | palisade scan -`",
                if n == 1 { "" } else { "s" }
            ),
        ));
    }
    m
}

/// Parse one file's text and add its resources.
pub fn load_text(m: &mut Manifests, display: String, text: String) {
    let parsed = yaml::parse(&text, m.files.len() as u32);
    if let Some(e) = &parsed.error {
        let mut msg = format!("invalid YAML: {}", e.message);
        if text.contains("{{") {
            msg.push_str(" (this looks like a template: render it first, e.g. `helm template … | palisade scan -`)");
        }
        m.errors
            .push(InputError::new(display.clone(), msg).at(e.line, e.column));
    }
    for doc in parsed.documents {
        add_object(m, doc.root, 0, None);
    }
    m.files.push(SourceFile {
        path: display,
        text: Arc::from(text),
    });
}

/// Add one object. Items of a typed list (`PodList`, as `kubectl get -o json` writes it) may
/// omit their kind and apiVersion: they are the list's item kind (`inherited`).
fn add_object(m: &mut Manifests, root: Node, depth: usize, inherited: Option<(&str, &str)>) {
    if root.is_null() || !root.is_map() {
        return; // empty document, or not a Kubernetes object
    }
    let field = |key: &str, default: Option<&str>| {
        root.get(key)
            .and_then(Node::as_nonempty_str)
            .or(default)
            .unwrap_or("")
            .to_string()
    };
    let kind = field("kind", inherited.map(|i| i.0));
    let api_version = field("apiVersion", inherited.map(|i| i.1));
    if kind.is_empty() || api_version.is_empty() {
        return; // values files, kustomization patches without a kind, other config
    }
    if kind.ends_with("List") && depth == 0 {
        let item_kind = kind.strip_suffix("List").filter(|k| !k.is_empty());
        let inherited = item_kind.map(|k| (k, api_version.as_str()));
        // Move the items out of the list rather than copying them.
        if let NodeKind::Map(entries) = root.kind {
            for (key, value) in entries.into_vec() {
                if key.as_str() == Some("items")
                    && let NodeKind::Seq(items) = value.kind
                {
                    for item in items.into_vec() {
                        add_object(m, item, depth + 1, inherited);
                    }
                }
            }
        }
        return;
    }
    let name = root
        .path(&["metadata", "name"])
        .and_then(Node::as_str)
        .or_else(|| {
            root.path(&["metadata", "generateName"])
                .and_then(Node::as_str)
        })
        .unwrap_or("<unnamed>")
        .to_string();
    let namespace = root
        .path(&["metadata", "namespace"])
        .and_then(Node::as_nonempty_str)
        .map(str::to_string);
    m.resources.push(Resource {
        api_version,
        kind,
        name,
        namespace,
        root,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_str(s: &str) -> Manifests {
        let mut m = Manifests::default();
        load_text(&mut m, "t.yaml".into(), s.into());
        m
    }

    #[test]
    fn lists_and_multi_docs() {
        let m = load_str(
            "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: a, namespace: ml}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: s}\n---\n# only a comment\n",
        );
        assert!(m.errors.is_empty());
        let ids: Vec<String> = m.resources.iter().map(Resource::id).collect();
        assert_eq!(ids, vec!["Pod/ml/a", "Service/s"]);
        assert_eq!(m.resources[0].pos().line, 4);
    }

    #[test]
    fn typed_list_items_inherit_their_kind() {
        let m = load_str(
            "{\"kind\": \"PodList\", \"apiVersion\": \"v1\", \"items\": [{\"metadata\": {\"name\": \"p\"}}]}",
        );
        let ids: Vec<String> = m.resources.iter().map(Resource::id).collect();
        assert_eq!(ids, vec!["Pod/p"]);
        assert_eq!(m.resources[0].api_version, "v1");
    }

    #[test]
    fn invalid_yaml_is_an_error_with_line() {
        let m = load_str("apiVersion: v1\nkind: Pod\nmetadata:\n  name: [a\n");
        assert_eq!(m.errors.len(), 1);
        assert!(m.errors[0].line.is_some());
        assert!(m.errors[0].message.starts_with("invalid YAML"));
    }
}
