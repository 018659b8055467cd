//! What each subcommand does.

use crate::cli::{Cli, ColorChoice, Command, Format, ListFormat, ModelCommand, ScanArgs};
use palisade_core::config::{Config, today_utc};
use palisade_core::report::{json, sarif, text};
use palisade_core::suppress::Baseline;
use palisade_core::{RuleMeta, Severity};
use std::io::{IsTerminal, Write};
use std::path::Path;

pub const EXIT_OK: u8 = 0;
pub const EXIT_FINDINGS: u8 = 1;
pub const EXIT_ERROR: u8 = 2;

/// Every rule Palisade knows, in code order.
fn all_rules() -> Vec<&'static RuleMeta> {
    let k8s = palisade_k8s::rules::all().into_iter().map(|r| &r.meta);
    let docker = palisade_docker::rules::all().into_iter().map(|r| &r.meta);
    k8s.chain(palisade_reach::rules::all())
        .chain(docker)
        .chain(palisade_model::rules::all())
        .chain(palisade_sign::rules::all())
        .chain(palisade_guard::rules::all())
        .collect()
}

pub fn run(cli: Cli) -> Result<u8, String> {
    match cli.command {
        Command::Scan(args) => scan(args),
        Command::Reach(args) => crate::reach::reach(args),
        Command::Guard { command } => crate::guard::guard(command),
        Command::Respond { command } => crate::respond::respond(command),
        Command::Model {
            command: ModelCommand::Scan(args),
        } => model_scan(args),
        Command::Model {
            command: ModelCommand::Sign { method },
        } => crate::sign::sign(method),
        Command::Model {
            command: ModelCommand::Verify { method },
        } => crate::sign::verify(method),
        Command::Model {
            command: ModelCommand::Bom(args),
        } => crate::bom::bom(args),
        Command::Rules { format } => {
            list_rules(format);
            Ok(EXIT_OK)
        }
        Command::Explain { rule } => explain(&rule),
    }
}

fn list_rules(format: ListFormat) {
    let rules = all_rules();
    match format {
        ListFormat::Json => {
            let v: Vec<serde_json::Value> = rules
                .iter()
                .map(|r| {
                    let mut v = serde_json::to_value(r).expect("rule serialises");
                    v["doc"] = serde_json::Value::String(r.doc.trim().to_string());
                    v
                })
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({"rules": v})).expect("json")
            );
        }
        ListFormat::Text => {
            let mut family = "";
            for r in rules {
                if r.family != family {
                    family = r.family;
                    println!("\n{family}");
                }
                println!(
                    "  {:<6}  {:<35} {:<8}  {}",
                    r.code,
                    r.name,
                    r.severity.as_str(),
                    r.summary
                );
            }
            println!("\n`palisade explain CODE` prints a rule's documentation.");
        }
    }
}

fn explain(which: &str) -> Result<u8, String> {
    let rules = all_rules();
    let r = rules
        .iter()
        .find(|r| r.code.eq_ignore_ascii_case(which) || r.name == which)
        .ok_or_else(|| format!("no rule '{which}' (see `palisade rules`)"))?;
    println!("{} {} ({})", r.code, r.name, r.severity);
    println!("{}", r.summary);
    if !r.controls.is_empty() {
        println!("controls: {}", r.controls.join(", "));
    }
    if !r.techniques.is_empty() {
        println!("techniques: {}", r.techniques.join(", "));
    }
    println!("fix: {}", r.fix);
    println!("{}", r.doc.trim_end());
    Ok(EXIT_OK)
}

fn load_config(args: &ScanArgs) -> Result<Config, String> {
    load_config_for(args.config.as_deref(), &args.paths)
}

