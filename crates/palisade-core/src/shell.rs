//! Just enough POSIX shell to read the command lines in Dockerfile `RUN`/`CMD` and Kubernetes
//! `command`/`args`: words with their quoting removed and their byte offset kept, split into simple
//! commands at `;`, `&`, `&&`, `||`, `|` and newlines, with the operator that follows each.
//!
//! This is not an interpreter: it expands nothing. `$(…)`, backquotes and `${…}` stay inside the
//! word that holds them (their text is kept), comments are dropped, and an unterminated quote
//! simply ends the word at the end of input.

/// One word of a command, unquoted, with the byte offset where it starts in the script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    pub text: String,
    pub offset: usize,
}

/// What separates a command from the next one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `|` (and `|&`): the output feeds the next command.
    Pipe,
    /// `&&`, `||`, `;`, `&`, newline, or the end of the script.
    Sequence,
}

/// A simple command: its words and the operator after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub words: Vec<Word>,
    pub then: Op,
}

impl Command {
    /// The program, skipping leading `VAR=value` assignments and wrappers that run another
    /// command (`sudo`, `env`, `exec`, `nohup`, `time`, `command`), as a bare name
    /// (`/usr/bin/curl` → `curl`). Returns the index of the program word too.
    pub fn program(&self) -> Option<(usize, &str)> {
        let mut i = 0;
        while i < self.words.len() {
            let w = &self.words[i].text;
            if is_assignment(w) || w.starts_with('-') && i > 0 {
                i += 1;
                continue;
            }
            let base = w.rsplit('/').next().unwrap_or(w);
            if matches!(
                base,
                "sudo" | "env" | "exec" | "nohup" | "time" | "command" | "doas"
            ) {
                i += 1;
                continue;
            }
            return Some((i, base));
        }
        None
    }

    /// The words' text.
    pub fn texts(&self) -> impl Iterator<Item = &str> {
        self.words.iter().map(|w| w.text.as_str())
    }
}

/// `NAME=value` (a shell assignment prefix).
pub fn is_assignment(w: &str) -> bool {
    match w.split_once('=') {
        Some((name, _)) => {
            !name.is_empty()
                && !name.starts_with(|c: char| c.is_ascii_digit())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        }
        None => false,
    }
}

/// Split `script` into simple commands.
pub fn parse(script: &str) -> Vec<Command> {
    let bytes = script.as_bytes();
    let mut commands = Vec::new();
    let mut words: Vec<Word> = Vec::new();
    let mut cur = String::new();
    let mut start: Option<usize> = None;
    let mut i = 0;

    fn end_word(words: &mut Vec<Word>, cur: &mut String, start: &mut Option<usize>) {
        if let Some(s) = start.take() {
            words.push(Word {
                text: std::mem::take(cur),
                offset: s,
            });
        }
    }
    fn end_command(commands: &mut Vec<Command>, words: &mut Vec<Word>, then: Op) {
        if !words.is_empty() {
            commands.push(Command {
                words: std::mem::take(words),
                then,
            });
        }
    }

    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b' ' | b'\t' | b'\r' => {
                end_word(&mut words, &mut cur, &mut start);
                i += 1;
            }
            b'\n' | b';' => {
                end_word(&mut words, &mut cur, &mut start);
                end_command(&mut commands, &mut words, Op::Sequence);
                i += 1;
            }
            b'&' => {
                end_word(&mut words, &mut cur, &mut start);
                end_command(&mut commands, &mut words, Op::Sequence);
                i += if bytes.get(i + 1) == Some(&b'&') {
                    2
                } else {
                    1
                };
            }
            b'|' => {
                end_word(&mut words, &mut cur, &mut start);
                if bytes.get(i + 1) == Some(&b'|') {
                    end_command(&mut commands, &mut words, Op::Sequence);
                    i += 2;
                } else {
                    end_command(&mut commands, &mut words, Op::Pipe);
                    i += if bytes.get(i + 1) == Some(&b'&') {
                        2
                    } else {
                        1
                    };
                }
            }
            b'#' if start.is_none() => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'\\' => {
                start.get_or_insert(i);
                match script[i + 1..].chars().next() {
                    Some('\n') => i += 2, // line continuation
                    Some(ch) => {
                        cur.push(ch);
                        i += 1 + ch.len_utf8();
                    }
                    None => i += 1,
                }
            }
            b'\'' => {
                start.get_or_insert(i);
                let end = script[i + 1..]
                    .find('\'')
                    .map_or(script.len(), |e| i + 1 + e);
                cur.push_str(&script[i + 1..end]);
                i = end + 1;
            }
            b'"' => {
                start.get_or_insert(i);
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    if bytes[i] == b'\\'
                        && let Some(&n) = bytes.get(i + 1)
                        && matches!(n, b'"' | b'\\' | b'$' | b'`' | b'\n')
                    {
                        if n != b'\n' {
                            cur.push(n as char);
                        }
                        i += 2;
                        continue;
                    }
                    if bytes[i] == b'$' && bytes.get(i + 1) == Some(&b'(') {
                        let end = matching_paren(script, i + 1);
                        cur.push_str(&script[i..end]);
                        i = end;
                        continue;
                    }
                    let ch = script[i..].chars().next().unwrap_or(' ');
                    cur.push(ch);
                    i += ch.len_utf8();
                }
                i += 1;
            }
            b'$' if bytes.get(i + 1) == Some(&b'(') => {
                start.get_or_insert(i);
                let end = matching_paren(script, i + 1);
                cur.push_str(&script[i..end]);
                i = end;
            }
            b'<' | b'>' if bytes.get(i + 1) == Some(&b'(') => {
                // Process substitution `<(curl …)` stays one word.
                start.get_or_insert(i);
                let end = matching_paren(script, i + 1);
                cur.push_str(&script[i..end]);
                i = end;
            }
            _ => {
                start.get_or_insert(i);
                let ch = script[i..].chars().next().unwrap_or(' ');
                cur.push(ch);
                i += ch.len_utf8();
            }
        }
    }
    end_word(&mut words, &mut cur, &mut start);
    end_command(&mut commands, &mut words, Op::Sequence);
    commands
}

