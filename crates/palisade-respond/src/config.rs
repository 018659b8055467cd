//! `palisade respond serve`'s TOML configuration.
//!
//! ```toml
//! listen = "127.0.0.1:8720"        # where senders POST events
//! db = "palisade-respond.db"       # relative paths are relative to this file
//! rules = ["site-rules.yaml"]      # after the shipped rules
//! window = "30m"                   # how long an incident stays joinable
//! open_at = "low"                  # least severe detection that opens an incident
//! max_body_bytes = 10485760        # larger bodies get 413
//! body_timeout_ms = 30000          # a body not in full this long after its head gets 408
//! header_timeout_ms = 30000        # connecting (or idle) to a request's whole head
//! max_connections = 10000          # open at once; beyond, new ones wait in the backlog
//!
//! [tls]                            # optional: HTTPS (HTTP/1.1 and HTTP/2) with rustls
//! cert = "server.pem"              #   certificate chain, PEM
//! key = "server.key"               #   its private key, PEM
//! client_ca = "senders-ca.pem"     #   optional: require client certificates from this CA
//!
//! [[senders]]                      # who may send: a bearer token, stored as its SHA-256
//! name = "falcosidekick"           #   (palisade guard hash-key prints it),
//! token_sha256 = "9f86d08…"        #   or a client certificate's subject CN (with client_ca)
//! # mtls_common_name = "falco.monitoring"
//!
//! [models]                         # guard models and the workloads serving them
//! digits = { namespace = "ml", kind = "Deployment", name = "digits" }
//! ```
//!
//! Unknown keys are refused; errors name the key.

use crate::rules::duration_secs;
use crate::signal::Workload;
use palisade_core::Severity;
use palisade_guard::tenant::{check_caller, check_key_hash};
use serde::Deserialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default = "default_listen")]
    pub listen: String,
    #[serde(default = "default_db")]
    pub db: PathBuf,
    #[serde(default)]
    pub rules: Vec<PathBuf>,
    #[serde(default = "default_window")]
    pub window: String,
    #[serde(default = "default_open_at")]
    pub open_at: String,
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
    /// Longest a body may take to arrive in full after its head (408 after that).
    #[serde(default = "default_timeout_ms")]
    pub body_timeout_ms: u64,
    /// Longest from connecting (or the last answer) to a request's whole head.
    #[serde(default = "default_timeout_ms")]
    pub header_timeout_ms: u64,
    /// Connections open at once.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    #[serde(default)]
    pub senders: Vec<Sender>,
    #[serde(default)]
    pub models: HashMap<String, Workload>,
    /// HTTPS instead of plain HTTP; with `client_ca`, every client needs a certificate.
    #[serde(default)]
    pub tls: Option<palisade_guard::config::Tls>,
    /// People who may use the dashboard (`/ui`), each with the SHA-256 of their token.
    #[serde(default)]
    pub operators: Vec<Operator>,
    #[serde(default)]
    pub response: Response,
}

/// How the server answers incidents.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Response {
    /// The cluster to act on; without it, as kubectl finds one. Actions need `act = true`.
    #[serde(default)]
    pub kubeconfig: Option<PathBuf>,
    /// Whether the server acts on the cluster at all (playbook actions, Roll back).
    #[serde(default)]
    pub act: bool,
    /// Run the matching playbook as soon as an incident opens (stopping at approval gates).
    #[serde(default)]
    pub auto: bool,
    /// More playbook files, after the shipped ones.
    #[serde(default)]
    pub playbooks: Vec<PathBuf>,
    /// Variables for playbook strings (`guard_metrics = "http://…/metrics"`).
    #[serde(default)]
    pub vars: std::collections::BTreeMap<String, String>,
}

/// Who may POST events: known by a bearer token (stored as its SHA-256), or by the subject
/// common name of a client certificate (needs `tls.client_ca`), or either.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sender {
    pub name: String,
    #[serde(default)]
    pub token_sha256: Option<String>,
    #[serde(default)]
    pub mtls_common_name: Option<String>,
}

/// Who may use the dashboard: a token, stored as its SHA-256.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Operator {
    pub name: String,
    pub token_sha256: String,
}

fn default_listen() -> String {
    "127.0.0.1:8720".into()
}
fn default_db() -> PathBuf {
    "palisade-respond.db".into()
}
fn default_window() -> String {
    "30m".into()
}
fn default_open_at() -> String {
    "low".into()
}
fn default_max_body() -> usize {
    10 << 20
}
fn default_timeout_ms() -> u64 {
    30_000
}
fn default_max_connections() -> usize {
    10_000
}

