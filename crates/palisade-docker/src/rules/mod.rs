//! The Dockerfile rules, one per file (`DF001`…), and what they share: the [`Sink`] that
//! locates and suppresses findings, the shell scripts of `RUN` instructions with their
//! positions ([`scripts`]), and the start command of a stage ([`start_command`]).

mod add_remote_without_checksum;
mod base_image_mutable_tag;
mod base_image_not_pinned;
mod credential_in_build;
mod download_piped_to_shell;
mod full_os_base;
mod insecure_ml_server;
mod key_material_copied;
mod missing_healthcheck;
mod package_trust_bypass;
mod root_user;
mod ssh_port_exposed;
mod sudo_used;
mod trust_remote_code;
mod world_writable;

use crate::parse::{Form, Instruction};
use crate::stage::{Build, Stage};
use palisade_core::shell::{self, Command};
use palisade_core::suppress::InlineIndex;
use palisade_core::{Finding, Location, RuleMeta};

/// A Dockerfile rule: metadata and one check over a resolved build.
pub struct Rule {
    pub meta: RuleMeta,
    pub check: fn(&Build, &mut Sink),
}

/// Every Dockerfile rule, in code order.
pub fn all() -> Vec<&'static Rule> {
    let mut v: Vec<&'static Rule> = vec![
        &root_user::RULE,
        &full_os_base::RULE,
        &base_image_mutable_tag::RULE,
        &base_image_not_pinned::RULE,
        &add_remote_without_checksum::RULE,
        &download_piped_to_shell::RULE,
        &credential_in_build::RULE,
        &key_material_copied::RULE,
        &package_trust_bypass::RULE,
        &sudo_used::RULE,
        &ssh_port_exposed::RULE,
        &world_writable::RULE,
        &missing_healthcheck::RULE,
        &insecure_ml_server::RULE,
        &trust_remote_code::RULE,
    ];
    v.sort_by_key(|r| r.meta.code);
    v
}

/// Where a rule's findings go: it names the file and stage and applies inline
/// `# palisade:ignore` comments (on the line, above it, or above the stage's `FROM`).
pub struct Sink<'a> {
    path: &'a str,
    index: &'a InlineIndex<'a>,
    build: &'a Build,
    rule: &'static RuleMeta,
    pub findings: Vec<Finding>,
    pub suppressed: usize,
}

impl<'a> Sink<'a> {
    pub fn new(
        path: &'a str,
        index: &'a InlineIndex<'a>,
        build: &'a Build,
        rule: &'static RuleMeta,
    ) -> Self {
        Sink {
            path,
            index,
            build,
            rule,
            findings: Vec::new(),
            suppressed: 0,
        }
    }

    /// Report at a line and column, about a stage.
    pub fn at(
        &mut self,
        stage: &Stage,
        (line, column): (usize, usize),
        message: impl Into<String>,
    ) -> Option<&mut Finding> {
        let from_line = self.build.file.instructions[stage.from].line();
        if self
            .index
            .suppresses(self.rule.code, self.rule.name, line, Some(from_line))
        {
            self.suppressed += 1;
            return None;
        }
        let loc = Location::new(self.path, line, column);
        self.findings
            .push(Finding::new(self.rule, loc, message).with_resource(stage.id()));
        self.findings.last_mut()
    }

    /// Report at byte `offset` of an instruction's text.
    pub fn inst(
        &mut self,
        stage: &Stage,
        inst: &Instruction,
        offset: usize,
        message: impl Into<String>,
    ) -> Option<&mut Finding> {
        self.at(stage, inst.pos(offset), message)
    }
}

/// A shell script a `RUN` runs, with where it lies in the file.
pub struct Script<'a> {
    pub inst: &'a Instruction,
    pub text: String,
    /// Shell form: offset of the script in the instruction's text. Heredoc: None.
    args_offset: Option<usize>,
    /// Heredoc: first body line.
    heredoc_line: usize,
}

