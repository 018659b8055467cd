//! Hardening beyond the Pod Security Standards.

mod container_runtime_socket;
mod default_namespace;
mod exposed_service;
mod image_not_pinned;
mod image_tag_mutable;
mod missing_probes;
mod missing_resources;
mod no_network_policy;
mod rbac_overprivileged;
mod sensitive_host_path;
mod service_account_token;
mod writable_root_filesystem;

use super::Rule;

pub static RULES: &[&Rule] = &[
    &writable_root_filesystem::RULE,
    &missing_resources::RULE,
    &service_account_token::RULE,
    &image_tag_mutable::RULE,
    &image_not_pinned::RULE,
    &container_runtime_socket::RULE,
    &sensitive_host_path::RULE,
    &missing_probes::RULE,
    &default_namespace::RULE,
    &exposed_service::RULE,
    &no_network_policy::RULE,
    &rbac_overprivileged::RULE,
];

/// Kinds whose pods run to completion (no probes expected).
pub(crate) fn is_batch(kind: &str, group: &str) -> bool {
    matches!(kind, "Job" | "CronJob" | "RayJob" | "JobSet")
        || (group == "kubeflow.org" && kind.ends_with("Job"))
}
