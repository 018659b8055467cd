//! `palisade respond replay|incidents|show|phase|verify|report|rules`.

use crate::cli::{RespondCommand, RespondDb, RespondDetection};
use crate::commands::{EXIT_FINDINGS, EXIT_OK};
use palisade_core::time::Timestamp;
use palisade_respond::config::{parse_open_at, parse_window};
use palisade_respond::crosswalk;
use palisade_respond::engine::{Clock, Engine, Options};
use palisade_respond::incident::{Incident, Phase};
use palisade_respond::ingest::{self, Format};
use palisade_respond::report::{self, duration};
use palisade_respond::rules::{RuleSet, RuleSeverity};
use palisade_respond::store::Store;
use std::io::Read as _;
use std::path::Path;

pub fn respond(command: RespondCommand) -> Result<u8, String> {
    match command {
        RespondCommand::Serve { config } => {
            let cfg = palisade_respond::config::Config::load(&config)?;
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start the runtime: {e}"))?;
            rt.block_on(palisade_respond::serve::run(cfg))?;
            Ok(EXIT_OK)
        }
        RespondCommand::Replay {
            files,
            db,
            detection,
            format,
            clock,
            json,
        } => replay(&files, &db, &detection, &format, &clock, json),
        RespondCommand::Incidents { db, all, json } => {
            let list = incidents(&open_store(&db)?, !all)?;
            if json {
                print_json(&serde_json::Value::Array(
                    list.iter().map(Incident::to_json).collect(),
                ));
            } else {
                print!("{}", table(&list, !all));
            }
            Ok(EXIT_OK)
        }
        RespondCommand::Show { id, db, json } => {
            let store = open_store(&db)?;
            let inc = store
                .incident(&id)?
                .ok_or_else(|| format!("no incident {id} in {}", db.db.display()))?;
            let inc = Incident::from_json(&inc)?;
            if json {
                print_json(&inc.to_json());
            } else {
                print!("{}", show(&inc, &store)?);
            }
            Ok(EXIT_OK)
        }
        RespondCommand::Phase {
            id,
            phase,
            by,
            reason,
            db,
        } => {
            let phase = Phase::parse(&phase)
                .filter(|p| *p != Phase::Detected)
                .ok_or_else(|| {
                    format!(
                        "phase '{phase}': one of triaged, contained, eradicated, recovered, closed"
                    )
                })?;
            let mut engine = Engine::new(open_store(&db)?, RuleSet::builtin(), Options::default())?;
            let inc = engine.advance(&id, phase, &by, &reason, None)?;
            println!(
                "{} is {} ({} by {by})",
                inc.id,
                inc.phase().as_str(),
                inc.history
                    .last()
                    .map(|h| h.at.to_string())
                    .unwrap_or_default()
            );
            Ok(EXIT_OK)
        }
        RespondCommand::Verify { db, expect_head } => {
            let store = open_store(&db)?;
            match store.verify(expect_head.as_deref()) {
                Ok(v) => {
                    println!(
                        "{}: chain intact: {} entries, {} evidence blob(s); head {}",
                        db.db.display(),
                        v.entries,
                        v.blobs,
                        v.head
                    );
                    Ok(EXIT_OK)
                }
                Err(e) => {
                    println!("{}: chain BROKEN: {e}", db.db.display());
                    Ok(EXIT_FINDINGS)
                }
            }
        }
        RespondCommand::Report {
            db,
            since,
            until,
            json,
        } => {
            let list = incidents(&open_store(&db)?, false)?;
            let r = report::build(
                &list,
                when(since.as_deref(), "--since")?,
                when(until.as_deref(), "--until")?,
            );
            if json {
                print_json(&r.to_json());
            } else {
                print!("{}", r.to_text());
            }
            Ok(EXIT_OK)
        }
        RespondCommand::Run {
            id,
            db,
            response,
            playbook,
            dry_run,
            approve_all_as,
        } => crate::respond_run::run(
            &id,
            &db,
            &response,
            playbook.as_deref(),
            dry_run,
            approve_all_as,
        ),
        RespondCommand::Approve {
            id,
            by,
            db,
            response,
        } => crate::respond_run::approve(&id, &by, &db, &response),
        RespondCommand::Playbooks { response, json } => crate::respond_run::list(&response, json),
        RespondCommand::Drill {
            name,
            db,
            playbooks,
        } => crate::respond_run::drill(&name, db.as_deref(), &playbooks),
        RespondCommand::FalcoRules { check } => {
            if check.is_empty() {
                print!("{}", palisade_respond::falco_rules::RULES);
                return Ok(EXIT_OK);
            }
            let texts = check
                .iter()
                .map(|p| {
                    std::fs::read_to_string(p)
                        .map(|t| (p.display().to_string(), t))
                        .map_err(|e| format!("{}: {e}", p.display()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let refs: Vec<(&str, &str)> = texts
                .iter()
                .map(|(a, b)| (a.as_str(), b.as_str()))
                .collect();
            let errs = palisade_respond::falco_rules::check_all(&refs);
            for e in &errs {
                println!("{e}");
            }
            if errs.is_empty() {
                println!("{} file(s): valid Falco rules", texts.len());
                Ok(EXIT_OK)
            } else {
                println!("{} problem(s)", errs.len());
                Ok(EXIT_FINDINGS)
            }
        }
        RespondCommand::Rules { detection, json } => {
            let rules = load_rules(&detection)?;
            if json {
                let list: Vec<_> = rules
                    .rules
                    .iter()
                    .map(|r| {
                        serde_json::json!({
                            "code": r.code, "name": r.name, "source": r.source.map(|s| s.as_str()),
                            "severity": match r.severity { RuleSeverity::Fixed(s) => s.as_str(), RuleSeverity::FromSource => "from-source" },
                            "techniques": r.techniques, "description": r.desc, "condition": r.condition_text,
                            "defined_at": r.origin,
                        })
                    })
                    .collect();
                print_json(&serde_json::Value::Array(list));
            } else {
                for r in &rules.rules {
                    let sev = match r.severity {
                        RuleSeverity::Fixed(s) => s.as_str(),
                        RuleSeverity::FromSource => "(source)",
                    };
                    println!(
                        "{:<7} {:<9} {:<10} {:<36} {}",
                        r.code.as_deref().unwrap_or("-"),
                        r.source.map(|s| s.as_str()).unwrap_or("any"),
                        sev,
                        r.name,
                        r.techniques.join(" ")
                    );
                }
                println!("\n{} rules", rules.rules.len());
            }
            Ok(EXIT_OK)
        }
    }
}

fn print_json(v: &serde_json::Value) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

/// The record for commands that read or amend it: it must exist.
pub(crate) fn open_store(db: &RespondDb) -> Result<Store, String> {
    Store::open_existing(&db.db)
}

fn load_rules(d: &RespondDetection) -> Result<RuleSet, String> {
    RuleSet::from_paths(&d.rules)
}

fn options(d: &RespondDetection, clock: Clock) -> Result<Options, String> {
    Ok(Options {
        window_secs: parse_window(&d.window).map_err(|e| format!("--window: {e}"))?,
        open_at: parse_open_at(&d.open_at).map_err(|e| format!("--open-at: {e}"))?,
        clock,
        ..Options::default()
    })
}

/// A date (`2026-11-01`, midnight UTC) or an RFC 3339 time.
fn when(s: Option<&str>, flag: &str) -> Result<Option<Timestamp>, String> {
    s.map(|s| {
        let full = if s.len() == 10 {
            format!("{s}T00:00:00Z")
        } else {
            s.to_string()
        };
        Timestamp::parse(&full).map_err(|e| format!("{flag}: {e}"))
    })
    .transpose()
}

fn incidents(store: &Store, open_only: bool) -> Result<Vec<Incident>, String> {
    store
        .incidents(open_only)?
        .iter()
        .map(Incident::from_json)
        .collect()
}

fn replay(
    files: &[std::path::PathBuf],
    db: &RespondDb,
    detection: &RespondDetection,
    format: &str,
    clock: &str,
    json: bool,
) -> Result<u8, String> {
    let format = Format::parse(format).ok_or_else(|| {
        format!("--format '{format}': one of auto, falco, k8s-audit, guard, generic")
    })?;
    let clock = if clock == "wall" {
        Clock::Wall
    } else {
        Clock::Event
    };
    let mut engine = Engine::new(
        Store::open(&db.db)?,
        load_rules(detection)?,
        options(detection, clock)?,
    )?;
    let (mut events, mut errors, mut opened, mut touched) =
        (0, 0, Vec::new(), std::collections::BTreeSet::new());
    for path in files {
        let (name, text) = read_input(path)?;
        let outcome = engine.ingest(ingest::parse(&text, format), &name)?;
        for e in &outcome.errors {
            eprintln!("palisade: {name}: {e}");
        }
        events += outcome.accepted;
        errors += outcome.errors.len();
        opened.extend(outcome.opened);
        touched.extend(outcome.updated);
    }
    let store = engine.store();
    let list: Vec<Incident> = touched
        .iter()
        .filter_map(|id| engine.incident(id).ok().flatten())
        .collect();
    if json {
        print_json(&serde_json::json!({
            "events": events, "input_errors": errors, "opened": opened,
            "incidents": list.iter().map(Incident::to_json).collect::<Vec<_>>(),
            "head": store.head().1,
        }));
    } else {
        println!(
            "Recorded {events} event(s) from {} input(s) into {}{}",
            files.len(),
            db.db.display(),
            if errors > 0 {
                format!(" ({errors} could not be read: see above)")
            } else {
                String::new()
            }
        );
        println!(
            "{} incident(s) opened, {} earlier one(s) updated\n",
            opened.len(),
            touched.len() - opened.len()
        );
        print!("{}", table(&list, false));
        if !list.is_empty() {
            println!(
                "\nNext: palisade respond show {} --db {}",
                list[0].id,
                db.db.display()
            );
        }
    }
    Ok(EXIT_OK)
}

fn read_input(path: &Path) -> Result<(String, String), String> {
    if path.as_os_str() == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| format!("stdin: {e}"))?;
        return Ok(("stdin".into(), s));
    }
    let name = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|e| format!("{name}: {e}"))?;
    const LIMIT: u64 = 1 << 30;
    if meta.len() > LIMIT {
        return Err(format!(
            "{name}: {} bytes is over the 1 GiB a replay file may have; split it",
            meta.len()
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| format!("{name}: {e}"))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        format!(
            "{name}: not UTF-8 text (at byte {})",
            e.utf8_error().valid_up_to()
        )
    })?;
    Ok((name, text))
}

/// The incident list as a table.
fn table(list: &[Incident], open_only: bool) -> String {
    if list.is_empty() {
        return format!("No {}incidents.\n", if open_only { "open " } else { "" });
    }
    let mut out = format!(
        "{:<9} {:<9} {:<11} {:<27} {}\n",
        "ID", "SEVERITY", "PHASE", "SCOPE", "TITLE"
    );
    for i in list {
        let scope = i
            .blast
            .workloads
            .iter()
            .chain(&i.blast.tenants)
            .chain(&i.blast.models)
            .chain(&i.blast.users)
            .next()
            .cloned()
            .unwrap_or_else(|| i.keys.iter().next().cloned().unwrap_or_default());
        out.push_str(&format!(
            "{:<9} {:<9} {:<11} {:<27} {}\n",
            i.id,
            i.severity.as_str(),
            i.phase().as_str(),
            clip(&scope, 27),
            clip(&i.title, 90)
        ));
    }
    out
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n - 1).collect::<String>())
    }
}

