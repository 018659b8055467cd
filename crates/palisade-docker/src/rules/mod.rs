//! The Dockerfile rules, one per file (`DF001`…), and what they share: the [`Sink`] that
//! locates and suppresses findings, and the start command of a stage ([`start_command`]).
//! `RUN` commands come from [`Build::run_commands`](crate::stage::Build::run_commands).

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

use crate::parse::Instruction;
use crate::script::{RunCommand, arg_words};
use crate::stage::{Build, Stage};
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

    /// Report at the `k`-th word of a `RUN` command.
    pub fn run(
        &mut self,
        rc: &RunCommand,
        k: usize,
        message: impl Into<String>,
    ) -> Option<&mut Finding> {
        let build = self.build;
        let pos = rc.word_pos(&build.file.instructions[rc.inst], k);
        self.at(&build.stages[rc.stage], pos, message)
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
    [entry, cmd]
        .into_iter()
        .flatten()
        .flat_map(|inst| {
            arg_words(inst).into_iter().map(move |w| StartWord {
                text: w.text,
                inst,
                offset: w.offset,
            })
        })
        .collect()
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

/// How the final stage's container starts, as an ML launch: base image, start command, `ENV`,
/// with where each word and variable is written.
pub(crate) struct StageLaunch<'b> {
    words: Vec<StartWord<'b>>,
    /// (name, value, instruction index, offset of the value).
    env: Vec<(String, String, usize, usize)>,
    pub launch: palisade_core::ml::Launch,
}

impl<'b> StageLaunch<'b> {
    pub fn of(b: &'b Build, stage: &Stage) -> Self {
        let root = b.root_base(stage);
        let words = start_command(b, stage);
        let env = b.env(stage);
        let launch = palisade_core::ml::Launch {
            image: root.has_external_base().then(|| root.base.clone()),
            argv: words.iter().map(|w| w.text.clone()).collect(),
            env: env
                .iter()
                .map(|(n, v, _, _)| (n.clone(), v.clone()))
                .collect(),
        };
        StageLaunch { words, env, launch }
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
