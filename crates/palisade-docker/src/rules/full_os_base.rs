use super::{Rule, Sink};
use crate::stage::Build;
use palisade_core::image::{parse_image, repository};
use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Flags a final stage built on a full operating-system or development image where a slim,
runtime or distroless one serves: `python:3.11` (Debian with compilers and hundreds of
packages) instead of `python:3.11-slim`; `ubuntu`/`debian` as a runtime; CUDA and PyTorch
`devel` images (compilers, headers, `nvcc`) shipped to production instead of their `runtime`
variant; the full Anaconda distribution. The message names the smaller base that fits.

## Why is this bad?
Every package in the image is attack surface and scanner noise: compilers and package managers
help an intruder build tools in place, and a CUDA `devel` image is several gigabytes more to
pull onto every GPU node and to patch. The serving image needs the runtime, nothing else.

## Example
```dockerfile
FROM nvidia/cuda:12.4.1-cudnn-devel-ubuntu22.04
```

## Use instead
```dockerfile
FROM nvidia/cuda:12.4.1-cudnn-devel-ubuntu22.04 AS build
RUN ...build wheels...
FROM nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04
COPY --from=build /wheels /wheels
```

## References
- Docker docs, "Multi-stage builds"; NVIDIA CUDA image variants (base, runtime, devel)
- CIS Docker Benchmark 4.3 (do not install unnecessary packages)
"#;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "DF002",
        name: "full-os-base-image",
        severity: Severity::Medium,
        family: "dockerfile",
        summary: "The final stage ships a full OS or development image",
        controls: &["cis-docker:4.3"],
        techniques: &[],
        fix: "build in a full image if needed, and ship a slim, runtime or distroless base",
        doc: DOC,
    },
    check,
};

/// The smaller base to suggest for a full one, if this is a full one.
pub(crate) fn smaller_base(image: &str) -> Option<String> {
    let (name, tag, _) = parse_image(image);
    let repo = repository(name).to_ascii_lowercase();
    let tag_s = tag.unwrap_or("latest");
    let t = tag_s.to_ascii_lowercase();
    let lean = [
        "slim",
        "alpine",
        "distroless",
        "minimal",
        "micro",
        "runtime",
        "base",
    ];
    if t.contains("devel")
        && (repo == "nvidia/cuda" || repo == "pytorch/pytorch" || repo.ends_with("/cuda"))
    {
        return Some(format!("{name}:{}", tag_s.replace("devel", "runtime")));
    }
    if lean.iter().any(|l| t.contains(l)) {
        return None;
    }
    match repo.as_str() {
        "python" | "node" | "ruby" | "perl" | "php" => {
            let version = t
                .split('-')
                .next()
                .filter(|v| !v.is_empty() && *v != "latest")
                .unwrap_or("<version>");
            Some(format!("{repo}:{version}-slim (or a distroless image)"))
        }
        "ubuntu" | "debian" | "centos" | "fedora" | "rockylinux" | "almalinux"
        | "amazonlinux" | "oraclelinux" | "opensuse/leap" | "archlinux" => Some(
            "debian:12-slim, a language -slim image or gcr.io/distroless/base-debian12".into(),
        ),
        "continuumio/anaconda3" | "continuumio/anaconda" => {
            Some("continuumio/miniconda3 or mambaorg/micromamba".into())
        }
        "golang" | "rust" | "gcc" | "maven" | "gradle" => Some(
            "gcr.io/distroless/static-debian12 or cc-debian12 for the built binary (build in an earlier stage)".into(),
        ),
        _ => None,
    }
}

fn check(b: &Build, sink: &mut Sink) {
    let Some(last) = b.final_stage() else {
        return;
    };
    let root = b.root_base(last);
    if !root.has_external_base() {
        return;
    }
    if let Some(better) = smaller_base(&root.base) {
        let from = &b.file.instructions[root.from];
        let (line, col) = from.args_pos();
        let via = if root.index != last.index {
            format!(" (through {})", root.label())
        } else {
            String::new()
        };
        sink.at(
            last,
            (line, col),
            format!(
                "{}{via} ships {}, a full OS or development image; use {better}",
                b.final_label(last),
                root.base
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::smaller_base;

    #[test]
    fn suggestions() {
        assert_eq!(
            smaller_base("nvidia/cuda:12.4.1-cudnn-devel-ubuntu22.04").as_deref(),
            Some("nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04")
        );
        assert!(
            smaller_base("python:3.11")
                .unwrap()
                .starts_with("python:3.11-slim")
        );
        assert_eq!(smaller_base("python:3.11-slim-bookworm"), None);
        assert_eq!(smaller_base("nvidia/cuda:12.4.1-runtime-ubuntu22.04"), None);
        assert!(smaller_base("ubuntu:22.04").is_some());
        assert_eq!(smaller_base("gcr.io/distroless/python3-debian12"), None);
        assert_eq!(smaller_base("myorg/base:1"), None);
    }
}