fn show(i: &Incident, store: &Store) -> Result<String, String> {
    let mut o = format!(
        "{}  {}  {}\n  {}\n",
        i.id,
        i.severity.as_str(),
        i.phase().as_str(),
        i.title
    );
    o.push_str(&format!(
        "  signals from {} to {}\n\nTimeline (NIST phases):\n",
        i.first_seen, i.last_seen
    ));
    for h in &i.history {
        o.push_str(&format!(
            "  {}  {:<10} by {}{}\n",
            h.at,
            h.phase.as_str(),
            h.by,
            if h.reason.is_empty() {
                String::new()
            } else {
                format!(": {}", h.reason)
            }
        ));
    }
    o.push_str("\nFindings:\n");
    for f in &i.findings {
        o.push_str(&format!(
            "  {:<7} {:<34} {:<8} ×{:<5} {}\n",
            f.code,
            f.rule,
            f.severity.as_str(),
            f.count,
            f.message
        ));
    }
    o.push_str("\nTechniques:\n");
    for t in &i.techniques {
        let name = crosswalk::atlas(t).map(|x| x.name).unwrap_or("ATT&CK");
        o.push_str(&format!("  {t:<14} {name}\n"));
    }
    o.push_str("\nBlast radius:\n");
    let b = &i.blast;
    for (name, set) in [
        ("workloads", &b.workloads),
        ("pods", &b.pods),
        ("nodes", &b.nodes),
        ("hosts", &b.hosts),
        ("services", &b.services),
        ("namespaces", &b.namespaces),
        ("tenants", &b.tenants),
        ("models", &b.models),
        ("users", &b.users),
        ("images", &b.images),
    ] {
        if !set.is_empty() {
            o.push_str(&format!(
                "  {name:<11} {}\n",
                set.iter().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
    }
    let r = &i.response;
    if let Some(p) = &r.playbook {
        o.push_str(&format!("\nResponse (playbook {p}):\n"));
        for a in &r.actions {
            o.push_str(&format!(
                "  {}  step {:<2} {:<18} {:<9} by {}: {}\n",
                a.at,
                a.step_label(),
                a.action,
                a.status,
                a.by,
                a.summary
            ));
            for (name, hash) in &a.evidence {
                o.push_str(&format!("      evidence sha256:{}…  {name}\n", &hash[..16]));
            }
        }
        for ap in &r.approved {
            o.push_str(&format!(
                "  approved step {} by {} at {}\n",
                ap.step + 1,
                ap.by,
                ap.at
            ));
        }
        if let Some(p) = &r.pending {
            o.push_str(&format!(
                "  WAITING for approval of step {} ({}) since {}: palisade respond approve {} --by NAME\n",
                p.step + 1,
                p.what,
                p.since,
                i.id
            ));
        }
    }
    let t = i.times();
    o.push_str(&format!(
        "\nResponse times: MTTD {}  MTTA {}  MTTC {}  MTTR {}\n",
        duration(t.detect),
        duration(t.acknowledge),
        duration(t.contain),
        duration(t.recover)
    ));
    let entries = store.entries_for(&i.id)?;
    if let (Some(first), Some(last)) = (entries.first(), entries.last()) {
        o.push_str(&format!(
            "Record: {} chain entries (#{}…#{}); last hash {}\n",
            entries.len(),
            first.seq,
            last.seq,
            last.hash
        ));
    }
    Ok(o)
}