impl Config {
    pub fn load(path: &Path) -> Result<Config, String> {
        let (mut cfg, base) = palisade_core::config::load_with(path, Config::parse)?;
        let fix = |p: &mut PathBuf| palisade_core::config::resolve_relative(base, p);
        fix(&mut cfg.db);
        cfg.rules.iter_mut().for_each(fix);
        cfg.response.playbooks.iter_mut().for_each(fix);
        if let Some(k) = cfg.response.kubeconfig.as_mut() {
            fix(k);
        }
        if let Some(tls) = cfg.tls.as_mut() {
            fix(&mut tls.cert);
            fix(&mut tls.key);
            if let Some(ca) = tls.client_ca.as_mut() {
                fix(ca);
            }
        }
        Ok(cfg)
    }

    pub fn parse(text: &str) -> Result<Config, String> {
        let cfg: Config = toml::from_str(text).map_err(|e| e.to_string())?;
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<(), String> {
        self.listen.parse::<std::net::SocketAddr>().map_err(|_| {
            format!(
                "listen: '{}' is not an address like 127.0.0.1:8720",
                self.listen
            )
        })?;
        self.window_secs()?;
        self.open_at()?;
        if self.max_body_bytes < 1024 {
            return Err(format!(
                "max_body_bytes: {} is too small (at least 1024)",
                self.max_body_bytes
            ));
        }
        for (key, v) in [
            ("body_timeout_ms", self.body_timeout_ms),
            ("header_timeout_ms", self.header_timeout_ms),
            ("max_connections", self.max_connections as u64),
        ] {
            if v == 0 {
                return Err(format!("{key}: must be greater than 0"));
            }
        }
        if self.senders.is_empty() {
            return Err(
                "senders: at least one sender (a token or a client certificate) is needed; ingest \
                 is never open"
                    .into(),
            );
        }
        let mtls = self.tls.as_ref().is_some_and(|t| t.client_ca.is_some());
        for (i, s) in self.senders.iter().enumerate() {
            check_caller(
                &format!("senders[{i}]"),
                &format!("sender '{}'", s.name),
                "token_sha256",
                s.token_sha256.as_deref(),
                s.mtls_common_name.as_deref(),
                mtls,
                "tls.client_ca",
            )?;
        }
        for (i, o) in self.operators.iter().enumerate() {
            check_key_hash(&o.token_sha256, &format!("operators[{i}].token_sha256"))?;
        }
        Ok(())
    }

    pub fn window_secs(&self) -> Result<f64, String> {
        parse_window(&self.window).map_err(|e| format!("window: {e}"))
    }

    pub fn open_at(&self) -> Result<Severity, String> {
        parse_open_at(&self.open_at).map_err(|e| format!("open_at: {e}"))
    }
}

/// A duration for `window` (`30m`, `2h`) in seconds.
pub fn parse_window(s: &str) -> Result<f64, String> {
    duration_secs(s).ok_or_else(|| format!("'{s}' is not a duration like 30m or 2h"))
}

/// The least severe detection that opens an incident (`info` cannot).
pub fn parse_open_at(s: &str) -> Result<Severity, String> {
    s.parse::<Severity>()
        .ok()
        .filter(|s| *s > Severity::Info)
        .ok_or_else(|| format!("'{s}' is not one of low, medium, high, critical"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    #[test]
    fn errors_name_the_key() {
        for (text, want) in [
            ("listen = 'nowhere'", "listen:"),
            ("colour = 'red'", "unknown field `colour`"),
            ("window = 'soon'", "window:"),
            ("open_at = 'info'", "open_at:"),
            ("", "senders: at least one"),
            (
                "[[senders]]\nname = 'x'\ntoken_sha256 = 'abc'",
                "senders[0].token_sha256",
            ),
            ("[[senders]]\nname = 'x'", "senders[0]: sender 'x' needs"),
            (
                "[[senders]]\nname = 'x'\nmtls_common_name = 'falco'",
                "senders[0].mtls_common_name: needs tls.client_ca",
            ),
            (
                format!(
                    "[[senders]]\nname = 'x'\ntoken_sha256 = '{TOKEN}'\n\
                     [[operators]]\nname = 'o'\ntoken_sha256 = 'short'"
                )
                .as_str(),
                "operators[0].token_sha256",
            ),
            (
                format!("body_timeout_ms = 0\n[[senders]]\nname = 'x'\ntoken_sha256 = '{TOKEN}'")
                    .as_str(),
                "body_timeout_ms: must be greater than 0",
            ),
        ] {
            let e = Config::parse(text).unwrap_err();
            assert!(e.contains(want), "{text}: {e}");
        }
        let ok = format!(
            "[[senders]]\nname = 'f'\ntoken_sha256 = '{TOKEN}'\n[models]\ndigits = {{ namespace = 'ml', name = 'digits' }}"
        );
        let c = Config::parse(&ok).unwrap();
        assert_eq!(c.models["digits"].to_string(), "ml/digits[Deployment]");
        assert_eq!(
            (c.body_timeout_ms, c.header_timeout_ms, c.max_connections),
            (30_000, 30_000, 10_000)
        );
    }
}
