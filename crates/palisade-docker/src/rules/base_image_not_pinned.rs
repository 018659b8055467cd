use super::{Rule, Sink, base_shown, external_bases};
use crate::stage::Build;
use palisade_core::image::parse_image;
use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Flags `FROM` lines with a version tag but no digest (`@sha256:…`). (Untagged and `:latest`
bases are `DF003`.)

## Why is this bad?
Tags are mutable: a registry account compromise, or a maintainer re-pushing `3.11-slim`,
changes what you build without any change in your repository. A digest names exactly one image,
so the build is reproducible and a swapped base fails loudly. Tools such as Renovate and
Dependabot keep digests current.

## Example
```dockerfile
FROM nvcr.io/nvidia/tritonserver:24.05-py3
```

## Use instead
```dockerfile
FROM nvcr.io/nvidia/tritonserver:24.05-py3@sha256:<digest>
```

## References
- Docker docs, "Pin base image versions"; SLSA build requirements
- MITRE ATLAS AML.T0010 AI Supply Chain Compromise; ATT&CK T1195.002
"#;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "DF004",
        name: "base-image-not-pinned",
        severity: Severity::Low,
        family: "dockerfile",
        summary: "Base image tag not pinned by digest",
        controls: &["cis-docker:4.2"],
        techniques: &["AML.T0010", "T1195.002"],
        fix: "append the image digest: FROM image:tag@sha256:…",
        doc: DOC,
    },
    check,
};

fn check(b: &Build, sink: &mut Sink) {
    for (stage, from) in external_bases(b) {
        if let (_, Some(tag), None) = parse_image(&stage.base)
            && tag != "latest"
        {
            sink.at(
                stage,
                from.args_pos(),
                format!(
                    "{}base image {} is not pinned by digest",
                    b.stage_prefix(stage),
                    base_shown(stage)
                ),
            );
        }
    }
}
