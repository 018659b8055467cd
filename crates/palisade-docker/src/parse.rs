//! The Dockerfile syntax, as BuildKit's Dockerfile frontend reads it: parser directives
//! (`# syntax=`, `# escape=`, `# check=`) at the top, comments, line continuations with the
//! escape character (and the comment and blank lines BuildKit drops inside them), instructions
//! with their `--flags`, exec (JSON) and shell forms, and heredocs (`RUN <<EOF`, `<<-EOF`,
//! quoted delimiters, several per instruction).
//!
//! Every instruction remembers the physical line and column of each piece of its logical line,
//! so a finding about one word of a continued `RUN` points at the line that word is on.

/// A parse problem, with the line it is on. Parsing goes on after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// A `--name=value` flag of an instruction (`--mount=…`, `--chown=…`, `--checksum=…`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    pub name: String,
    /// None for a bare `--link`.
    pub value: Option<String>,
    /// Offset of the flag in the instruction's `text`.
    pub offset: usize,
}

/// A heredoc body (`RUN <<EOF … EOF`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    pub delimiter: String,
    pub body: String,
    /// Physical line of the body's first line.
    pub line: usize,
    /// `<<-`: leading tabs are stripped.
    pub strip_tabs: bool,
}

/// Exec form (`["a", "b"]`) or shell form (`a b`) of an instruction's arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Form {
    Exec(Vec<String>),
    Shell(String),
}

/// One instruction.
#[derive(Debug, Clone)]
pub struct Instruction {
    /// Upper-case keyword (`RUN`, `FROM`, …).
    pub keyword: String,
    /// The logical line: continuation lines joined (escape + newline removed), comment lines
    /// inside the continuation dropped.
    pub text: String,
    pub flags: Vec<Flag>,
    /// Offset in `text` where the arguments (after keyword and flags) start.
    pub args_offset: usize,
    pub heredocs: Vec<Heredoc>,
    /// (offset in `text`, physical line, column) for each physical piece of `text`.
    segments: Vec<(usize, usize, usize)>,
}

impl Instruction {
    /// The arguments after the keyword and flags.
    pub fn args(&self) -> &str {
        &self.text[self.args_offset..]
    }

    /// Physical line of the keyword.
    pub fn line(&self) -> usize {
        self.segments[0].1
    }

    /// Line and column (1-based) of byte `offset` in `text`.
    pub fn pos(&self, offset: usize) -> (usize, usize) {
        let i = self
            .segments
            .partition_point(|s| s.0 <= offset)
            .saturating_sub(1);
        let (start, line, col) = self.segments[i];
        (line, col + offset.saturating_sub(start))
    }

    /// Line and column of the arguments.
    pub fn args_pos(&self) -> (usize, usize) {
        let lead = self.args().len() - self.args().trim_start().len();
        self.pos(self.args_offset + lead)
    }

    pub fn flag(&self, name: &str) -> Option<&Flag> {
        self.flags.iter().find(|f| f.name == name)
    }

    /// Exec or shell form of the arguments.
    pub fn form(&self) -> Form {
        let a = self.args().trim();
        if a.starts_with('[')
            && let Ok(v) = serde_json::from_str::<Vec<String>>(a)
        {
            return Form::Exec(v);
        }
        Form::Shell(a.to_string())
    }
}

/// A parsed Dockerfile.
#[derive(Debug, Default)]
pub struct Dockerfile {
    /// Parser directives (`syntax`, `escape`, `check`), lower-case names.
    pub directives: Vec<(String, String)>,
    pub escape: char,
    pub instructions: Vec<Instruction>,
    pub errors: Vec<ParseError>,
}

