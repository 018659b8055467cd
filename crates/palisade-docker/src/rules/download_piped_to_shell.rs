use super::{Rule, Sink};
use crate::stage::Build;
use palisade_core::shell::Op;
use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Flags `RUN` commands that download a script and run it in one go: `curl … | sh`,
`wget -qO- … | bash`, `curl … | sudo python3`, `bash -c "$(curl …)"`, `sh <(curl …)`,
`source <(wget …)`.

## Why is this bad?
Whatever the server sends runs as the build user — usually root — with nothing checked: no
checksum, no signature, no review of what changed since the last build. A compromised
installer URL, a DNS hijack or a partial download executes in your image.

## Example
```dockerfile
RUN curl -fsSL https://example.com/install.sh | bash
```

## Use instead
```dockerfile
ADD --checksum=sha256:<digest> https://example.com/install.sh /tmp/install.sh
RUN bash /tmp/install.sh && rm /tmp/install.sh
```
or install from a package repository with signed metadata.

## References
- CIS Docker Benchmark 4.9 (use COPY/verified downloads); CWE-494 Download of Code Without
  Integrity Check
- MITRE ATLAS AML.T0010 AI Supply Chain Compromise; ATT&CK T1059.004
"#;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "DF006",
        name: "download-piped-to-shell",
        severity: Severity::High,
        family: "dockerfile",
        summary: "A downloaded script is run without verification (`curl … | sh`)",
        controls: &["cwe:CWE-494"],
        techniques: &["AML.T0010", "T1059.004"],
        fix: "download to a file, verify its checksum or signature, then run it",
        doc: DOC,
    },
    check,
};

const DOWNLOADERS: &[&str] = &["curl", "wget", "fetch", "http", "aria2c"];
const INTERPRETERS: &[&str] = &[
    "sh", "bash", "dash", "zsh", "ash", "ksh", "python", "python3", "python2", "perl", "ruby",
    "node", "php",
];

fn is_interpreter(p: &str) -> bool {
    INTERPRETERS.contains(&p) || p.starts_with("python3.")
}

fn fetches(s: &str) -> bool {
    DOWNLOADERS.iter().any(|d| {
        s.contains(&format!("$({d} "))
            || s.contains(&format!("<({d} "))
            || s.contains(&format!("`{d} "))
    })
}

fn check(b: &Build, sink: &mut Sink) {
    let runs = &b.runs;
    for (k, rc) in runs.iter().enumerate() {
        let c = &rc.command;
        let Some((_, prog)) = c.program() else {
            continue;
        };
        // curl … | sh (the piped-to command is the next one of the same script)
        if DOWNLOADERS.contains(&prog)
            && c.then == Op::Pipe
            && let Some(next) = runs.get(k + 1)
            && let Some((pi, runner)) = next.command.program()
            && is_interpreter(runner)
        {
            sink.run(
                next,
                pi,
                format!("pipes a {prog} download straight into {runner}"),
            );
            continue;
        }
        // bash -c "$(curl …)", sh <(curl …), source <(wget …)
        if (is_interpreter(prog) || prog == "source" || prog == ".")
            && let Some(w) = c.words.iter().position(|w| fetches(&w.text))
        {
            sink.run(
                rc,
                w,
                format!("runs a downloaded script with {prog} without verifying it"),
            );
        }
    }
}