/// `--config`, else ./palisade.toml, else the one at the root of a single scanned directory.
pub fn load_config_for(config: Option<&Path>, paths: &[String]) -> Result<Config, String> {
    let today = today_utc();
    let beside = match paths {
        [one] => Some(Path::new(one).join("palisade.toml")).filter(|p| p.is_file()),
        _ => None,
    };
    let cfg = match config {
        Some(p) => Config::load(p, &today)?,
        None if Path::new("palisade.toml").is_file() => {
            Config::load(Path::new("palisade.toml"), &today)?
        }
        None => match beside {
            Some(p) => Config::load(&p, &today)?,
            None => Config::default(),
        },
    };
    for w in &cfg.warnings {
        eprintln!("palisade: warning: {w}");
    }
    Ok(cfg)
}

/// The model-scan options `palisade.toml` asks for.
pub fn model_options(cfg: &Config) -> palisade_model::scan::Options {
    palisade_model::scan::Options {
        policy: palisade_model::policy::Policy::with_allowed(&cfg.model_allow),
        ..Default::default()
    }
}

fn scan(args: ScanArgs) -> Result<u8, String> {
    let cfg = load_config(&args)?;
    let walk = palisade_core::walk::discover(&args.paths, &|p| cfg.is_excluded(p));
    let asserts = palisade_reach::assertions::compile(&cfg.reach_assertions)?;
    let trust = palisade_sign::check::load_trust(&cfg.model_signing)?;
    let mut report = crate::scan::scan(
        &walk.inputs,
        cfg.max_file_size,
        &asserts,
        &model_options(&cfg),
        &trust,
    );
    report.errors.extend(walk.errors);
    finish(&args, &cfg, report, None)
}

/// `palisade model scan`: every input is a candidate model file.
fn model_scan(args: ScanArgs) -> Result<u8, String> {
    let cfg = load_config(&args)?;
    let walk = palisade_core::walk::discover(&args.paths, &|p| cfg.is_excluded(p));
    let result = palisade_model::scan::scan(&walk.inputs, &model_options(&cfg));
    let mut report = result.report;
    report.errors.extend(walk.errors);
    finish(&args, &cfg, report, Some(&result.artifacts))
}

/// Apply ignores and the baseline, render, and pick the exit code. `models` adds the model
/// scan's per-file verdicts (a `models` list in JSON, a table in text).
fn finish(
    args: &ScanArgs,
    cfg: &Config,
    mut report: palisade_core::Report,
    models: Option<&[palisade_model::scan::Artifact]>,
) -> Result<u8, String> {
    let fail_on = match &args.fail_on {
        Some(s) => s.parse::<Severity>()?,
        None => cfg.fail_on.unwrap_or(Severity::Low),
    };
    let baseline = args.baseline.as_deref().map(Baseline::load).transpose()?;
    let before = report.findings.len();
    report
        .findings
        .retain(|f| !cfg.ignored(f) && !baseline.as_ref().is_some_and(|b| b.contains(f)));
    report.suppressed += before - report.findings.len();
    report.sort();

    let color = match args.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            args.output.is_none()
                && std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none()
        }
    };
    let write = |w: &mut dyn Write| -> std::io::Result<()> {
        match (args.format, models) {
            (Format::Text, _) => {
                if let Some(m) = models {
                    w.write_all(crate::model::artifact_table(m, &report, color).as_bytes())?;
                }
                w.write_all(text::render(&report, &text::TextOptions { color }).as_bytes())
            }
            (Format::Json, Some(m)) => crate::model::write_json(&report, m, w),
            (Format::Json, None) => json::write(&report, w),
            (Format::Sarif, _) => sarif::write(&report, w),
        }?;
        w.flush()
    };
    match &args.output {
        Some(path) => {
            let file = std::fs::File::create(path)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            write(&mut std::io::BufWriter::new(file))
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        }
        None => {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            // A closed pipe (`palisade scan . | head`) is not an error worth a panic.
            let _ = write(&mut out);
        }
    }

    if !report.errors.is_empty() && !args.ignore_errors {
        return Ok(EXIT_ERROR);
    }
    Ok(if report.fails_at(fail_on) {
        EXIT_FINDINGS
    } else {
        EXIT_OK
    })
}