/// The index just past the `)` matching the `(` at `open` (or the end of the script).
fn matching_paren(s: &str, open: usize) -> usize {
    let mut depth = 0usize;
    let mut quote: Option<u8> = None;
    for (i, &b) in s.as_bytes().iter().enumerate().skip(open) {
        match (quote, b) {
            (Some(q), _) if b == q => quote = None,
            (Some(_), _) => {}
            (None, b'\'' | b'"') => quote = Some(b),
            (None, b'(') => depth += 1,
            (None, b')') => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
    }
    s.len()
}

/// The script a command hands to a shell (`sh -c 'script'`, `bash -lc "…"`), if it is one.
pub fn shell_c_script(words: &[&str]) -> Option<(usize, String)> {
    let prog = words.first()?;
    let base = prog.rsplit('/').next().unwrap_or(prog);
    if !matches!(base, "sh" | "bash" | "dash" | "zsh" | "ash" | "ksh") {
        return None;
    }
    let mut i = 1;
    while i < words.len() {
        let w = words[i];
        if w.starts_with('-') && !w.starts_with("--") && w.contains('c') {
            return words.get(i + 1).map(|s| (i + 1, s.to_string()));
        }
        if !w.starts_with('-') {
            return None;
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(c: &Command) -> Vec<&str> {
        c.texts().collect()
    }

    #[test]
    fn splits_commands_and_pipes() {
        let cmds = parse("apt-get update && curl -fsSL https://x.sh | sh; echo 'a b' \"c\\\"d\"");
        assert_eq!(cmds.len(), 4);
        assert_eq!(words(&cmds[0]), ["apt-get", "update"]);
        assert_eq!(cmds[1].then, Op::Pipe);
        assert_eq!(words(&cmds[2]), ["sh"]);
        assert_eq!(words(&cmds[3]), ["echo", "a b", "c\"d"]);
        assert_eq!(cmds[1].words[2].offset, 29);
    }

    #[test]
    fn substitutions_stay_in_their_word() {
        let cmds = parse("bash -c \"$(curl -s https://x | tr a b)\" # done");
        assert_eq!(cmds.len(), 1);
        assert_eq!(
            words(&cmds[0]),
            ["bash", "-c", "$(curl -s https://x | tr a b)"]
        );
        let cmds = parse("bash <(wget -qO- https://x)");
        assert_eq!(words(&cmds[0]), ["bash", "<(wget -qO- https://x)"]);
    }

    #[test]
    fn program_skips_wrappers_and_assignments() {
        let c = &parse("DEBIAN_FRONTEND=noninteractive sudo -E /usr/bin/apt-get install x")[0];
        assert_eq!(c.program(), Some((3, "apt-get")));
        assert_eq!(
            shell_c_script(&["/bin/sh", "-ec", "echo hi"]),
            Some((2, "echo hi".to_string()))
        );
        assert_eq!(shell_c_script(&["python", "-c", "x"]), None);
    }

    #[test]
    fn unterminated_quotes_do_not_panic() {
        assert_eq!(parse("echo 'abc").len(), 1);
        assert_eq!(parse("echo \"abc").len(), 1);
        assert_eq!(parse("echo $(abc").len(), 1);
        assert_eq!(parse("echo \\").len(), 1);
    }
}
