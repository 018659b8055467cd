use super::{Rule, Sink};
use crate::stage::Build;
use palisade_core::image::{parse_image, repository};
use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Flags a Dockerfile whose final stage — the image that ships — runs as root: it sets no `USER`,
or sets `USER root` / `USER 0`. A `USER` in an earlier build stage does not count: each `FROM`
starts again from its base image's user, unless it builds `FROM` that earlier stage.

## Why is this bad?
A model server that runs as root turns any code execution (a pickled model, a deserialisation
bug, a notebook) into root in the container, and one kernel or runtime bug away from the node —
where the GPUs and every other tenant's model weights are.

## Example
```dockerfile
FROM python:3.11 AS build
RUN useradd -u 10001 app
USER app                 # only applies to the build stage
FROM python:3.11-slim
COPY --from=build /app /app
CMD ["gunicorn", "app:app"]
```

## Use instead
```dockerfile
FROM python:3.11-slim
RUN useradd --uid 10001 --no-create-home app
COPY --chown=10001 . /app
USER 10001
CMD ["gunicorn", "app:app"]
```
A numeric UID lets Kubernetes verify `runAsNonRoot`. Images that already run as a non-root user
(`gcr.io/distroless/*:nonroot`, Chainguard images) need no `USER`.

## References
- CIS Docker Benchmark 4.1; Docker docs, "USER"
- MITRE ATLAS AML.T0105 Escape to Host; ATT&CK T1611
"#;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "DF001",
        name: "runs-as-root",
        severity: Severity::High,
        family: "dockerfile",
        summary: "The final stage runs as root",
        controls: &["cis-docker:4.1"],
        techniques: &["AML.T0105", "T1611"],
        fix: "create an unprivileged user and add `USER <uid>` to the final stage",
        doc: DOC,
    },
    check,
};

/// Base images that already run as a non-root user.
fn base_runs_non_root(image: &str) -> bool {
    let (name, tag, _) = parse_image(image);
    let tag = tag.unwrap_or("");
    let repo = repository(name);
    tag.contains("nonroot")
        || name.starts_with("cgr.dev/chainguard/") && !tag.ends_with("-dev") && tag != "dev"
        || repo.starts_with("bitnami/") && !repo.ends_with("minideb")
}

fn is_root(user: &str) -> bool {
    let u = user.split(':').next().unwrap_or(user).trim();
    u == "root" || u == "0"
}

fn check(b: &Build, sink: &mut Sink) {
    let Some(last) = b.final_stage() else {
        return;
    };
    let root = b.root_base(last);
    if root.is_scratch() {
        return; // nothing in it but what you copy; users come from the binary
    }
    match b.effective_user(last) {
        Some((k, user)) => {
            if is_root(&user) {
                let inst = &b.file.instructions[k];
                sink.inst(
                    last,
                    inst,
                    inst.args_offset + 1,
                    format!(
                        "{} switches to USER {user}: the container runs as root",
                        b.final_label(last)
                    ),
                );
            }
        }
        None => {
            if !root.has_external_base() || base_runs_non_root(&root.base) {
                return;
            }
            let base = if root.index == last.index {
                root.base.clone()
            } else {
                format!("{} through {}", root.base, root.label())
            };
            let mut msg = format!(
                "{} ({base}) sets no USER: the container runs as root",
                b.final_label(last)
            );
            if let Some(other) = b.stages.iter().find(|s| {
                s.index != last.index
                    && !b.lineage(last).iter().any(|l| l.index == s.index)
                    && b.body(s).any(|(_, i)| i.keyword == "USER")
            }) {
                let (k, user) = b.effective_user(other).unwrap_or_default();
                msg.push_str(&format!(
                    " (USER {user} at line {} belongs to {} and does not carry over)",
                    b.file.instructions[k].line(),
                    other.label()
                ));
            }
            let from = &b.file.instructions[last.from];
            sink.inst(last, from, 0, msg);
        }
    }
}