impl Dockerfile {
    pub fn directive(&self, name: &str) -> Option<&str> {
        self.directives
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Every instruction keyword BuildKit knows.
pub const KEYWORDS: &[&str] = &[
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

fn directive(line: &str) -> Option<(String, String)> {
    let rest = line.trim_start().strip_prefix('#')?;
    let (name, value) = rest.split_once('=')?;
    let name = name.trim();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric()) || name.contains(' ') {
        return None;
    }
    Some((name.to_ascii_lowercase(), value.trim().to_string()))
}

fn is_comment(line: &str) -> bool {
    line.trim_start().starts_with('#')
}

/// Whether a physical line ends with the escape character (a continuation).
fn continues(line: &str, escape: char) -> Option<&str> {
    let t = line.trim_end();
    t.strip_suffix(escape)
}

/// Heredoc delimiters named on an instruction line: `<<EOF`, `<<-EOF`, `<<"EOF"`, `<<'EOF'`.
fn heredoc_markers(args: &str) -> Vec<(String, bool)> {
    let b = args.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut quote: Option<u8> = None;
    while i + 1 < b.len() {
        match (quote, b[i]) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, b'\'' | b'"') => quote = Some(b[i]),
            (None, b'<') if b[i + 1] == b'<' && b.get(i + 2) != Some(&b'<') => {
                let mut j = i + 2;
                let strip = b.get(j) == Some(&b'-');
                if strip {
                    j += 1;
                }
                let q = b.get(j).copied().filter(|c| *c == b'"' || *c == b'\'');
                if q.is_some() {
                    j += 1;
                }
                let start = j;
                while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                    j += 1;
                }
                if j > start && !b[start].is_ascii_digit() {
                    out.push((args[start..j].to_string(), strip));
                    if q.is_some() && b.get(j) == q.as_ref() {
                        j += 1;
                    }
                    i = j;
                    continue;
                }
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// Parse a Dockerfile. Never fails: problems are collected in `errors`.
pub fn parse(source: &str) -> Dockerfile {
    let lines: Vec<&str> = source
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let mut df = Dockerfile {
        escape: '\\',
        ..Dockerfile::default()
    };
    let mut i = 0;
    // Parser directives: only at the very top, before any blank line, comment or instruction.
    while i < lines.len() {
        match directive(lines[i]) {
            Some((name, value)) if !df.directives.iter().any(|(n, _)| *n == name) => {
                if name == "escape" {
                    match value.as_str() {
                        "\\" => df.escape = '\\',
                        "`" => df.escape = '`',
                        other => df.errors.push(ParseError {
                            line: i + 1,
                            column: 1,
                            message: format!(
                                "invalid escape directive '{other}' (must be \\ or `)"
                            ),
                        }),
                    }
                }
                df.directives.push((name, value));
                i += 1;
            }
            _ => break,
        }
    }
    while i < lines.len() {
        let raw = lines[i];
        if raw.trim().is_empty() || is_comment(raw) {
            i += 1;
            continue;
        }
        // Gather the logical line.
        let mut text = String::new();
        let mut segments = Vec::new();
        let mut cur = raw;
        let mut line_no = i;
        loop {
            let lead = cur.len() - cur.trim_start().len();
            let piece = if segments.is_empty() {
                &cur[lead..]
            } else {
                cur
            };
            let col = if segments.is_empty() { lead + 1 } else { 1 };
            match continues(piece, df.escape) {
                Some(body) => {
                    segments.push((text.len(), line_no + 1, col));
                    text.push_str(body);
                    // Skip the comment and blank lines BuildKit drops inside a continuation.
                    let mut next = line_no + 1;
                    while next < lines.len()
                        && (is_comment(lines[next]) || lines[next].trim().is_empty())
                    {
                        next += 1;
                    }
                    if next >= lines.len() {
                        line_no = next - 1;
                        break;
                    }
                    line_no = next;
                    cur = lines[next];
                }
                None => {
                    segments.push((text.len(), line_no + 1, col));
                    text.push_str(piece);
                    break;
                }
            }
        }
        i = line_no + 1;
        let kw_end = text.find(|c: char| c.is_whitespace()).unwrap_or(text.len());
        let keyword = text[..kw_end].to_ascii_uppercase();
        let (line, column) = (segments[0].1, segments[0].2);
        if !KEYWORDS.contains(&keyword.as_str()) {
            df.errors.push(ParseError {
                line,
                column,
                message: format!("unknown instruction '{}'", &text[..kw_end]),
            });
            continue;
        }
        let mut inst = Instruction {
            keyword,
            text,
            flags: Vec::new(),
            args_offset: kw_end,
            heredocs: Vec::new(),
            segments,
        };
        read_flags(&mut inst);
        // Heredocs: their bodies follow the instruction line.
        if matches!(inst.keyword.as_str(), "RUN" | "COPY" | "ADD")
            && !matches!(inst.form(), Form::Exec(_))
        {
            for (delimiter, strip_tabs) in heredoc_markers(inst.args()) {
                let start = i;
                let mut body = String::new();
                let mut closed = false;
                while i < lines.len() {
                    let l = lines[i];
                    i += 1;
                    let cmp = if strip_tabs {
                        l.trim_start_matches('\t')
                    } else {
                        l
                    };
                    if cmp == delimiter {
                        closed = true;
                        break;
                    }
                    body.push_str(cmp);
                    body.push('\n');
                }
                if !closed {
                    df.errors.push(ParseError {
                        line: inst.line(),
                        column: 1,
                        message: format!("heredoc '{delimiter}' is never closed"),
                    });
                }
                inst.heredocs.push(Heredoc {
                    delimiter,
                    body,
                    line: start + 1,
                    strip_tabs,
                });
            }
        }
        df.instructions.push(inst);
    }
    df
}

/// Move leading `--name[=value]` words of the arguments into `flags`.
fn read_flags(inst: &mut Instruction) {
    if !matches!(
        inst.keyword.as_str(),
        "FROM" | "RUN" | "COPY" | "ADD" | "HEALTHCHECK"
    ) {
        return;
    }
    loop {
        let args = inst.args();
        let trimmed = args.trim_start();
        if !trimmed.starts_with("--") {
            return;
        }
        let offset = inst.args_offset + (args.len() - trimmed.len());
        let end = flag_end(trimmed);
        let word = &trimmed[2..end];
        let (name, value) = match word.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(unquote(v))),
            None => (word.to_string(), None),
        };
        inst.flags.push(Flag {
            name,
            value,
            offset,
        });
        inst.args_offset = offset + end;
    }
}

/// The end of a flag word, allowing quoted parts (`--mount="type=secret,id=a b"`).
fn flag_end(s: &str) -> usize {
    let mut quote: Option<char> = None;
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, c) if c.is_whitespace() => return i,
            _ => {}
        }
    }
    s.len()
}

