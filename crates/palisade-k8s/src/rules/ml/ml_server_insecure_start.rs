use crate::ml::servers;
use crate::rules::{Check, Rule, Sink};
use crate::workload::PodTemplate;
use palisade_core::ml::insecure_options;
use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Flags ML servers started with their authentication switched off in a container's `command`,
`args` or `env` (read through `sh -c` scripts too): Jupyter with an empty token and no password,
`--allow-root` or the XSRF check disabled; TorchServe with `--disable-token-auth` or
`TS_DISABLE_TOKEN_AUTHORIZATION=true`; Triton with `--model-control-mode=explicit`. Servers are
recognised by image and command (see `K8S100`). Binding to `0.0.0.0` is not flagged here: a pod
must listen on its interfaces to be reached through its Service; `K8S100` judges exposure.

## Why is this bad?
Inside the cluster, every pod that can reach the server — a compromised neighbour, a tenant's
notebook — can then run code in it or replace its models. Network policies are one wall;
the server's own authentication is the second one, and it costs nothing to keep.

## Example
```yaml
args: ["start-notebook.sh", "--NotebookApp.token=''", "--NotebookApp.password=''"]
```

## Use instead
Keep the generated token (or a hashed password from a Secret); keep TorchServe token
authorization on; use `--model-control-mode=none|poll` for Triton in production.

## References
- Jupyter Server docs, "Security"; TorchServe docs, "Token Authorization API"; Triton docs,
  "Model Management"
- MITRE ATLAS AML.T0049, AML.T0050 Command and Scripting Interpreter, AML.T0018 Manipulate AI
  Model
"#;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "K8S101",
        name: "ml-server-insecure-start",
        severity: Severity::High,
        family: "ml-exposure",
        summary: "ML server started with its authentication switched off",
        controls: &[],
        techniques: &["AML.T0049", "AML.T0050", "AML.T0018"],
        fix: "remove the option that disables the server's authentication; keep tokens in a Secret",
        doc: DOC,
    },
    check: Check::Pod(check),
};

fn check(t: &PodTemplate, sink: &mut Sink) {
    for (c, server, cl) in servers(t) {
        for opt in insecure_options(server, &cl.launch, false) {
            let pos = cl.locate(&opt, c);
            if let Some(f) = sink.container(
                t,
                c,
                pos,
                format!("starts {} with {}", server.label(), opt.what),
            ) && opt.critical
            {
                f.severity = Severity::Critical;
            }
        }
    }
}
