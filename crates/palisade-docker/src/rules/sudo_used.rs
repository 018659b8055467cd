use super::{Rule, Sink, stage_scripts};
use crate::stage::Build;
use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Flags `sudo` in `RUN` commands, and installing the `sudo` package into an image.

## Why is this bad?
`sudo` in a build means the build switched to a non-root user and then needs root back: the
user can become root at run time too (password-less sudoers entries are the norm in images),
which undoes the point of the `USER`. It also behaves unpredictably without a TTY and keeps
a setuid binary in the image.

## Example
```dockerfile
USER app
RUN sudo apt-get install -y libgomp1
```

## Use instead
```dockerfile
RUN apt-get install -y libgomp1   # as root, before USER
USER app
```
Use `gosu`/`su-exec` only in an entrypoint that drops privileges, never to gain them.

## References
- hadolint DL3004; CIS Docker Benchmark 4.1
- ATT&CK T1548.003 Abuse Elevation Control Mechanism: Sudo
"#;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "DF010",
        name: "sudo-in-image",
        severity: Severity::Medium,
        family: "dockerfile",
        summary: "`sudo` used or installed in the image",
        controls: &[],
        techniques: &["T1548.003"],
        fix: "run privileged steps as root before USER; do not install sudo",
        doc: DOC,
    },
    check,
};

fn check(b: &Build, sink: &mut Sink) {
    for stage in &b.stages {
        for script in stage_scripts(b, stage) {
            for c in script.commands() {
                let words: Vec<&str> = c.texts().collect();
                let first = words
                    .iter()
                    .position(|w| !palisade_core::shell::is_assignment(w));
                if let Some(k) = first
                    && words[k].rsplit('/').next() == Some("sudo")
                {
                    sink.at(
                        stage,
                        script.pos(c.words[k].offset),
                        "runs a command with sudo",
                    );
                    continue;
                }
                let installs = c.program().is_some_and(|(_, p)| {
                    matches!(
                        p,
                        "apt-get" | "apt" | "yum" | "dnf" | "apk" | "microdnf" | "zypper"
                    )
                }) && words.iter().any(|w| matches!(*w, "install" | "add"));
                if installs && let Some(k) = words.iter().position(|w| *w == "sudo") {
                    sink.at(
                        stage,
                        script.pos(c.words[k].offset),
                        "installs sudo into the image",
                    );
                }
            }
        }
    }
}
