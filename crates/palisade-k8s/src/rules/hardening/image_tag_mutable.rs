use crate::rules::{Check, Rule, Sink};
use crate::workload::PodTemplate;
use palisade_core::image::parse_image;
use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Flags container images with no tag or the `:latest` tag (and no digest).

## Why is this bad?
What runs changes whenever someone pushes: a compromised or careless push to `latest` reaches
production on the next pod restart, rollbacks restore nothing, and no one can say which model
server build served a request.

## Example
```yaml
image: pytorch/torchserve
```

## Use instead
```yaml
image: pytorch/torchserve:0.12.0-cpu@sha256:…
```

## References
- MITRE ATLAS AML.T0010.004 AI Supply Chain Compromise: Container Registry; ATT&CK T1525
"#;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "K8S023",
        name: "image-tag-mutable",
        severity: Severity::Medium,
        family: "hardening",
        summary: "Image is untagged or uses :latest",
        controls: &[],
        techniques: &["AML.T0010.004", "T1525"],
        fix: "pin the image to a release tag and its digest (image: repo:1.2.3@sha256:…)",
        doc: DOC,
    },
    check: Check::Pod(check),
};

fn check(t: &PodTemplate, sink: &mut Sink) {
    for c in &t.containers {
        let Some(image) = c.image() else { continue };
        let (_, tag, digest) = parse_image(image);
        if digest.is_some() {
            continue;
        }
        let what = match tag {
            None => "has no tag",
            Some("latest") => "uses the :latest tag",
            Some(_) => continue,
        };
        sink.container(
            t,
            c,
            c.get("image").map(|n| n.pos).unwrap_or(c.node.pos),
            format!("image {image} {what}"),
        );
    }
}
