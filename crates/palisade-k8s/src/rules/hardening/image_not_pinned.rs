use crate::rules::{Check, Rule, Sink};
use crate::workload::PodTemplate;
use palisade_core::image::parse_image;
use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Flags container images referenced by a tag but not pinned by digest (`@sha256:…`). Untagged and
`:latest` images are K8S023.

## Why is this bad?
Tags move. A digest is the only reference that guarantees the bytes you scanned and approved
are the bytes that run — the basis of any image signature or scan result.

## Example
```yaml
image: ghcr.io/acme/sklearn-api:1.4.2
```

## Use instead
```yaml
image: ghcr.io/acme/sklearn-api:1.4.2@sha256:3f5d…
```

## References
- SLSA; MITRE ATLAS AML.T0010.004; ATT&CK T1525
"#;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "K8S024",
        name: "image-not-pinned-by-digest",
        severity: Severity::Low,
        family: "hardening",
        summary: "Image tag is not pinned by digest",
        controls: &[],
        techniques: &["AML.T0010.004", "T1525"],
        fix: "append the image digest: image: repo:tag@sha256:…",
        doc: DOC,
    },
    check: Check::Pod(check),
};

fn check(t: &PodTemplate, sink: &mut Sink) {
    for c in &t.containers {
        let Some(image) = c.image() else { continue };
        if let (_, Some(tag), None) = parse_image(image)
            && tag != "latest"
        {
            sink.container(
                t,
                c,
                c.get("image").map(|n| n.pos).unwrap_or(c.node.pos),
                format!("image {image} is not pinned by digest"),
            );
        }
    }
}
