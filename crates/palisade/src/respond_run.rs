//! `palisade respond run|approve|playbooks|drill`: playbooks on incidents, through the
//! Kubernetes API.

use crate::cli::{RespondDb, RespondPlaybooks};
use crate::commands::{EXIT_FINDINGS, EXIT_OK};
use crate::respond::open_store;
use palisade_respond::actions;
use palisade_respond::drill::{self, Drill};
use palisade_respond::engine::{Engine, Options};
use palisade_respond::playbook::{self, Playbook, StepKind};
use palisade_respond::report::duration;
use palisade_respond::rules::RuleSet;
use palisade_respond::runner::{self, Gates, Outcome};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))
}

fn vars(list: &[String]) -> Result<BTreeMap<String, String>, String> {
    list.iter()
        .map(|v| {
            v.split_once('=')
                .map(|(k, x)| (k.to_string(), x.to_string()))
                .ok_or_else(|| format!("--var '{v}' is not NAME=VALUE"))
        })
        .collect()
}

fn engine(db: &RespondDb) -> Result<Engine, String> {
    Engine::new(open_store(db)?, RuleSet::builtin(), Options::default())
}

pub fn run(
    id: &str,
    db: &RespondDb,
    r: &RespondPlaybooks,
    named: Option<&str>,
    dry_run: bool,
    approve_as: Option<String>,
) -> Result<u8, String> {
    let books = playbook::from_paths(&r.playbooks)?;
    let engine = engine(db)?;
    let inc = engine
        .incident(id)?
        .ok_or_else(|| format!("no incident {id} in {}", db.db.display()))?;
    let extra = vars(&r.vars)?;
    let rt = runtime()?;
    rt.block_on(async {
        // The cluster, for acting and for checking playbooks' labels; a dry run reads it only
        // when told where it is.
        let client = if dry_run && r.kubeconfig.is_none() {
            None
        } else {
            Some(actions::connect(r.kubeconfig.as_deref()).await?)
        };
        let book = playbook::for_incident(&books, &inc, named, client.as_ref())
            .await?
            .clone();
        if dry_run {
            for line in runner::plan(&book, &inc, &extra) {
                println!("{line}");
            }
            return Ok(EXIT_OK);
        }
        let gates = approve_as.map_or(Gates::Stop, Gates::ApproveAs);
        go(
            engine,
            &book,
            id,
            &gates,
            &extra,
            r.kubeconfig.as_deref(),
            client,
        )
        .await
    })
}

/// Runs the playbook on the incident (connecting to the cluster when a step acts and no
/// client is given) and prints what it did.
async fn go(
    engine: Engine,
    book: &Playbook,
    id: &str,
    gates: &Gates,
    extra: &BTreeMap<String, String>,
    kubeconfig: Option<&Path>,
    client: Option<actions::Client>,
) -> Result<u8, String> {
    let needs_cluster = book
        .steps
        .iter()
        .any(|s| matches!(s.kind, StepKind::Action(_)));
    let before = engine
        .incident(id)?
        .map(|i| i.response.actions.len())
        .unwrap_or(0);
    let shared = std::sync::Mutex::new(engine);
    let client = match client {
        None if needs_cluster => Some(actions::connect(kubeconfig).await?),
        c => c,
    };
    let outcome = runner::run(&shared, client.as_ref(), book, id, gates, extra).await?;
    let engine = shared
        .into_inner()
        .map_err(|_| "the engine lock is poisoned")?;
    let inc = engine.incident(id)?.ok_or("the incident vanished")?;
    println!("{id}: playbook {}", book.name);
    for a in inc.response.actions.iter().skip(before) {
        println!(
            "  step {:>2} {:<18} {:<9} {}",
            a.step_label(),
            a.action,
            a.status,
            a.summary
        );
    }
    println!("  phase now: {}", inc.phase().as_str());
    match outcome {
        Outcome::Completed => {
            println!("  all {} steps done", book.steps.len());
            Ok(EXIT_OK)
        }
        Outcome::WaitingForApproval { step, what } => {
            println!(
                "  waiting for approval of step {} ({what}): palisade respond approve {id} --by NAME",
                step + 1
            );
            Ok(EXIT_OK)
        }
        Outcome::Failed { step, error } => {
            println!(
                "  step {} FAILED: {error}\n  (fix the cause and run again: the run resumes at that step)",
                step + 1
            );
            Ok(EXIT_FINDINGS)
        }
    }
}

