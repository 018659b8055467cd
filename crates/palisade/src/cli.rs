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
    /// Model files: find the ones that run code when loaded; sign, verify, and list them (ML-BOM)
    Model {
        #[command(subcommand)]
        command: ModelCommand,
    },
    /// Inference gateway in front of a model server: tenants, rate limits, input screening,
    /// upstream protection, drift, control-set probes, events and metrics
    Guard {
        #[command(subcommand)]
        command: GuardCommand,
    },
    /// Incident response: ingest Falco, Kubernetes audit and guard events, correlate them into
    /// incidents, keep a tamper-evident record, report response times
    Respond {
        #[command(subcommand)]
        command: RespondCommand,
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

/// Where `palisade respond` keeps its record unless told otherwise.
pub const RESPOND_DB: &str = "palisade-respond.db";

#[derive(Subcommand, Debug)]
pub enum RespondCommand {
    /// Receive events over HTTP (Falco, Falcosidekick, Kubernetes audit webhook, guard,
    /// generic), record them, correlate incidents (until SIGINT/SIGTERM)
    #[command(
        after_help = "Endpoints: POST /ingest (any event), /ingest/falco, /ingest/falcosidekick, /ingest/k8s-audit, /ingest/guard, /ingest/generic; GET /healthz. Senders authenticate with Authorization: Bearer TOKEN. A 200 means the whole batch is on disk.\n\nExample:\n  palisade respond serve --config examples/respond/respond.toml"
    )]
    Serve {
        /// The TOML configuration (listen, db, senders, rules, models)
        #[arg(long, short = 'c')]
        config: PathBuf,
    },
    /// Record events from files (or - for stdin): detect, correlate, print the incidents
    #[command(
        after_help = "A file is one JSON value (an object, an array, a Kubernetes audit EventList) or JSON lines. Each event is recognised by its fields unless --format says what they all are. Events that cannot be read are reported with their file and line, recorded as input errors, and the rest are kept.\n\nExample:\n  palisade respond replay --db /tmp/ir.db ../shared/peer/falco/test/trace_files/k8s_audit/*.json"
    )]
    Replay {
        /// Event files; - reads stdin
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[command(flatten)]
        db: RespondDb,
        #[command(flatten)]
        detection: RespondDetection,
        /// What the events are: auto, falco, k8s-audit, guard, generic
        #[arg(long, default_value = "auto")]
        format: String,
        /// Stamp detections with the events' own time (event) or the time of processing (wall)
        #[arg(long, default_value = "event", value_parser = ["event", "wall"])]
        clock: String,
        /// Print the incidents as JSON
        #[arg(long)]
        json: bool,
    },
    /// List incidents (open ones unless --all)
    Incidents {
        #[command(flatten)]
        db: RespondDb,
        /// Closed incidents too
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// Show one incident: timeline, findings, techniques, blast radius, response times
    Show {
        /// Incident id (INC-0001)
        id: String,
        #[command(flatten)]
        db: RespondDb,
        #[arg(long)]
        json: bool,
    },
    /// Move an incident to its next NIST phase: triaged, contained, eradicated, recovered, closed
    #[command(
        after_help = "Phases only move forward. Closing needs the lessons learned as --reason.\n\nExample:\n  palisade respond phase INC-0001 contained --by alice --reason \"scaled digits to zero\""
    )]
    Phase {
        id: String,
        /// triaged, contained, eradicated, recovered or closed
        phase: String,
        /// Who acted
        #[arg(long)]
        by: String,
        /// Why (for closed: the lessons learned)
        #[arg(long, default_value = "")]
        reason: String,
        #[command(flatten)]
        db: RespondDb,
    },
    /// Prove the record's hash chain and evidence hashes (exit 1 when broken)
    Verify {
        #[command(flatten)]
        db: RespondDb,
        /// A head hash noted earlier (printed by verify): also proves nothing after it was cut
        #[arg(long)]
        expect_head: Option<String>,
    },
    /// Response times (MTTD, MTTA, MTTC, MTTR) over a period
    Report {
        #[command(flatten)]
        db: RespondDb,
        /// Incidents opened at or after this date or time (2026-11-01 or RFC 3339)
        #[arg(long)]
        since: Option<String>,
        /// Incidents opened before this date or time
        #[arg(long)]
        until: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Run (or resume) the playbook that answers an incident, through the Kubernetes API
    #[command(
        after_help = "The first playbook whose match fits the incident runs, unless --playbook names one. Steps marked 'approval: required' stop the run until `palisade respond approve`. --dry-run changes nothing and prints the steps with their kubectl equivalents.\n\nExamples:\n  palisade respond run INC-0001 --dry-run\n  palisade respond run INC-0001 --kubeconfig ~/.kube/config"
    )]
    Run {
        id: String,
        #[command(flatten)]
        db: RespondDb,
        #[command(flatten)]
        response: RespondPlaybooks,
        /// Run this playbook rather than the first that matches
        #[arg(long)]
        playbook: Option<String>,
        /// Print the steps and their kubectl equivalents; change nothing
        #[arg(long)]
        dry_run: bool,
        /// Approve every gate as this person (records who)
        #[arg(long, value_name = "WHO")]
        approve_all_as: Option<String>,
    },
    /// Approve the step an incident's playbook is waiting on, then go on with the run
    Approve {
        id: String,
        /// Who approves
        #[arg(long)]
        by: String,
        #[command(flatten)]
        db: RespondDb,
        #[command(flatten)]
        response: RespondPlaybooks,
    },
    /// List the playbooks in force (the shipped ones and --playbooks files), or check them
    Playbooks {
        #[command(flatten)]
        response: RespondPlaybooks,
        #[arg(long)]
        json: bool,
    },
    /// Replay one of the seeds' incidents end to end against an in-process Kubernetes API
    /// server and print the response times (exit 1 when it does not reach its phase)
    #[command(
        after_help = "breakout: a privileged inference pod escapes (release_agent), reads the weights and calls out → evidence, quarantine, scale to zero, cordon and drain, revoke credentials, roll back, recovered.\nadversarial: adversarial inputs and a changed model (guard probe) → roll back, probe back in range, closed.\nflood: one tenant floods → an incident about that tenant only; nothing in the cluster changes.\n\nExample:\n  palisade respond drill all"
    )]
    Drill {
        /// breakout, adversarial, flood or all
        #[arg(default_value = "all")]
        name: String,
        /// Keep the record in this database (default: in memory)
        #[arg(long)]
        db: Option<PathBuf>,
        /// More playbooks (YAML), after the shipped ones
        #[arg(long = "playbooks")]
        playbooks: Vec<PathBuf>,
    },
    /// Print Palisade's ML rules for Falco (model weights read, shells and package managers,
    /// outbound connections, writes below model directories), or check Falco rules files
    #[command(
        after_help = "Examples:\n  palisade respond falco-rules > /etc/falco/rules.d/palisade_ml_rules.yaml\n  palisade respond falco-rules --check /etc/falco/falco_rules.yaml /etc/falco/rules.d/palisade_ml_rules.yaml"
    )]
    FalcoRules {
        /// Check these rules files (in Falco's load order) instead of printing ours; exit 1 on problems
        #[arg(long, num_args = 1..)]
        check: Vec<PathBuf>,
    },
    /// List the detection rules in force (the shipped ones and --rules files), or check them
    Rules {
        #[command(flatten)]
        detection: RespondDetection,
        #[arg(long)]
        json: bool,
    },
}

