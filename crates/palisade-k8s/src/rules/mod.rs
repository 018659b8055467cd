//! The Kubernetes rules, one per file, grouped by family:
//!
//! * [`pss`] — the Pod Security Standards, every baseline and restricted check of policy v1.37,
//!   with `controls` named as pod-security-admission names them;
//! * [`hardening`] — what the standards leave out: read-only root filesystems, resources, images,
//!   host paths, probes, exposure, network policies, RBAC;
//! * [`secrets`] — credentials written into manifests;
//! * [`ml`] — ML servers exposed or started unprotected, model storage, GPU access, model
//!   supply chain (`K8S100`…).
//!
//! A rule is a [`Rule`]: its metadata (code, name, severity, controls, techniques, fix, doc) and
//! one check function over a pod template, a resource, or the whole set of manifests. Checks
//! report through a [`Sink`], which locates the finding, names the resource and container and
//! applies inline and annotation suppressions.

pub mod hardening;
pub mod ml;
pub mod pss;
pub mod secrets;

use crate::load::{Manifests, Resource};
use crate::workload::{Container, PodTemplate};
use crate::yaml::Pos;
use palisade_core::suppress::{InlineIndex, parse_rule_list};
use palisade_core::{Finding, Location, RuleMeta};

/// Annotation that silences rules on a resource: `palisade.dev/ignore: "K8S001,K8S020 -- why"`.
pub const IGNORE_ANNOTATION: &str = "palisade.dev/ignore";

/// What a rule inspects.
pub enum Check {
    /// Each pod template (workloads, ML custom resources).
    Pod(fn(&PodTemplate, &mut Sink)),
    /// Each resource.
    Resource(fn(&Resource, &mut Sink)),
    /// The manifests as a whole (relations between resources), with every pod template.
    Manifests(fn(&Manifests, &[PodTemplate], &mut Sink)),
}

pub struct Rule {
    pub meta: RuleMeta,
    pub check: Check,
}

/// Every Kubernetes rule, in code order.
pub fn all() -> Vec<&'static Rule> {
    let mut v: Vec<&'static Rule> = Vec::new();
    v.extend_from_slice(pss::RULES);
    v.extend_from_slice(hardening::RULES);
    v.extend_from_slice(secrets::RULES);
    v.extend_from_slice(ml::RULES);
    v.sort_by_key(|r| r.meta.code);
    v
}

/// Where findings go: it turns positions into paths, names resources and containers, and drops
/// what inline comments or annotations silence.
pub struct Sink<'m> {
    manifests: &'m Manifests,
    indexes: &'m [InlineIndex<'m>],
    rule: &'static RuleMeta,
    pub findings: Vec<Finding>,
    pub suppressed: usize,
}

impl<'m> Sink<'m> {
    pub fn new(
        manifests: &'m Manifests,
        indexes: &'m [InlineIndex<'m>],
        rule: &'static RuleMeta,
    ) -> Self {
        Sink {
            manifests,
            indexes,
            rule,
            findings: Vec::new(),
            suppressed: 0,
        }
    }

    fn annotation_silences(&self, value: Option<&str>) -> bool {
        value.is_some_and(|v| parse_rule_list(v).covers(self.rule.code, self.rule.name))
    }

    /// Report a finding about `resource` at `pos`; returns it for adjustment, or None when
    /// suppressed.
    pub fn report(
        &mut self,
        resource: &Resource,
        pos: Pos,
        message: impl Into<String>,
    ) -> Option<&mut Finding> {
        self.report_in(resource, None, pos, message)
    }

    fn report_in(
        &mut self,
        resource: &Resource,
        template_annotation: Option<&str>,
        pos: Pos,
        message: impl Into<String>,
    ) -> Option<&mut Finding> {
        let rule = self.rule;
        if self.annotation_silences(resource.annotation(IGNORE_ANNOTATION))
            || self.annotation_silences(template_annotation)
        {
            self.suppressed += 1;
            return None;
        }
        if let Some(idx) = self.indexes.get(pos.file as usize)
            && idx.suppresses(
                rule.code,
                rule.name,
                pos.line as usize,
                (resource.pos().file == pos.file).then_some(resource.pos().line as usize),
            )
        {
            self.suppressed += 1;
            return None;
        }
        let loc = Location::new(
            self.manifests.path_of(pos.file),
            pos.line as usize,
            pos.col as usize,
        );
        self.findings
            .push(Finding::new(rule, loc, message).with_resource(resource.id()));
        self.findings.last_mut()
    }

    /// Report about a pod template (its role prefixes the message).
    pub fn pod(
        &mut self,
        t: &PodTemplate,
        pos: Pos,
        message: impl AsRef<str>,
    ) -> Option<&mut Finding> {
        let msg = match &t.role {
            Some(role) => format!("{role}: {}", message.as_ref()),
            None => message.as_ref().to_string(),
        };
        let ann = t.annotation(IGNORE_ANNOTATION).map(str::to_string);
        self.report_in(t.resource, ann.as_deref(), pos, msg)
    }

    /// Report about one container: the message starts with "container 'name'".
    pub fn container(
        &mut self,
        t: &PodTemplate,
        c: &Container,
        pos: Pos,
        message: impl AsRef<str>,
    ) -> Option<&mut Finding> {
        let msg = format!("{} '{}' {}", c.kind.label(), c.name, message.as_ref());
        let name = c.name.clone();
        let finding = self.pod(t, pos, msg)?;
        finding.container = Some(name);
        Some(finding)
    }
}

/// Run `rules` over the manifests.
pub fn run(manifests: &Manifests, rules: &[&'static Rule]) -> (Vec<Finding>, usize) {
    let indexes: Vec<InlineIndex> = manifests
        .files
        .iter()
        .map(|f| InlineIndex::new(&f.text))
        .collect();
    let templates: Vec<PodTemplate> = manifests
        .resources
        .iter()
        .flat_map(|r| crate::workload::pod_templates(manifests, r))
        .collect();
    let mut findings = Vec::new();
    let mut suppressed = 0;
    for rule in rules {
        let mut sink = Sink::new(manifests, &indexes, &rule.meta);
        match rule.check {
            Check::Pod(f) => templates.iter().for_each(|t| f(t, &mut sink)),
            Check::Resource(f) => manifests.resources.iter().for_each(|r| f(r, &mut sink)),
            Check::Manifests(f) => f(manifests, &templates, &mut sink),
        }
        findings.append(&mut sink.findings);
        suppressed += sink.suppressed;
    }
    (findings, suppressed)
}
