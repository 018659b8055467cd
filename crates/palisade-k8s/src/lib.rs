//! Kubernetes analysis for Palisade.
//!
//! * [`yaml`] — a YAML/JSON tree that keeps the file, line and column of every node;
//! * [`load`] — files and stdin → [`load::Resource`]s (multi-document, `List`, Helm detection,
//!   input errors);
//! * [`workload`] — every pod template, in core kinds and ML custom resources (KServe, Seldon,
//!   KubeRay, Kubeflow, JobSet, LeaderWorkerSet);
//! * [`ml`] — which container runs which ML server (by image, command and CRD), its ports,
//!   model volumes and GPU use;
//! * [`rules`] — one rule per file, in families;
//! * [`scan`] — the entry point: inputs → [`palisade_core::Report`].
//!
//! ```
//! let report = palisade_k8s::scan::scan_text("pod.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    image: x:1\n    securityContext: {privileged: true}\n");
//! assert!(report.findings.iter().any(|f| f.rule == "K8S001" && f.line == 8));
//! ```

pub mod load;
pub mod ml;
pub mod rules;
pub mod scan;
pub mod selector;
pub mod service;
pub mod workload;
pub mod yaml;