#[derive(clap::Args, Debug)]
pub struct RespondDb {
    /// The response database (SQLite; created when absent)
    #[arg(long, default_value = RESPOND_DB)]
    pub db: PathBuf,
}

#[derive(clap::Args, Debug)]
pub struct RespondPlaybooks {
    /// More playbooks (YAML), after the shipped ones; repeatable
    #[arg(long = "playbooks")]
    pub playbooks: Vec<PathBuf>,
    /// The cluster to act on (default: as kubectl finds it — KUBECONFIG, ~/.kube/config, in-cluster)
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// A variable for playbook strings, NAME=VALUE (e.g. guard_metrics=http://guard:9100/metrics); repeatable
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct RespondDetection {
    /// More detection rules (YAML), after the shipped ones; repeatable
    #[arg(long = "rules")]
    pub rules: Vec<PathBuf>,
    /// How long an incident stays open to new detections after its last one (30m, 2h)
    #[arg(long, default_value = "30m")]
    pub window: String,
    /// The least severe detection that opens an incident: low, medium, high, critical
    #[arg(long, default_value = "low")]
    pub open_at: String,
}

#[derive(Subcommand, Debug)]
pub enum GuardCommand {
    /// Serve: listen, screen, forward (until SIGINT/SIGTERM; SIGHUP reloads the configuration)
    #[command(
        after_help = "Events are written to stdout as JSON lines; logs go to stderr.\n\nExample:\n  palisade guard run --config examples/guard/guard.toml"
    )]
    Run {
        /// The guard's TOML configuration
        #[arg(long, short = 'c')]
        config: PathBuf,
    },
    /// Check a configuration file and the profiles and control sets it names, then exit
    CheckConfig {
        /// The guard's TOML configuration
        config: PathBuf,
    },
    /// Build a training profile (feature ranges and a Mahalanobis model) from training data
    #[command(
        after_help = "Every fifth row is held out: the distance quantiles that thresholds such as \"p99.9\" refer to are measured on rows the fit did not see.\n\nExample:\n  palisade guard profile --data train.csv --label-column label --out digits.profile.json"
    )]
    Profile {
        /// Training data: CSV (numbers; an optional header row) or a NumPy .npy array
        #[arg(long)]
        data: PathBuf,
        /// CSV column holding the label, left out of the features (index from 0, or header name)
        #[arg(long)]
        label_column: Option<String>,
        /// The model's predictions on reference data (CSV or .npy, one per row): what
        /// prediction drift is measured against
        #[arg(long)]
        predictions: Option<PathBuf>,
        /// Covariance shrinkage towards a scaled identity: a number between 0 and 1, or
        /// `ledoit-wolf` for Ledoit and Wolf's estimate. The default, 0.001, keeps the
        /// directions in which training data barely varies sharp, which is where adversarial
        /// perturbations show (bench/README.md has the measurements)
        #[arg(long, default_value = "0.001")]
        shrinkage: String,
        /// Where to write the profile (JSON)
        #[arg(long, short = 'o')]
        out: PathBuf,
    },
    /// Score rows against a profile, as the guard does: one line per row with its Mahalanobis
    /// distance and the number of features outside the training range (CSV on stdout)
    #[command(
        after_help = "Use it to choose thresholds, or to test a detector offline (bench/guard_detection.py does).\n\nExample:\n  palisade guard score --profile digits.profile.json --data suspicious.csv"
    )]
    Score {
        /// A profile written by `palisade guard profile`
        #[arg(long)]
        profile: PathBuf,
        /// Rows to score: CSV or .npy, the same columns as the training data
        #[arg(long)]
        data: PathBuf,
        /// CSV column to leave out (index from 0, or header name)
        #[arg(long)]
        label_column: Option<String>,
        /// Range widening, as screening.range_margin
        #[arg(long, default_value_t = 0.05)]
        range_margin: f64,
    },
    /// Print the SHA-256 of an API key (read from stdin) for a tenant's api_key_sha256
    HashKey,
}