impl Script<'_> {
    /// Line and column of byte `offset` of the script.
    pub fn pos(&self, offset: usize) -> (usize, usize) {
        match self.args_offset {
            Some(base) => self.inst.pos(base + offset),
            None => {
                let before = &self.text[..offset.min(self.text.len())];
                let line = before.matches('\n').count();
                let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                (self.heredoc_line + line, col)
            }
        }
    }

    /// The script's simple commands, each command's `sh -c` scripts included.
    pub fn commands(&self) -> Vec<Command> {
        let mut out = Vec::new();
        for c in shell::parse(&self.text) {
            let texts: Vec<&str> = c.texts().collect();
            if let Some((k, inner)) = shell::shell_c_script(&texts) {
                // Offsets inside the inner script are approximated by the -c word's offset.
                let at = c.words[k].offset;
                for mut ic in shell::parse(&inner) {
                    for w in &mut ic.words {
                        w.offset = at;
                    }
                    out.push(ic);
                }
            }
            out.push(c);
        }
        out
    }
}

/// The shell scripts of a `RUN` instruction: its shell-form command line, and each heredoc
/// that a shell runs (`RUN <<EOF`, `RUN bash <<EOF`, or a body starting with a shell shebang).
pub fn scripts(inst: &Instruction) -> Vec<Script<'_>> {
    let mut out = Vec::new();
    if inst.keyword != "RUN" {
        return out;
    }
    match inst.form() {
        Form::Exec(words) => {
            let refs: Vec<&str> = words.iter().map(String::as_str).collect();
            if let Some((_, s)) = shell::shell_c_script(&refs) {
                out.push(Script {
                    inst,
                    text: s,
                    args_offset: Some(inst.args_offset),
                    heredoc_line: 0,
                });
            }
        }
        Form::Shell(_) => {
            let args = inst.args();
            out.push(Script {
                inst,
                text: args.to_string(),
                args_offset: Some(inst.args_offset),
                heredoc_line: 0,
            });
            let runner = args.split_whitespace().next().unwrap_or("");
            let shell_runner = runner.starts_with("<<")
                || matches!(
                    runner.rsplit('/').next().unwrap_or(""),
                    "sh" | "bash" | "dash" | "ash" | "zsh"
                );
            for h in &inst.heredocs {
                let shebang = h.body.lines().next().unwrap_or("");
                let is_shell = if shebang.starts_with("#!") {
                    ["sh", "bash", "dash", "ash", "zsh"].iter().any(|s| {
                        shebang.ends_with(&format!("/{s}")) || shebang.ends_with(&format!(" {s}"))
                    })
                } else {
                    shell_runner
                };
                if is_shell {
                    out.push(Script {
                        inst,
                        text: h.body.clone(),
                        args_offset: None,
                        heredoc_line: h.line,
                    });
                }
            }
        }
    }
    out
}

/// Every `RUN` script of a stage's own instructions.
pub fn stage_scripts<'b>(build: &'b Build, stage: &Stage) -> Vec<Script<'b>> {
    build.body(stage).flat_map(|(_, i)| scripts(i)).collect()
}

/// One word of a start command, with the instruction it is written in and its offset there.
pub struct StartWord<'a> {
    pub text: String,
    pub inst: &'a Instruction,
    pub offset: usize,
}

/// The command a container of this stage starts with: the effective `ENTRYPOINT` followed by
/// the effective `CMD` (a new `ENTRYPOINT` resets an inherited `CMD`), as words. Shell forms
/// run under `/bin/sh -c`; their words are the script's words.
pub fn start_command<'b>(build: &'b Build, stage: &Stage) -> Vec<StartWord<'b>> {
    let mut entry: Option<&Instruction> = None;
    let mut cmd: Option<&Instruction> = None;
    for st in build.lineage(stage).into_iter().rev() {
        for (_, i) in build.body(st) {
            match i.keyword.as_str() {
                "ENTRYPOINT" => {
                    entry = Some(i);
                    cmd = None;
                }
                "CMD" => cmd = Some(i),
                _ => {}
            }
        }
    }
    let mut out = Vec::new();
    for inst in [entry, cmd].into_iter().flatten() {
        out.extend(words_of(inst));
    }
    out
}

