use super::{Rule, Sink, base_shown, external_bases};
use crate::stage::Build;
use palisade_core::image::parse_image;
use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Flags `FROM` lines whose image has no tag (which means `:latest`) or the `:latest` tag, in any
build stage.

## Why is this bad?
`latest` moves. The same Dockerfile builds a different image next week — with a new Python, a
new CUDA, or whatever was pushed under that name — so builds are not reproducible and a
compromised or broken upstream push flows straight into your model server.

## Example
```dockerfile
FROM python
FROM pytorch/pytorch:latest
```

## Use instead
```dockerfile
FROM python:3.11.9-slim-bookworm@sha256:<digest>
```

## References
- CIS Docker Benchmark 4.2 (use trusted base images); Docker docs, "Image digests"
- MITRE ATLAS AML.T0010 AI Supply Chain Compromise; ATT&CK T1195.002
"#;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "DF003",
        name: "base-image-mutable-tag",
        severity: Severity::Medium,
        family: "dockerfile",
        summary: "Base image untagged or `:latest`",
        controls: &["cis-docker:4.2"],
        techniques: &["AML.T0010", "T1195.002"],
        fix: "pin the base image to a version tag and a digest",
        doc: DOC,
    },
    check,
};

fn check(b: &Build, sink: &mut Sink) {
    for (stage, from) in external_bases(b) {
        let (_, tag, digest) = parse_image(&stage.base);
        if digest.is_some() {
            continue;
        }
        let what = match tag {
            None => "has no tag (it means :latest)",
            Some("latest") => "uses the mutable :latest tag",
            Some(_) => continue,
        };
        sink.at(
            stage,
            from.args_pos(),
            format!(
                "{}base image {} {what}",
                b.stage_prefix(stage),
                base_shown(stage)
            ),
        );
    }
}
