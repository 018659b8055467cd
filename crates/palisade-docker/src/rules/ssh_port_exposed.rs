use super::{Rule, Sink};
use crate::script::arg_words;
use crate::stage::Build;
use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Flags `EXPOSE 22` (including a port range over 22) and installing an SSH server
(`openssh-server`, `dropbear`) into an image.

## Why is this bad?
An SSH daemon in a container is a second way in, with its own keys and passwords to leak and
no place in an orchestrated workload: debugging goes through `kubectl exec` or ephemeral
containers, which are authorised and audited. GPU training images that ship `sshd` for MPI are
a common path from one compromised worker to all of them.

## Example
```dockerfile
RUN apt-get install -y openssh-server
EXPOSE 22
```

## Use instead
Remove the SSH server; use `kubectl exec`/`kubectl debug`. For MPI jobs, use the MPI
operator's launcher, which scopes keys to the job.

## References
- CIS Docker Benchmark 5.6 (do not run ssh within containers)
- ATT&CK T1021.004 Remote Services: SSH
"#;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "DF011",
        name: "ssh-server-in-image",
        severity: Severity::Medium,
        family: "dockerfile",
        summary: "SSH port exposed or SSH server installed",
        controls: &["cis-docker:5.6"],
        techniques: &["T1021.004"],
        fix: "remove the SSH server and EXPOSE 22; use kubectl exec or kubectl debug",
        doc: DOC,
    },
    check,
};

fn covers_22(spec: &str) -> bool {
    let port = spec.split('/').next().unwrap_or(spec);
    match port.split_once('-') {
        Some((a, b)) => {
            matches!((a.parse::<u32>(), b.parse::<u32>()), (Ok(a), Ok(b)) if a <= 22 && 22 <= b)
        }
        None => port == "22",
    }
}

fn check(b: &Build, sink: &mut Sink) {
    for (stage, inst) in b.instructions().filter(|(_, i)| i.keyword == "EXPOSE") {
        for w in arg_words(inst).iter().filter(|w| covers_22(&w.text)) {
            sink.inst(
                stage,
                inst,
                w.offset,
                format!("EXPOSE {} publishes the SSH port", w.text),
            );
        }
    }
    for (_, _, rc) in b.run_commands() {
        let words = &rc.command.words;
        if let Some(k) = rc.installed_packages().into_iter().find(|&k| {
            matches!(
                words[k].text.as_str(),
                "openssh-server" | "dropbear" | "ssh-server"
            )
        }) {
            sink.run(rc, k, format!("installs an SSH server ({})", words[k].text));
        }
    }
}
