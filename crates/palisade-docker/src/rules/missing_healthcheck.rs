use super::{Rule, Sink};
use crate::stage::Build;
use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Flags a final stage that runs a service (it has `EXPOSE`, `CMD` or `ENTRYPOINT`) but no
`HEALTHCHECK`, or that disables the base image's with `HEALTHCHECK NONE`.

## Why is this bad?
Without a health check, Docker, Compose and Swarm report a hung model server (a deadlocked
worker, a GPU out of memory, a model that never finished loading) as healthy and keep sending
it traffic. Kubernetes ignores `HEALTHCHECK` and uses probes instead (`K8S027`): for images that
only run on Kubernetes this finding is informational, hence low.

## Example
```dockerfile
FROM python:3.11-slim
EXPOSE 8080
CMD ["uvicorn", "app:app", "--port", "8080"]
```

## Use instead
```dockerfile
HEALTHCHECK --interval=30s --timeout=3s CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz')"]
```

## References
- CIS Docker Benchmark 4.6 (add HEALTHCHECK); Docker docs, "HEALTHCHECK"
"#;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "DF013",
        name: "missing-healthcheck",
        severity: Severity::Low,
        family: "dockerfile",
        summary: "Service image without a HEALTHCHECK",
        controls: &["cis-docker:4.6"],
        techniques: &[],
        fix: "add a HEALTHCHECK that calls the server's health endpoint",
        doc: DOC,
    },
    check,
};

fn check(b: &Build, sink: &mut Sink) {
    let Some(last) = b.final_stage() else {
        return;
    };
    let lineage = b.lineage(last);
    let mut health = None;
    let mut service = false;
    for st in lineage.iter().rev() {
        for (_, i) in b.body(st) {
            match i.keyword.as_str() {
                "HEALTHCHECK" => health = Some(i),
                "EXPOSE" | "CMD" | "ENTRYPOINT" => service = true,
                _ => {}
            }
        }
    }
    if !service {
        return;
    }
    match health {
        Some(h) if h.args().trim().eq_ignore_ascii_case("none") => {
            sink.inst(
                last,
                h,
                h.args_offset + 1,
                "HEALTHCHECK NONE disables the health check of the served image",
            );
        }
        Some(_) => {}
        None => {
            let from = &b.file.instructions[last.from];
            sink.inst(
                last,
                from,
                0,
                format!(
                    "{} runs a service but has no HEALTHCHECK",
                    b.final_label(last)
                ),
            );
        }
    }
}
