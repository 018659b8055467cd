//! The shell commands a Dockerfile runs, read once per file: every `RUN` — its shell-form
//! command line, an exec-form `["sh", "-c", …]`, and each heredoc a shell runs — split into
//! simple commands (with the scripts of `sh -c` commands included), each able to say where any
//! of its words is in the file. And the words of any instruction, exec or shell form, with
//! their offsets.

use crate::parse::{Form, Instruction};
use palisade_core::shell::{self, Command};

/// Where a command's offsets are counted from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// From `args_offset` of the instruction's text (shell and exec forms).
    Args,
    /// From the start of this heredoc's body.
    Heredoc(usize),
}

/// One simple command of a `RUN`, with the build stage and instruction it belongs to.
#[derive(Debug, Clone)]
pub struct RunCommand {
    pub stage: usize,
    /// Index of the `RUN` instruction.
    pub inst: usize,
    pub command: Command,
    origin: Origin,
}

impl RunCommand {
    /// Line and column of byte `offset` of this command's script.
    pub fn pos(&self, inst: &Instruction, offset: usize) -> (usize, usize) {
        match self.origin {
            Origin::Args => inst.pos(inst.args_offset + offset),
            Origin::Heredoc(k) => {
                let h = &inst.heredocs[k];
                let before = &h.body[..offset.min(h.body.len())];
                let line = before.matches('\n').count();
                let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                (h.line + line, col)
            }
        }
    }

    /// Line and column of the command's `k`-th word.
    pub fn word_pos(&self, inst: &Instruction, k: usize) -> (usize, usize) {
        self.pos(inst, self.command.words[k].offset)
    }

    /// The word indices of the packages a package-manager command installs
    /// (`apt-get install -y a b`, `apk add a`).
    pub fn installed_packages(&self) -> Vec<usize> {
        let c = &self.command;
        let Some((p, prog)) = c.program() else {
            return Vec::new();
        };
        if !matches!(
            prog,
            "apt-get" | "apt" | "aptitude" | "yum" | "dnf" | "microdnf" | "apk" | "zypper" | "tdnf"
        ) {
            return Vec::new();
        }
        match (p + 1..c.words.len())
            .find(|&k| matches!(c.words[k].text.as_str(), "install" | "add"))
        {
            Some(i) => (i + 1..c.words.len())
                .filter(|&k| !c.words[k].text.starts_with('-'))
                .collect(),
            None => Vec::new(),
        }
    }
}

/// Split a script into simple commands, the scripts of `sh -c` commands included (their
/// words' offsets are the `-c` argument's, the closest position there is).
fn commands_of(script: &str) -> Vec<Command> {
    let mut out = Vec::new();
    for c in shell::parse(script) {
        let texts: Vec<&str> = c.texts().collect();
        if let Some((k, inner)) = shell::shell_c_script(&texts) {
            let at = c.words[k].offset;
            for mut ic in shell::parse(&inner) {
                ic.words.iter_mut().for_each(|w| w.offset = at);
                out.push(ic);
            }
        }
        out.push(c);
    }
    out
}

/// The commands of one `RUN` instruction.
pub fn run_commands(stage: usize, index: usize, inst: &Instruction) -> Vec<RunCommand> {
    let mut out = Vec::new();
    if inst.keyword != "RUN" {
        return out;
    }
    let mut push = |script: &str, origin: Origin| {
        out.extend(commands_of(script).into_iter().map(|command| RunCommand {
            stage,
            inst: index,
            command,
            origin,
        }));
    };
    match inst.form() {
        Form::Exec(words) => {
            let refs: Vec<&str> = words.iter().map(String::as_str).collect();
            if let Some((_, s)) = shell::shell_c_script(&refs) {
                push(&s, Origin::Args);
            }
        }
        Form::Shell(_) => {
            let args = inst.args();
            push(args, Origin::Args);
            let runner = args.split_whitespace().next().unwrap_or("");
            let shell_runner = runner.starts_with("<<") || is_shell(runner);
            for (k, h) in inst.heredocs.iter().enumerate() {
                let first = h.body.lines().next().unwrap_or("");
                let runs_in_shell = match first.strip_prefix("#!") {
                    Some(shebang) => shebang.split_whitespace().any(is_shell),
                    None => shell_runner,
                };
                if runs_in_shell {
                    push(&h.body, Origin::Heredoc(k));
                }
            }
        }
    }
    out
}

fn is_shell(program: &str) -> bool {
    matches!(
        program.rsplit('/').next().unwrap_or(""),
        "sh" | "bash" | "dash" | "ash" | "zsh"
    )
}

/// One argument word of an instruction, with its offset in the instruction's text.
pub struct ArgWord {
    pub text: String,
    pub offset: usize,
}

/// The argument words of an instruction: the strings of an exec-form JSON array, or the
/// shell words of the shell form (quotes removed), each with its offset.
pub fn arg_words(inst: &Instruction) -> Vec<ArgWord> {
    match inst.form() {
        Form::Exec(words) => {
            let offsets = json_string_offsets(inst.args());
            words
                .into_iter()
                .enumerate()
                .map(|(k, text)| ArgWord {
                    text,
                    offset: inst.args_offset + offsets.get(k).copied().unwrap_or(0),
                })
                .collect()
        }
        Form::Shell(_) => shell::parse(inst.args())
            .into_iter()
            .flat_map(|c| c.words)
            .map(|w| ArgWord {
                text: w.text,
                offset: inst.args_offset + w.offset,
            })
            .collect(),
    }
}

/// Offsets of each string literal's opening quote in a JSON array text.
fn json_string_offsets(s: &str) -> Vec<usize> {
    let mut out = Vec::new();
    let mut in_str = false;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if in_str {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_str = false,
                _ => {}
            }
        } else if c == '"' {
            in_str = true;
            out.push(i);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse;

    #[test]
    fn words_of_both_forms_point_at_themselves() {
        let df = parse("ADD [\"https://x/m.onnx\", \"/m\"]\nADD https://y/n.onnx /n\n");
        for inst in &df.instructions {
            let w = arg_words(inst);
            assert_eq!(w.len(), 2);
            assert!(w[0].text.starts_with("https://"));
            let (_, col) = inst.pos(w[0].offset);
            assert!(col == 5 || col == 6, "{col}");
        }
    }

    #[test]
    fn heredoc_and_sh_c_commands() {
        let df = parse(
            "RUN <<EOF\nset -e\ncurl x | sh\nEOF\nRUN [\"sh\", \"-c\", \"a && b\"]\nRUN python3 <<EOF\nimport os\nEOF\n",
        );
        let all: Vec<RunCommand> = df
            .instructions
            .iter()
            .enumerate()
            .flat_map(|(i, inst)| run_commands(0, i, inst))
            .collect();
        let progs: Vec<&str> = all
            .iter()
            .filter_map(|r| r.command.program())
            .map(|p| p.1)
            .collect();
        // `<<EOF` itself, the heredoc's three commands, the exec form's two; python's body is not shell.
        assert_eq!(progs, ["<<EOF", "set", "curl", "sh", "a", "b", "python3"]);
        let curl = all
            .iter()
            .find(|r| r.command.program().unwrap().1 == "curl")
            .unwrap();
        assert_eq!(curl.word_pos(&df.instructions[0], 0), (3, 1));
    }
}