pub fn approve(id: &str, by: &str, db: &RespondDb, r: &RespondPlaybooks) -> Result<u8, String> {
    let books = playbook::from_paths(&r.playbooks)?;
    let mut engine = engine(db)?;
    let inc = runner::approve(&mut engine, id, by)?;
    println!("{id}: approved by {by}");
    let extra = vars(&r.vars)?;
    runtime()?.block_on(async {
        // The incident waits at a gate of the playbook answering it: no choice to make.
        let book = playbook::for_incident(&books, &inc, None, None)
            .await?
            .clone();
        go(
            engine,
            &book,
            id,
            &Gates::Stop,
            &extra,
            r.kubeconfig.as_deref(),
            None,
        )
        .await
    })
}

pub fn list(r: &RespondPlaybooks, json: bool) -> Result<u8, String> {
    let books = playbook::from_paths(&r.playbooks)?;
    if json {
        let v: Vec<_> = books
            .iter()
            .map(|b| {
                serde_json::json!({"name": b.name, "description": b.description, "defined_at": b.origin,
                    "match": {"techniques": b.matcher.techniques, "rules": b.matcher.rules,
                              "severity": b.matcher.severity.map(|s| s.as_str()), "namespaces": b.matcher.namespaces,
                              "labels": b.matcher.labels},
                    "steps": b.steps.iter().map(|s| serde_json::json!({"step": s.describe(), "approval": s.approval})).collect::<Vec<_>>()})
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return Ok(EXIT_OK);
    }
    for b in &books {
        let m = &b.matcher;
        let mut when = Vec::new();
        if !m.techniques.is_empty() {
            when.push(format!("techniques {}", m.techniques.join("|")));
        }
        if !m.rules.is_empty() {
            when.push(format!("rules {}", m.rules.join("|")));
        }
        if let Some(s) = m.severity {
            when.push(format!("severity ≥ {}", s.as_str()));
        }
        if !m.namespaces.is_empty() {
            when.push(format!("namespaces {}", m.namespaces.join("|")));
        }
        println!(
            "{}  ({})\n  when: {}",
            b.name,
            b.origin,
            if when.is_empty() {
                "any incident".into()
            } else {
                when.join(", ")
            }
        );
        let steps: Vec<String> = b
            .steps
            .iter()
            .map(|s| {
                format!(
                    "{}{}",
                    s.describe(),
                    if s.approval { " [approval]" } else { "" }
                )
            })
            .collect();
        println!("  steps: {}\n", steps.join(" → "));
    }
    println!("{} playbooks", books.len());
    Ok(EXIT_OK)
}

pub fn drill(name: &str, db: Option<&Path>, extra: &[PathBuf]) -> Result<u8, String> {
    let which: Vec<Drill> = if name == "all" {
        Drill::ALL.to_vec()
    } else {
        vec![
            Drill::parse(name)
                .ok_or_else(|| format!("no drill '{name}': breakout, adversarial, flood or all"))?,
        ]
    };
    let books = playbook::from_paths(extra)?;
    let rt = runtime()?;
    let mut failed = 0;
    for d in which {
        let r = rt.block_on(drill::run(d, db, &books))?;
        for l in &r.lines {
            println!("{l}");
        }
        if let Some(inc) = &r.incident {
            let t = inc.times();
            println!(
                "response times: MTTD {}  MTTA {}  MTTC {}  MTTR {}",
                duration(t.detect),
                duration(t.acknowledge),
                duration(t.contain),
                duration(t.recover)
            );
        }
        if r.passed() {
            println!(
                "drill {}: PASSED ({} reached {})\n",
                d.name(),
                r.incident.as_ref().map(|i| i.id.as_str()).unwrap_or("-"),
                d.expected().as_str()
            );
        } else {
            failed += 1;
            println!("drill {}: FAILED", d.name());
            for p in &r.problems {
                println!("  - {p}");
            }
            println!();
        }
    }
    Ok(if failed > 0 { EXIT_FINDINGS } else { EXIT_OK })
}
