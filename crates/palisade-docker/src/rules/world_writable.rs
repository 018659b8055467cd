use super::{Rule, Sink};
use crate::stage::Build;
use palisade_core::{RuleMeta, Severity};

const DOC: &str = r#"
## What it does
Flags `chmod` that makes files or folders writable by everyone (`777`, `666`, `o+w`,
`a+rwx`, …) and `COPY`/`ADD --chmod` with such a mode. Modes with the sticky bit (`1777`,
`/tmp`'s) are not flagged.

## Why is this bad?
World-writable application code or model folders let any process in the container — a
compromised dependency running as another user, a notebook kernel — replace the code that
serves or the weights that are served (a silent model swap or a backdoor).

## Example
```dockerfile
RUN chmod -R 777 /app /models
```

## Use instead
```dockerfile
COPY --chown=10001:10001 --chmod=0550 app/ /app/
COPY --chown=10001:10001 --chmod=0440 model/ /models/
```
Give write access to the one folder that needs it (a cache), to the one user that needs it.

## References
- CWE-732 Incorrect Permission Assignment for Critical Resource
- MITRE ATLAS AML.T0018 Manipulate AI Model (via a writable model path); ATT&CK T1222.002
"#;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "DF012",
        name: "world-writable-path",
        severity: Severity::Medium,
        family: "dockerfile",
        summary: "Files or folders made writable by everyone",
        controls: &["cwe:CWE-732"],
        techniques: &["AML.T0018", "T1222.002"],
        fix: "give ownership to the serving user (COPY --chown) and drop world write (e.g. 0755/0644)",
        doc: DOC,
    },
    check,
};

/// Whether a chmod mode grants write to others (and is not a sticky-bit shared folder).
pub(crate) fn world_writable(mode: &str) -> bool {
    if !mode.is_empty() && mode.chars().all(|c| c.is_ascii_digit() && c < '8') {
        let digits: Vec<u32> = mode.chars().filter_map(|c| c.to_digit(8)).collect();
        if digits.len() == 4 && digits[0] & 1 == 1 {
            return false; // sticky
        }
        return digits.last().is_some_and(|o| o & 2 == 2);
    }
    mode.split(',').any(|clause| {
        let (who, rest) = clause.split_at(clause.find(['+', '=']).unwrap_or(clause.len()));
        (who.contains('o') || who.contains('a'))
            && rest.starts_with(['+', '='])
            && rest.contains('w')
            && !rest.contains('t')
    })
}

fn check(b: &Build, sink: &mut Sink) {
    for (stage, inst) in b.instructions() {
        if let Some(f) = inst.flag("chmod")
            && let Some(mode) = &f.value
            && world_writable(mode)
        {
            sink.inst(
                stage,
                inst,
                f.offset,
                format!(
                    "{} --chmod={mode} makes the copied files writable by everyone",
                    inst.keyword
                ),
            );
        }
    }
    for (_, _, rc) in b.run_commands() {
        let c = &rc.command;
        let Some((p, "chmod")) = c.program() else {
            continue;
        };
        let mut args = (p + 1..c.words.len()).filter(|&k| !c.words[k].text.starts_with('-'));
        if let Some(mode) = args.next()
            && world_writable(&c.words[mode].text)
        {
            let paths: Vec<&str> = args.map(|k| c.words[k].text.as_str()).collect();
            sink.run(
                rc,
                mode,
                format!(
                    "chmod {} makes {} writable by everyone",
                    c.words[mode].text,
                    paths.join(" ")
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::world_writable;

    #[test]
    fn modes() {
        for yes in [
            "777", "0777", "666", "o+w", "a+rwx", "ugo+rwx", "u+x,o+w", "0757",
        ] {
            assert!(world_writable(yes), "{yes}");
        }
        for no in ["755", "0644", "1777", "u+w", "g+w", "+x", "o-w", "a+rx"] {
            assert!(!world_writable(no), "{no}");
        }
    }
}
