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

/// Split an image reference into (name, tag, digest).
pub(crate) fn parse_image(image: &str) -> (&str, Option<&str>, Option<&str>) {
    let (rest, digest) = match image.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (image, None),
    };
    // A tag is after the last ':' that follows the last '/' (a registry port is not a tag).
    let slash = rest.rfind('/').map(|i| i + 1).unwrap_or(0);
    match rest[slash..].rfind(':') {
        Some(i) => (&rest[..slash + i], Some(&rest[slash + i + 1..]), digest),
        None => (rest, None, digest),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_image;

    #[test]
    fn image_references() {
        assert_eq!(parse_image("python"), ("python", None, None));
        assert_eq!(
            parse_image("localhost:5000/m:1.2"),
            ("localhost:5000/m", Some("1.2"), None)
        );
        assert_eq!(
            parse_image("localhost:5000/m"),
            ("localhost:5000/m", None, None)
        );
        assert_eq!(
            parse_image("ghcr.io/a/b:1@sha256:ab"),
            ("ghcr.io/a/b", Some("1"), Some("sha256:ab"))
        );
    }
}
