//! Container image references (`registry:port/repo/name:tag@sha256:…`), as Kubernetes pod specs
//! and Dockerfile `FROM` lines write them.

/// Split an image reference into (name, tag, digest).
pub fn parse_image(image: &str) -> (&str, Option<&str>, Option<&str>) {
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

/// Whether text can be an image reference at all (placeholders such as `<image>`,
/// `{{ .Image }}` or an unexpanded `$VAR` cannot).
pub fn is_reference(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/' | ':' | '@'))
}

/// The repository path without registry host: `docker.io/library/python` → `python`,
/// `nvcr.io/nvidia/tritonserver` → `nvidia/tritonserver`, `gcr.io/distroless/base` → `distroless/base`.
pub fn repository(name: &str) -> &str {
    let name = match name.split_once('/') {
        Some((host, rest)) if host.contains('.') || host.contains(':') || host == "localhost" => {
            rest
        }
        _ => name,
    };
    name.strip_prefix("library/").unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn repositories() {
        assert_eq!(repository("docker.io/library/python"), "python");
        assert_eq!(
            repository("nvcr.io/nvidia/tritonserver"),
            "nvidia/tritonserver"
        );
        assert_eq!(repository("localhost:5000/m"), "m");
        assert_eq!(repository("rayproject/ray"), "rayproject/ray");
        assert!(is_reference("ghcr.io/a/b:1@sha256:ab"));
        assert!(!is_reference("<jupyter-pytorch>"));
        assert!(!is_reference("${BASE}"));
    }
}
