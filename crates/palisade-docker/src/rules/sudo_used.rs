use super::{Rule, Sink};
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
    for (_, _, rc) in b.run_commands() {
        let c = &rc.command;
        let first = c
            .words
            .iter()
            .position(|w| !palisade_core::shell::is_assignment(&w.text));
        if let Some(k) = first
            && c.words[k].text.rsplit('/').next() == Some("sudo")
        {
            sink.run(rc, k, "runs a command with sudo");
        } else if let Some(k) = rc
            .installed_packages()
            .into_iter()
            .find(|&k| c.words[k].text == "sudo")
        {
            sink.run(rc, k, "installs sudo into the image");
        }
    }
}
