//! The `palisade` binary: command-line parsing, wiring and exit codes. The work happens in the
//! library crates (`palisade-core`, `palisade-k8s`, `palisade-docker`, `palisade-reach`, `palisade-model`).

mod bom;
mod cli;
mod commands;
mod guard;
mod model;
mod reach;
mod respond;
mod respond_run;
mod scan;
mod sign;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match commands::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(msg) => {
            eprintln!("palisade: error: {msg}");
            ExitCode::from(commands::EXIT_ERROR)
        }
    }
}
