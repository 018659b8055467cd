use super::{Rule, Sink, StageLaunch};
use crate::stage::Build;
use palisade_core::ml::{identify, insecure_options};
use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Reads how the image's final stage starts (`ENTRYPOINT` + `CMD`, shell or exec form, and its
`ENV`), recognises the ML server it starts by command and base image, and flags start options
that switch protection off:
- Jupyter with an empty token and no password (`--NotebookApp.token=''`,
  `--ServerApp.token=`, `JUPYTER_TOKEN=`), bound to every interface, `--allow-root`, or with
  the XSRF check disabled;
- TorchServe with token authorization disabled (`--disable-token-auth`,
  `TS_DISABLE_TOKEN_AUTHORIZATION=true`), the more so with model registration enabled;
- an MLflow tracking server bound to `0.0.0.0` without `--app-name basic-auth`;
- a Ray head with its dashboard bound to `0.0.0.0` (no authentication; job submission is
  remote code execution, CVE-2023-48022 "ShadowRay");
- Triton with `--model-control-mode=explicit` (any client loads and unloads models).

## Why is this bad?
These servers run code by design: a notebook executes what it is sent, Ray runs submitted jobs,
TorchServe's management API registers model archives whose handlers are Python. With their
authentication off, reaching the port is owning the container — and the models, data and cloud
credentials it can reach.

## Example
```dockerfile
CMD ["jupyter", "lab", "--ip=0.0.0.0", "--allow-root", "--ServerApp.token=''"]
```

## Use instead
```dockerfile
USER 1000
CMD ["jupyter", "lab", "--ip=0.0.0.0"]   # token generated at start, or a hashed password
```
and put an authenticating proxy in front of dashboards that have no authentication of their own.

## References
- Jupyter Server docs, "Security in the Jupyter Server"; TorchServe docs, "Token Authorization"
  (and CVE-2023-43654); Ray docs, "Security" (CVE-2023-48022); MLflow docs, "Authentication"
- MITRE ATLAS AML.T0049 Exploit Public-Facing Application, AML.T0050 Command and Scripting
  Interpreter; ATT&CK T1190
"#;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "DF014",
        name: "ml-server-insecure-start",
        severity: Severity::High,
        family: "dockerfile",
        summary: "ML server started with its protection switched off",
        controls: &[],
        techniques: &["AML.T0049", "AML.T0050", "T1190"],
        fix: "keep the server's authentication on (token, password, basic-auth) and bind dashboards to localhost behind an authenticating proxy",
        doc: DOC,
    },
    check,
};

fn check(b: &Build, sink: &mut Sink) {
    let Some(last) = b.final_stage() else {
        return;
    };
    let sl = StageLaunch::of(b, last);
    let launch = &sl.launch;
    let Some(server) = identify(launch) else {
        return;
    };
    for opt in insecure_options(server, launch, true) {
        let at = sl
            .locate(b, &opt)
            .unwrap_or_else(|| b.file.instructions[last.from].pos(0));
        if let Some(f) = sink.at(
            last,
            at,
            format!("{} started with {}", server.label(), opt.what),
        ) && opt.critical
        {
            f.severity = Severity::Critical;
        }
    }
}