#[derive(Subcommand, Debug)]
pub enum ModelCommand {
    /// Analyse model files (pickle, PyTorch, TorchScript, joblib, NumPy, safetensors, Keras,
    /// ONNX, GGUF, SavedModel, and the zip, tar, 7z and compressed files they travel in)
    /// without loading them
    #[command(
        after_help = "Formats are recognised by content, whatever the file is called. Nothing is unpickled or imported.\n\nExamples:\n  palisade model scan model.pt\n  palisade model scan models/ --format json\n  palisade model scan checkpoint.bin --fail-on high"
    )]
    Scan(ScanArgs),
    /// Sign a model (file or directory) in the OpenSSF Model Signing format (the Sigstore
    /// bundle `model_signing` writes)
    #[command(
        after_help = "Examples:\n  palisade model sign key --private-key key.pem --signature model.sig models/iris\n  palisade model sign certificate --private-key key.pem --signing-certificate leaf.pem --certificate-chain ca.pem models/iris"
    )]
    Sign {
        #[command(subcommand)]
        method: SignMethod,
    },
    /// Verify a model against its signature: the signature is valid for the key or
    /// certificates given, and every file is as signed (none added, removed or changed)
    #[command(
        after_help = "Exit codes: 0 verified; 1 the signature or the model does not match; 2 usage error or unreadable input.\n\nExamples:\n  palisade model verify key --public-key pub.pem --signature model.sig models/iris\n  palisade model verify certificate --certificate-chain ca.pem --signature model.sig models/iris"
    )]
    Verify {
        #[command(subcommand)]
        method: VerifyMethod,
    },
    /// Write a CycloneDX 1.6 ML-BOM of the model files found: each a machine-learning-model
    /// component with its SHA-256, format, model-scan verdict and signature status
    #[command(
        after_help = "Examples:\n  palisade model bom models/ -o ml-bom.json\n  palisade model bom examples/sklearn-api/hardened --config examples/sklearn-api/palisade.toml"
    )]
    Bom(BomArgs),
}