/// The words of a `CMD`/`ENTRYPOINT`, exec or shell form, with their offsets.
fn words_of(inst: &Instruction) -> Vec<StartWord<'_>> {
    match inst.form() {
        Form::Exec(words) => {
            let offsets = json_string_offsets(inst.args());
            words
                .into_iter()
                .enumerate()
                .map(|(k, text)| StartWord {
                    text,
                    inst,
                    offset: inst.args_offset + offsets.get(k).copied().unwrap_or(0),
                })
                .collect()
        }
        Form::Shell(_) => shell::parse(inst.args())
            .into_iter()
            .flat_map(|c| c.words)
            .map(|w| StartWord {
                text: w.text,
                inst,
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

/// Whether a path names key material or a credentials file.
pub(crate) fn is_key_material(path: &str) -> Option<&'static str> {
    let p = path.trim_end_matches('/');
    let name = p.rsplit('/').next().unwrap_or(p).to_ascii_lowercase();
    let lower = p.to_ascii_lowercase();
    if name == ".env"
        || name.starts_with(".env.")
            && !name.ends_with(".example")
            && !name.ends_with(".sample")
            && !name.ends_with(".template")
    {
        return Some("an environment file (.env)");
    }
    if matches!(
        name.as_str(),
        "id_rsa" | "id_dsa" | "id_ecdsa" | "id_ed25519" | ".ssh"
    ) {
        return Some("an SSH private key");
    }
    if name.ends_with(".pem")
        || name.ends_with(".key")
        || name.ends_with(".p12")
        || name.ends_with(".pfx")
        || name.ends_with(".jks")
    {
        return Some("a private key or certificate bundle");
    }
    if lower.ends_with(".aws/credentials")
        || name == ".aws"
        || name == "application_default_credentials.json"
        || name == "credentials.json"
        || name.starts_with("service-account") && name.ends_with(".json")
        || name.starts_with("service_account") && name.ends_with(".json")
        || name == "gcp-key.json"
        || lower.ends_with(".azure/credentials")
    {
        return Some("cloud credentials");
    }
    if matches!(
        name.as_str(),
        ".netrc" | ".npmrc" | ".pypirc" | ".git-credentials" | "kubeconfig" | ".dockercfg"
    ) || lower.ends_with(".kube/config")
        || lower.ends_with(".docker/config.json")
        || lower.ends_with(".huggingface/token")
        || lower.ends_with("huggingface/token")
    {
        return Some("a credentials file");
    }
    None
}

#[cfg(test)]
mod tests;

/// The stages whose `FROM` names a registry image (not `scratch`, not an earlier stage, not an
/// unresolved build argument), with their `FROM` instruction.
pub(crate) fn external_bases(b: &Build) -> impl Iterator<Item = (&Stage, &Instruction)> {
    b.stages
        .iter()
        .filter(|s| s.has_external_base())
        .map(|s| (s, &b.file.instructions[s.from]))
}

/// "FROM python (from build argument PY)" when the base came from an `ARG`.
pub(crate) fn base_shown(s: &Stage) -> String {
    if s.base_raw != s.base {
        format!("{} (from {})", s.base, s.base_raw)
    } else {
        s.base.clone()
    }
}

/// How the final stage's container starts, as an ML launch: base image, start command, `ENV`.
pub(crate) struct StageLaunch<'b> {
    pub words: Vec<StartWord<'b>>,
    pub env: Vec<(String, String, usize, usize)>,
    pub image: Option<String>,
}

impl<'b> StageLaunch<'b> {
    pub fn of(b: &'b Build, stage: &Stage) -> Self {
        let root = b.root_base(stage);
        StageLaunch {
            words: start_command(b, stage),
            env: b.env(stage),
            image: root.has_external_base().then(|| root.base.clone()),
        }
    }

    pub fn launch(&self) -> palisade_core::ml::Launch<'_> {
        palisade_core::ml::Launch {
            image: self.image.as_deref(),
            argv: self.words.iter().map(|w| w.text.clone()).collect(),
            env: self
                .env
                .iter()
                .map(|(n, v, _, _)| (n.as_str(), v.as_str()))
                .collect(),
        }
    }

    /// Where an option found by the `ml` module is written: its word, or its `ENV`.
    pub fn locate(
        &self,
        b: &Build,
        opt: &palisade_core::ml::InsecureOption,
    ) -> Option<(usize, usize)> {
        if let Some(i) = opt.arg {
            let w = self.words.get(i)?;
            return Some(w.inst.pos(w.offset));
        }
        let name = opt.env.as_deref()?;
        let (_, _, k, off) = self.env.iter().rev().find(|e| e.0 == name)?;
        Some(b.file.instructions[*k].pos(*off))
    }
}
