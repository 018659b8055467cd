//! Command-line interface definition.

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "palisade",
    version,
    about = "Secure machine-learning workloads in containers and on Kubernetes",
    long_about = "Secure machine-learning workloads in containers and on Kubernetes.\n\nExit codes: 0 nothing at or above --fail-on; 1 findings at or above it; 2 usage error or input that could not be analysed."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Scan Kubernetes manifests (files, directories, or `-` for stdin) for security findings
    Scan(ScanArgs),
    /// Who can reach which workload, on which ports, and why (from NetworkPolicies)
    Reach(ReachArgs),
    /// Model files: find the ones that run code when loaded
    Model {
        #[command(subcommand)]
        command: ModelCommand,
    },
    /// List every rule
    Rules {
        #[arg(long, value_enum, default_value_t = ListFormat::Text)]
        format: ListFormat,
    },
    /// Print the documentation of one rule (by code or name)
    Explain {
        /// Rule code (K8S001) or name (privileged-container)
        rule: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum ModelCommand {
    /// Analyse model files (pickle, PyTorch, joblib, NumPy, safetensors, and the zip, tar and
    /// compressed files they travel in) without loading them
    #[command(
        after_help = "Formats are recognised by content, whatever the file is called. Nothing is unpickled or imported.\n\nExamples:\n  palisade model scan model.pt\n  palisade model scan models/ --format json\n  palisade model scan checkpoint.bin --fail-on high"
    )]
    Scan(ScanArgs),
}

#[derive(clap::Args, Debug)]
pub struct ScanArgs {
    /// Files or directories to scan; `-` reads standard input (e.g. `helm template . | palisade scan -`)
    #[arg(required = true)]
    pub paths: Vec<String>,
    /// Output format
    #[arg(long, short = 'f', value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Write the report to FILE instead of standard output
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Exit 1 when a finding is at or above this severity (default: low, or fail_on in palisade.toml)
    #[arg(long, value_name = "SEVERITY")]
    pub fail_on: Option<String>,
    /// Do not exit 2 when some input could not be analysed (it is still reported)
    #[arg(long)]
    pub ignore_errors: bool,
    /// Configuration file (default: ./palisade.toml when present)
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Report only findings not in this earlier `--format json` report
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Colour in text output: auto (on a terminal unless NO_COLOR is set), always, never
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Selectors: a label selector as kubectl takes it (app=model-server, tier!=gpu, env in (a,b), !canary), a workload (ml/model-server, ml/model-server[Deployment], ml/*), or `outside`.\n\nExamples:\n  palisade reach deploy/                                 every allowed connection\n  palisade reach deploy/ --to app=model-server --explain who can reach the model server, and why\n  palisade reach deploy/ --format connlist               netpol-analyzer's line format\n  palisade reach deploy/ --generate --allow 'app=frontend -> app=model-server : TCP 8501'"
)]
pub struct ReachArgs {
    /// Files or directories with the manifests and NetworkPolicies; `-` reads standard input
    #[arg(required = true)]
    pub paths: Vec<String>,
    /// Output format: text, json, or connlist (netpol-analyzer's `src => dst : conns` lines)
    #[arg(long, short = 'f', value_enum, default_value_t = ReachFormat::Text)]
    pub format: ReachFormat,
    /// Only connections to workloads matching SELECTOR
    #[arg(long, value_name = "SELECTOR")]
    pub to: Option<String>,
    /// Only connections from workloads matching SELECTOR
    #[arg(long, value_name = "SELECTOR")]
    pub from: Option<String>,
    /// Name the policy rules that allow each connection, or what denies it (denied pairs are listed when --to/--from focus the query)
    #[arg(long)]
    pub explain: bool,
    /// Write least-privilege NetworkPolicies for the --allow intent (default deny, the allowed edges, DNS egress) and prove them
    #[arg(long)]
    pub generate: bool,
    /// An allowed edge for --generate: 'FROM -> TO' or 'FROM -> TO : TCP 8501' (repeatable)
    #[arg(long, value_name = "EDGE", requires = "generate")]
    pub allow: Vec<String>,
    /// Write the output to FILE instead of standard output
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Do not exit 2 when a manifest or policy could not be read (it is still reported)
    #[arg(long)]
    pub ignore_errors: bool,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReachFormat {
    Text,
    Json,
    Connlist,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Sarif,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListFormat {
    Text,
    Json,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}