#[derive(clap::Args, Debug)]
pub struct BomArgs {
    /// Files or directories holding models
    #[arg(required = true)]
    pub paths: Vec<String>,
    /// Write the BOM to FILE instead of standard output
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Configuration file: the model allowlist and the trusted signing keys (default:
    /// ./palisade.toml, or palisade.toml at the root of the one directory given)
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// What every signing method shares (the names follow `model_signing`'s options).
#[derive(clap::Args, Debug)]
pub struct SignCommon {
    /// The model: a file or a directory
    pub model: PathBuf,
    /// Where to write the signature
    #[arg(long, value_name = "FILE", default_value = "model.sig")]
    pub signature: PathBuf,
    /// Paths (relative to the model, or inside it) to leave out of the signature
    #[arg(long = "ignore-paths", alias = "ignore_paths", value_name = "PATH")]
    pub ignore_paths: Vec<PathBuf>,
    /// Do not leave out .git, .gitattributes, .github and .gitignore
    #[arg(long = "no-ignore-git-paths", alias = "no_ignore_git_paths")]
    pub no_ignore_git_paths: bool,
    /// Follow symbolic links (their targets' bytes are signed under the link's name)
    #[arg(long = "allow-symlinks", alias = "allow_symlinks")]
    pub allow_symlinks: bool,
    /// Digest algorithm
    #[arg(long = "hash", value_enum, default_value_t = HashChoice::Sha256)]
    pub hash: HashChoice,
    /// Hash files in shards of this many bytes (model_signing's `shards` serialization);
    /// default: one digest per file
    #[arg(long = "shard-size", value_name = "BYTES")]
    pub shard_size: Option<u64>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashChoice {
    Sha256,
    Blake2b,
    Blake3,
}

#[derive(Subcommand, Debug)]
pub enum SignMethod {
    /// Sign with a private key (PEM ECDSA P-256/P-384, or Ed25519)
    Key {
        #[command(flatten)]
        common: SignCommon,
        /// The private key (PEM)
        #[arg(long = "private-key", alias = "private_key", value_name = "KEY")]
        private_key: PathBuf,
    },
    /// Sign with a private key and its X.509 certificate (and chain, included in the bundle)
    Certificate {
        #[command(flatten)]
        common: SignCommon,
        #[arg(long = "private-key", alias = "private_key", value_name = "KEY")]
        private_key: PathBuf,
        /// The signing certificate (PEM), for the private key
        #[arg(
            long = "signing-certificate",
            alias = "signing_certificate",
            value_name = "CERT"
        )]
        signing_certificate: PathBuf,
        /// Certificates to include after it (PEM; repeat, or several in one file)
        #[arg(
            long = "certificate-chain",
            alias = "certificate_chain",
            value_name = "CERT"
        )]
        certificate_chain: Vec<PathBuf>,
    },
    /// Keyless Sigstore signing (needs the public Fulcio and Rekor services: not offline)
    Sigstore {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
        rest: Vec<String>,
    },
}

/// What every verification method shares.
#[derive(clap::Args, Debug)]
pub struct VerifyCommon {
    /// The model: a file or a directory
    pub model: PathBuf,
    /// The signature to check
    #[arg(long, value_name = "FILE", required = true)]
    pub signature: PathBuf,
    /// More paths to leave out (the signature's own ignore list always applies)
    #[arg(long = "ignore-paths", alias = "ignore_paths", value_name = "PATH")]
    pub ignore_paths: Vec<PathBuf>,
    /// Check only the files the signature lists (files added since are not an error)
    #[arg(long = "ignore-unsigned-files", alias = "ignore_unsigned_files")]
    pub ignore_unsigned_files: bool,
    /// Accepted for compatibility with model_signing; the signature says whether symlinks
    /// were signed
    #[arg(long = "allow-symlinks", alias = "allow_symlinks", hide = true)]
    pub allow_symlinks: bool,
    /// Accepted for compatibility with model_signing (the signature's list applies)
    #[arg(
        long = "no-ignore-git-paths",
        alias = "no_ignore_git_paths",
        hide = true
    )]
    pub no_ignore_git_paths: bool,
}

#[derive(Subcommand, Debug)]
pub enum VerifyMethod {
    /// Verify with the signer's public key (PEM)
    Key {
        #[command(flatten)]
        common: VerifyCommon,
        #[arg(long = "public-key", alias = "public_key", value_name = "KEY")]
        public_key: PathBuf,
    },
    /// Verify a certificate-signed model against trusted certificates (PEM roots or
    /// intermediates; repeat, or several in one file)
    Certificate {
        #[command(flatten)]
        common: VerifyCommon,
        #[arg(
            long = "certificate-chain",
            alias = "certificate_chain",
            value_name = "CERT",
            required = true
        )]
        certificate_chain: Vec<PathBuf>,
    },
    /// Keyless Sigstore verification (needs the public Sigstore services: not offline)
    Sigstore {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
        rest: Vec<String>,
    },
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
