//! Runs a playbook on an incident: step by step, each action recorded with its evidence in the
//! hash chain, stopping at approval gates, refusing to call an incident recovered until a
//! `verify` step has passed after the last change to what runs.
//!
//! Progress lives in the incident ([`crate::incident::Response`]), so a run stopped at a gate,
//! by a failure or by a crash goes on where it stopped: `next_step` moves only when a step's
//! record is committed, and every action is idempotent, so re-running a step whose record was
//! lost does no harm.

use crate::actions::{Action, CHANGES_WORKLOAD, Scope, Status};
use crate::engine::Engine;
use crate::incident::{ActionRecord, Approval, Incident, Pending, Phase, Response};
use crate::playbook::{Playbook, StepKind, expand_action};
use crate::store::{Kind, Store};
use kube::Client;
use palisade_core::time::Timestamp;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

/// The engine, locked only for each read or record, never across an action: ingest goes on
/// while a playbook waits on the cluster.
fn lock(engine: &Mutex<Engine>) -> Result<MutexGuard<'_, Engine>, String> {
    engine
        .lock()
        .map_err(|_| "the engine lock is poisoned (an earlier panic)".to_string())
}

/// How approval gates are passed.
#[derive(Debug, Clone, PartialEq)]
pub enum Gates {
    /// Stop at each gate until someone approves ([`approve`]).
    Stop,
    /// Approve every gate as this actor (drills; `--approve-all`).
    ApproveAs(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Every step ran.
    Completed,
    /// Waiting for approval of this step.
    WaitingForApproval { step: usize, what: String },
    /// A step failed; the run stops there (and resumes there).
    Failed { step: usize, error: String },
}

/// The variables a playbook's strings may use, for this incident.
pub fn variables(inc: &Incident, extra: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let first =
        |s: &std::collections::BTreeSet<String>| s.iter().next().cloned().unwrap_or_default();
    let mut v = BTreeMap::from([
        ("incident".to_string(), inc.id.clone()),
        ("namespace".to_string(), first(&inc.blast.namespaces)),
        ("workload".to_string(), first(&inc.blast.workloads)),
        ("model".to_string(), first(&inc.blast.models)),
        ("tenant".to_string(), first(&inc.blast.tenants)),
    ]);
    v.extend(extra.iter().map(|(k, x)| (k.clone(), x.clone())));
    v
}

/// The steps as a person would run them by hand: what each does, behind which gate, and the
/// equivalent `kubectl` commands. Changes nothing.
pub fn plan(book: &Playbook, inc: &Incident, extra: &BTreeMap<String, String>) -> Vec<String> {
    let scope = Scope::of(inc);
    let vars = variables(inc, extra);
    let mut out = vec![format!(
        "# playbook {} for {} ({})",
        book.name, inc.id, book.origin
    )];
    for (i, step) in book.steps.iter().enumerate() {
        let gate = if step.approval {
            "  [approval required]"
        } else {
            ""
        };
        let done =
            if i < inc.response.next_step && inc.response.playbook.as_deref() == Some(&book.name) {
                "  (done)"
            } else {
                ""
            };
        out.push(format!("# step {}: {}{gate}{done}", i + 1, step.describe()));
        match &step.kind {
            StepKind::Action(a) => {
                let cmds = expand_action(a, &vars).kubectl(&scope);
                if cmds.is_empty() {
                    out.push("#   (nothing in scope for this action)".into());
                }
                out.extend(cmds);
            }
            StepKind::Phase { phase, reason } => out.push(format!(
                "palisade respond phase {} {} --reason '{}'",
                inc.id,
                phase.as_str(),
                reason.replace('\'', "")
            )),
        }
    }
    out
}

/// Whether a `verify` has passed since the last action that changed what runs, read from
/// the actions recorded (a person's Roll back from the dashboard counts too).
pub fn verified(r: &Response) -> bool {
    for a in r.actions.iter().rev() {
        if a.action == "verify" && a.status == Status::Recorded.as_str() {
            return true;
        }
        if a.status == Status::Changed.as_str() && CHANGES_WORKLOAD.contains(&a.action.as_str()) {
            return false;
        }
    }
    false
}

/// Appends an approval of a step to the record.
fn record_approval(
    s: &mut Store,
    inc: &mut Incident,
    step: usize,
    what: &str,
    by: &str,
) -> Result<(), String> {
    let at = Timestamp::now().to_string();
    s.append(
        Kind::Note,
        Some(&inc.id),
        &json!({"approval": {"step": step + 1, "what": what, "by": by, "at": at}}),
    )?;
    inc.response.approved.push(Approval {
        step,
        by: by.into(),
        at,
    });
    Ok(())
}

/// Records an approval of the pending step.
pub fn approve(engine: &mut Engine, id: &str, by: &str) -> Result<Incident, String> {
    engine
        .update(id, |s, inc| {
            let p = inc
                .response
                .pending
                .take()
                .ok_or_else(|| format!("{id} has no step waiting for approval"))?;
            record_approval(s, inc, p.step, &p.what, by)
        })
        .map(|(inc, ())| inc)
}

/// Runs (or resumes) `book` on incident `id`.
pub async fn run(
    engine: &Mutex<Engine>,
    client: Option<&Client>,
    book: &Playbook,
    id: &str,
    gates: &Gates,
    extra: &BTreeMap<String, String>,
) -> Result<Outcome, String> {
    let inc = lock(engine)?
        .incident(id)?
        .ok_or_else(|| format!("no incident {id}"))?;
    if let Some(other) = &inc.response.playbook
        && other != &book.name
    {
        return Err(format!(
            "{id} is being answered by playbook '{other}', not '{}'",
            book.name
        ));
    }
    let by = format!("playbook:{}", book.name);
    let start = inc.response.next_step;
    for (i, step) in book.steps.iter().enumerate().skip(start) {
        let inc = lock(engine)?
            .incident(id)?
            .ok_or_else(|| format!("no incident {id}"))?;
        if step.approval && !inc.response.approved.iter().any(|a| a.step == i) {
            match gates {
                Gates::Stop => {
                    let what = step.describe();
                    lock(engine)?.update(id, |s, inc| {
                        inc.response.playbook = Some(book.name.clone());
                        if inc.response.pending.is_none() {
                            s.append(
                                Kind::Note,
                                Some(id),
                                &json!({"awaiting_approval": {"step": i + 1, "what": what}}),
                            )?;
                        }
                        inc.response.pending = Some(Pending {
                            step: i,
                            what: what.clone(),
                            since: Timestamp::now().to_string(),
                        });
                        Ok(())
                    })?;
                    return Ok(Outcome::WaitingForApproval { step: i, what });
                }
                Gates::ApproveAs(who) => {
                    lock(engine)?.update(id, |s, inc| {
                        record_approval(s, inc, i, &step.describe(), who)
                    })?;
                }
            }
        }
        match &step.kind {
            StepKind::Phase { phase, reason } => {
                if inc.phase() >= *phase {
                    lock(engine)?.update(id, |_, inc| {
                        inc.response.playbook = Some(book.name.clone());
                        inc.response.next_step = i + 1;
                        Ok(())
                    })?;
                    continue;
                }
                if *phase >= Phase::Recovered && !verified(&inc.response) {
                    let error = format!(
                        "{id} cannot move to {}: recovery has not been verified (a 'verify' step must pass after the last change to what runs)",
                        phase.as_str()
                    );
                    return Ok(Outcome::Failed { step: i, error });
                }
                lock(engine)?.update(id, |s, inc| {
                    crate::engine::change_phase(s, inc, *phase, Timestamp::now(), &by, reason)?;
                    inc.response.playbook = Some(book.name.clone());
                    inc.response.next_step = i + 1;
                    Ok(())
                })?;
            }
            StepKind::Action(a) => {
                let action = expand_action(a, &variables(&inc, extra));
                let scope = Scope::of(&inc);
                let result = match client {
                    Some(c) => action.run(c, &scope).await,
                    None => Err("no Kubernetes client (give --kubeconfig, or run where kubectl would find one)".into()),
                };
                let failed = result.is_err();
                record(engine, id, Some((book, i)), &action, result, &by)?;
                if failed {
                    let inc = lock(engine)?.incident(id)?.unwrap_or(inc);
                    let error = inc
                        .response
                        .actions
                        .last()
                        .map(|a| a.summary.clone())
                        .unwrap_or_default();
                    return Ok(Outcome::Failed { step: i, error });
                }
            }
        }
    }
    Ok(Outcome::Completed)
}

/// Runs one action on an incident outside any playbook (a person's decision, such as the
/// dashboard's Roll back) and records it like a playbook's. Returns the record.
pub async fn act(
    engine: &Mutex<Engine>,
    client: &Client,
    id: &str,
    action: &Action,
    by: &str,
) -> Result<ActionRecord, String> {
    let inc = lock(engine)?
        .incident(id)?
        .ok_or_else(|| format!("no incident {id}"))?;
    let result = action.run(client, &Scope::of(&inc)).await;
    record(engine, id, None, action, result, by)?;
    let inc = lock(engine)?
        .incident(id)?
        .ok_or_else(|| format!("no incident {id}"))?;
    inc.response
        .actions
        .last()
        .cloned()
        .ok_or_else(|| "the action was not recorded".into())
}

/// Stores an action's evidence and record in one transaction, and moves the run on if it
/// succeeded (when it is a playbook's step).
fn record(
    engine: &Mutex<Engine>,
    id: &str,
    step: Option<(&Playbook, usize)>,
    action: &Action,
    result: Result<crate::actions::Done, String>,
    by: &str,
) -> Result<(), String> {
    lock(engine)?
        .update(id, |s, inc| {
            let at = Timestamp::now().to_string();
            let mut rec = ActionRecord {
                step: step.map(|(_, i)| i),
                action: action.name().into(),
                status: "failed".into(),
                summary: String::new(),
                by: by.into(),
                at,
                evidence: Vec::new(),
            };
            match result {
                Err(e) => rec.summary = e,
                Ok(done) => {
                    for ev in &done.evidence {
                        let hash = s.put_blob(ev.media, &ev.data)?;
                        s.append(Kind::Evidence, Some(id), &json!({"name": ev.name, "media": ev.media,
                            "sha256": hash, "size": ev.data.len(), "step": step.map(|(_, i)| i + 1), "action": action.name()}))?;
                        rec.evidence.push((ev.name.clone(), hash));
                    }
                    for (kind, value) in &done.found {
                        let b = &mut inc.blast;
                        let set = match *kind {
                            "pods" => &mut b.pods,
                            "hosts" => &mut b.hosts,
                            "services" => &mut b.services,
                            _ => &mut b.images,
                        };
                        set.insert(value.clone());
                    }
                    rec.status = done.status.as_str().into();
                    rec.summary = done.summary;
                    if let Some((_, i)) = step {
                        inc.response.next_step = i + 1;
                    }
                }
            }
            s.append(Kind::Action, Some(id), &json!({"playbook": step.map(|(b, _)| &b.name), "step": step.map(|(_, i)| i + 1),
                "action": action, "status": rec.status, "summary": rec.summary, "by": by,
                "evidence": rec.evidence.iter().map(|(_, h)| h).collect::<Vec<_>>()}))?;
            if let Some((b, _)) = step {
                inc.response.playbook = Some(b.name.clone());
            }
            inc.response.actions.push(rec);
            Ok(())
        })
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(action: &str, status: &str) -> ActionRecord {
        ActionRecord {
            step: None,
            action: action.into(),
            status: status.into(),
            summary: String::new(),
            by: "t".into(),
            at: String::new(),
            evidence: Vec::new(),
        }
    }

    #[test]
    fn recovery_is_verified_only_by_a_check_after_the_last_change() {
        let r = |list: &[(&str, &str)]| Response {
            actions: list.iter().map(|(a, s)| rec(a, s)).collect(),
            ..Response::default()
        };
        assert!(!verified(&r(&[])));
        assert!(verified(&r(&[
            ("rollback", "changed"),
            ("verify", "recorded")
        ])));
        assert!(!verified(&r(&[
            ("verify", "recorded"),
            ("rollback", "changed")
        ])));
        assert!(verified(&r(&[
            ("verify", "recorded"),
            ("rollback", "unchanged")
        ])));
        assert!(verified(&r(&[
            ("verify", "recorded"),
            ("quarantine", "changed")
        ])));
        assert!(!verified(&r(&[
            ("rollback", "changed"),
            ("verify", "failed")
        ])));
    }
}