fn unquote(v: &str) -> String {
    let v = v.trim();
    if v.len() >= 2
        && (v.starts_with('"') && v.ends_with('"') || v.starts_with('\'') && v.ends_with('\''))
    {
        v[1..v.len() - 1].to_string()
    } else {
        v.to_string()
    }
}

/// Split `KEY=value KEY2="v 2"` (or legacy `KEY value`) into pairs, with the offset of each
/// value within `args`. Used for `ENV`, `ARG` and `LABEL`.
pub fn key_values(args: &str, legacy_space_form: bool) -> Vec<(String, Option<String>, usize)> {
    let trimmed = args.trim_start();
    let base = args.len() - trimmed.len();
    let first_word_end = trimmed.find(char::is_whitespace).unwrap_or(trimmed.len());
    if legacy_space_form && !trimmed[..first_word_end].contains('=') {
        let rest = &trimmed[first_word_end..];
        let v = rest.trim_start();
        if !v.is_empty() {
            let off = base + first_word_end + (rest.len() - v.len());
            return vec![(
                trimmed[..first_word_end].to_string(),
                Some(v.trim_end().to_string()),
                off,
            )];
        }
    }
    let mut out = Vec::new();
    let mut i = 0;
    let b = trimmed.as_bytes();
    while i < b.len() {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let start = i;
        let end = start + flag_end(&trimmed[start..]);
        let word = &trimmed[start..end];
        match word.split_once('=') {
            Some((k, v)) => out.push((unquote(k), Some(unquote(v)), base + start + k.len() + 1)),
            None => out.push((word.to_string(), None, base + start)),
        }
        i = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuations_comments_and_positions() {
        let df = parse(
            "# syntax=docker/dockerfile:1\n\nFROM python:3.11 AS base\nRUN apt-get update \\\n# a comment inside\n\n    && curl -k https://x \\\n    | sh\n",
        );
        assert!(df.errors.is_empty(), "{:?}", df.errors);
        assert_eq!(df.directive("syntax"), Some("docker/dockerfile:1"));
        assert_eq!(df.instructions.len(), 2);
        let run = &df.instructions[1];
        assert_eq!(run.keyword, "RUN");
        assert_eq!(run.line(), 4);
        let k = run.text.find("-k").unwrap();
        assert_eq!(run.pos(k), (7, 13));
        let sh = run.text.rfind("sh").unwrap();
        assert_eq!(run.pos(sh).0, 8);
    }

    #[test]
    fn escape_directive_backtick() {
        let df =
            parse("# escape=`\nFROM mcr.microsoft.com/windows\nRUN dir C:\\ `\n  && echo hi\n");
        assert_eq!(df.escape, '`');
        assert_eq!(df.instructions.len(), 2);
        assert_eq!(df.instructions[1].args().trim(), "dir C:\\   && echo hi");
    }

    #[test]
    fn directive_after_comment_is_a_comment() {
        let df = parse("# hello\n# escape=`\nFROM x\n");
        assert!(df.directives.is_empty());
        assert_eq!(df.escape, '\\');
    }

    #[test]
    fn flags_forms_and_heredocs() {
        let df = parse(
            "FROM --platform=$BUILDPLATFORM golang AS b\nRUN --mount=type=cache,target=/root/.cache --network=none <<EOF\nset -e\ncurl https://x | sh\nEOF\nCOPY --chown=1000:1000 --chmod=755 <<-'A' /a\n\tbody\n\tA\nCMD [\"python\", \"app.py\"]\nADD --checksum=sha256:abc https://x/y.tar /y\n",
        );
        assert!(df.errors.is_empty(), "{:?}", df.errors);
        let i = &df.instructions;
        assert_eq!(
            i[0].flag("platform").unwrap().value.as_deref(),
            Some("$BUILDPLATFORM")
        );
        assert_eq!(i[0].args().trim(), "golang AS b");
        assert_eq!(i[1].flags.len(), 2);
        assert_eq!(i[1].heredocs[0].body, "set -e\ncurl https://x | sh\n");
        assert_eq!(i[1].heredocs[0].line, 3);
        assert_eq!(i[2].keyword, "COPY");
        assert_eq!(i[2].heredocs[0].body, "body\n");
        assert_eq!(
            i[3].form(),
            Form::Exec(vec!["python".into(), "app.py".into()])
        );
        assert_eq!(i[3].line(), 9);
        assert!(i[4].flag("checksum").is_some());
    }

    #[test]
    fn unknown_instruction_and_unclosed_heredoc_are_errors() {
        let df = parse("FROM x\nFORM y\nRUN <<EOF\necho\n");
        assert_eq!(df.errors.len(), 2);
        assert_eq!(df.errors[0].line, 2);
        assert_eq!(df.instructions.len(), 2);
    }

    #[test]
    fn env_forms() {
        assert_eq!(
            key_values(" A=1 B=\"two words\"", true),
            vec![
                ("A".into(), Some("1".into()), 3),
                ("B".into(), Some("two words".into()), 7)
            ]
        );
        assert_eq!(
            key_values(" PATH /usr/bin:/bin", true),
            vec![("PATH".into(), Some("/usr/bin:/bin".into()), 6)]
        );
        assert_eq!(
            key_values(" VERSION", false),
            vec![("VERSION".into(), None, 1)]
        );
    }
}
