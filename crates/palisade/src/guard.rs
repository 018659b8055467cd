//! `palisade guard run|check-config|profile|hash-key`.

use crate::cli::GuardCommand;
use crate::commands::EXIT_OK;
use palisade_guard::data::{self, Column};
use palisade_guard::profile::Profile;
use std::io::Read as _;

/// A `--label-column` value: an index, or a header name.
fn column(c: String) -> Column {
    match c.parse::<usize>() {
        Ok(i) => Column::Index(i),
        Err(_) => Column::Name(c),
    }
}

pub fn guard(command: GuardCommand) -> Result<u8, String> {
    match command {
        GuardCommand::Run { config } => {
            // Tenant traffic gets its own threads (server.workers); this one runs the rest.
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start the runtime: {e}"))?;
            rt.block_on(palisade_guard::server::run(&config))?;
            Ok(EXIT_OK)
        }
        GuardCommand::CheckConfig { config } => {
            let cfg = palisade_guard::config::Config::load(&config)?;
            palisade_guard::gateway::Runtime::build(cfg.clone(), None)?;
            println!(
                "{}: ok ({} tenant(s), {} model(s), {} upstream at {})",
                config.display(),
                cfg.tenants.len(),
                cfg.models.len(),
                cfg.upstream.protocol.as_str(),
                cfg.upstream.url
            );
            Ok(EXIT_OK)
        }
        GuardCommand::Profile {
            data: path,
            label_column,
            predictions,
            shrinkage,
            out,
        } => {
            let label = label_column.map(column);
            let shrinkage = match shrinkage.as_str() {
                "ledoit-wolf" => None,
                n => Some(
                    n.parse::<f64>()
                        .ok()
                        .filter(|a| (0.0..=1.0).contains(a))
                        .ok_or_else(|| {
                            format!("--shrinkage '{n}': a number between 0 and 1, or ledoit-wolf")
                        })?,
                ),
            };
            let m = data::read(&path, label.as_ref())?;
            let mut profile =
                Profile::build(&m, shrinkage).map_err(|e| format!("{}: {e}", path.display()))?;
            if let Some(p) = predictions {
                let preds = data::read(&p, None)?;
                if preds.cols != 1 {
                    return Err(format!(
                        "{}: {} columns; predictions are one value per row",
                        p.display(),
                        preds.cols
                    ));
                }
                profile.reference_predictions = Some(preds.data);
            }
            let text = serde_json::to_string(&profile).map_err(|e| e.to_string())?;
            std::fs::write(&out, text).map_err(|e| format!("{}: {e}", out.display()))?;
            let q = |p: &str| {
                profile.threshold(palisade_guard::config::Threshold::parse(p).expect("valid"))
            };
            eprintln!(
                "{}: {} features; fitted on {} rows, {} held out; shrinkage {:.4}; held-out \
                 distance p50 {:.2}, p99 {:.2}, p99.9 {:.2}, max {:.2}",
                out.display(),
                profile.features,
                profile.fitted_rows,
                profile.calibration_rows,
                profile.shrinkage,
                q("p50"),
                q("p99"),
                q("p99.9"),
                q("max")
            );
            Ok(EXIT_OK)
        }
        GuardCommand::Score {
            profile,
            data: path,
            label_column,
            range_margin,
        } => {
            let profile = Profile::load(&profile)?;
            let m = data::read(&path, label_column.map(column).as_ref())?;
            if m.cols != profile.features {
                return Err(format!(
                    "{}: {} columns; the profile has {} features",
                    path.display(),
                    m.cols,
                    profile.features
                ));
            }
            let mut out = String::from("distance,out_of_range\n");
            let mut scratch = Vec::new();
            for i in 0..m.rows() {
                let s = profile.score(m.row(i), range_margin, &mut scratch);
                out.push_str(&format!("{},{}\n", s.distance, s.out_of_range));
            }
            print!("{out}");
            Ok(EXIT_OK)
        }
        GuardCommand::HashKey => {
            let mut key = String::new();
            std::io::stdin()
                .read_to_string(&mut key)
                .map_err(|e| format!("cannot read the key from stdin: {e}"))?;
            let key = key.trim();
            if key.is_empty() {
                return Err("no key on stdin (echo -n KEY | palisade guard hash-key)".into());
            }
            println!("{}", palisade_guard::tenant::hash_key(key));
            Ok(EXIT_OK)
        }
    }
}
