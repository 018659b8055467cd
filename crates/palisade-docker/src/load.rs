//! Which inputs are Dockerfiles, and reading them.
//!
//! By name, whatever the folder: `Dockerfile`, `Containerfile`, `Dockerfile.gpu`,
//! `Dockerfile-rocm`, `Dockerfile_dev`, `app.Dockerfile`, `x.containerfile` (any case). A file
//! the user names explicitly, or standard input, is a Dockerfile when its first instruction is
//! `FROM` or `ARG` (see [`looks_like_dockerfile`]).

use crate::parse;
use crate::stage::Build;
use palisade_core::InputError;
use palisade_core::source::{self, NotText};
use std::path::Path;
use std::sync::Arc;

/// Whether a file name is a Dockerfile's.
pub fn is_dockerfile_name(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    let n = name.to_ascii_lowercase();
    for stem in ["dockerfile", "containerfile"] {
        if n == stem
            || n.ends_with(&format!(".{stem}"))
            || n.strip_prefix(stem)
                .is_some_and(|rest| rest.starts_with(['.', '-', '_']) && !is_not_a_dockerfile(rest))
        {
            return true;
        }
    }
    false
}

/// `Dockerfile.dockerignore`, `Dockerfile.md`, … are not Dockerfiles.
fn is_not_a_dockerfile(suffix: &str) -> bool {
    let ext = suffix.rsplit('.').next().unwrap_or("");
    suffix.starts_with('.')
        && matches!(
            ext,
            "dockerignore" | "md" | "txt" | "yaml" | "yml" | "json" | "sh" | "py" | "lock" | "orig"
        )
}

/// Whether text reads as a Dockerfile: its first instruction (after directives, comments and
/// blank lines) is `FROM` or `ARG`.
pub fn looks_like_dockerfile(text: &str) -> bool {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .and_then(|l| l.split_whitespace().next())
        .is_some_and(|w| w.eq_ignore_ascii_case("FROM") || w.eq_ignore_ascii_case("ARG"))
}

/// A Dockerfile that was read and parsed.
#[derive(Debug)]
pub struct SourceFile {
    pub path: String,
    pub text: Arc<str>,
    pub build: Build,
}

/// Everything read from the inputs.
#[derive(Debug, Default)]
pub struct Dockerfiles {
    pub files: Vec<SourceFile>,
    pub errors: Vec<InputError>,
    pub skipped: Vec<InputError>,
}

impl Dockerfiles {
    /// Read and parse a Dockerfile from disk.
    pub fn read(&mut self, path: &Path, display: &str, max_size: u64) {
        let text = match source::read_file(path, max_size).map(source::decode) {
            Err(e) => return self.errors.push(InputError::new(display, e)),
            Ok(Err(NotText::Binary)) => {
                return self
                    .errors
                    .push(InputError::new(display, "binary file, not a Dockerfile"));
            }
            Ok(Err(NotText::NotUtf8 { line })) => {
                return self.errors.push(
                    InputError::new(display, format!("not valid UTF-8 (line {line})")).at(line, 1),
                );
            }
            Ok(Ok(t)) => t,
        };
        self.add_text(display.to_string(), text);
    }

    /// Parse Dockerfile text.
    pub fn add_text(&mut self, display: String, text: String) {
        let build = Build::new(parse::parse(&text));
        if build.file.instructions.is_empty() && build.file.errors.is_empty() {
            self.skipped.push(InputError::new(
                display,
                "empty Dockerfile: no instructions",
            ));
            return;
        }
        for e in &build.file.errors {
            self.errors.push(
                InputError::new(display.clone(), format!("Dockerfile: {}", e.message))
                    .at(e.line, e.column),
            );
        }
        self.files.push(SourceFile {
            path: display,
            text: Arc::from(text),
            build,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for yes in [
            "Dockerfile",
            "dockerfile",
            "Containerfile",
            "Dockerfile.gpu",
            "Dockerfile-gpu",
            "Dockerfile_rocm",
            "transformer.Dockerfile",
            "x.containerfile",
            "Dockerfile.submitter.buildx",
        ] {
            assert!(is_dockerfile_name(Path::new(yes)), "{yes}");
        }
        for no in [
            "Dockerfile.dockerignore",
            ".dockerignore",
            "dockerfile.md",
            "Dockerfiles",
            "build.sh",
            "docker-compose.yml",
        ] {
            assert!(!is_dockerfile_name(Path::new(no)), "{no}");
        }
    }

    #[test]
    fn content_sniffing() {
        assert!(looks_like_dockerfile("# syntax=x\n\nARG A\nFROM a\n"));
        assert!(looks_like_dockerfile("from a"));
        assert!(!looks_like_dockerfile("apiVersion: v1\n"));
        assert!(!looks_like_dockerfile(""));
    }
}

#[cfg(test)]
mod realworld {
    use super::*;

    /// Every Dockerfile of the real-world corpus is recognised by its name, and no Kubernetes
    /// file is (names from ../shared/peer/realworld/MANIFEST.tsv).
    #[test]
    fn names_in_the_realworld_corpus() {
        let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/peer/realworld/MANIFEST.tsv");
        let text = std::fs::read_to_string(&manifest).expect("../shared/peer/realworld");
        let mut docker = 0;
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split('\t').collect();
            let is_docker = cols[3] == "dockerfile";
            docker += usize::from(is_docker);
            assert_eq!(
                is_dockerfile_name(Path::new(cols[5])),
                is_docker,
                "{}",
                cols[5]
            );
        }
        assert_eq!(docker, 142);
    }
}
