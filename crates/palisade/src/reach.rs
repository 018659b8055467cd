//! `palisade reach`: load manifests, compute the connectivity, print it (or generate policies).

use crate::cli::{ReachArgs, ReachFormat};
use crate::commands::{EXIT_ERROR, EXIT_FINDINGS, EXIT_OK};
use palisade_core::InputError;
use palisade_core::walk::discover;
use palisade_k8s::load::{LoadOptions, Manifests, load};
use palisade_reach::analysis::{Focus, Network, Want};
use palisade_reach::{generate, output};
use std::io::Write;

/// Every problem with the inputs: unreadable files and malformed policies, each on stderr.
fn input_errors(m: &Manifests, net: &Network) -> Vec<InputError> {
    let all: Vec<InputError> = m
        .errors
        .iter()
        .cloned()
        .chain(palisade_reach::scan::input_errors(net, m))
        .collect();
    for e in &all {
        let at = match (e.line, e.column) {
            (Some(l), Some(c)) => format!("{}:{l}:{c}", e.path),
            (Some(l), None) => format!("{}:{l}", e.path),
            _ => e.path.clone(),
        };
        eprintln!("palisade: error: {at}: {}", e.message);
    }
    all
}

fn write_out(args: &ReachArgs, text: &str) -> Result<(), String> {
    match &args.output {
        Some(path) => {
            std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
        }
        None => {
            // A closed pipe (`palisade reach . | head`) is not an error worth a panic.
            let _ = std::io::stdout().lock().write_all(text.as_bytes());
            Ok(())
        }
    }
}

pub fn reach(args: ReachArgs) -> Result<u8, String> {
    let focus = |s: &Option<String>, what: &str| -> Result<Option<Focus>, String> {
        s.as_deref()
            .map(|s| Focus::parse(s).map_err(|e| format!("--{what}: {e}")))
            .transpose()
    };
    let from = focus(&args.from, "from")?;
    let to = focus(&args.to, "to")?;
    let t0 = std::time::Instant::now();
    let walk = discover(&args.paths, &|_| false);
    let mut m = load(&walk.inputs, &LoadOptions::default());
    m.errors.extend(walk.errors);
    let t1 = t0.elapsed();
    let net = Network::build(&m);
    let t2 = t0.elapsed();
    let errors = input_errors(&m, &net);
    if net.topo.workloads.is_empty() {
        eprintln!(
            "palisade: warning: no workloads found in {}",
            args.paths.join(" ")
        );
    }

    if args.generate {
        let intent = generate::Intent::parse(&args.allow)?;
        let generated = generate::generate(&net, &intent)?;
        write_out(&args, &generated.yaml)?;
        let proof = generate::prove(&net, &generated.yaml, &intent)?;
        eprint!("{}", proof.summary);
        return Ok(if !proof.holds {
            EXIT_FINDINGS
        } else if !errors.is_empty() && !args.ignore_errors {
            EXIT_ERROR
        } else {
            EXIT_OK
        });
    }

    let focused = from.is_some() || to.is_some();
    let want = Want {
        denied: args.explain && focused,
        why: args.explain || args.format == ReachFormat::Json,
    };
    let edges = net.connectivity(from.as_ref(), to.as_ref(), want);
    let text = match args.format {
        ReachFormat::Connlist => output::connlist(&net, &edges),
        ReachFormat::Text => output::text(&net, &edges, args.explain),
        ReachFormat::Json => {
            let mut v = output::json(&net, &edges, args.explain);
            v["errors"] = serde_json::to_value(&errors).expect("errors serialise");
            let mut s = serde_json::to_string_pretty(&v).expect("json");
            s.push('\n');
            s
        }
    };
    write_out(&args, &text)?;
    if std::env::var_os("PALISADE_TIMING").is_some() {
        eprintln!(
            "load {t1:?} build {:?} query+render {:?}",
            t2 - t1,
            t0.elapsed() - t2
        );
    }
    Ok(if !errors.is_empty() && !args.ignore_errors {
        EXIT_ERROR
    } else {
        EXIT_OK
    })
}
