//! `palisade guard`: an inference gateway in front of a model server (TF Serving, KServe v2,
//! or any JSON API such as Flask/FastAPI) that adds what model servers lack — per-tenant
//! authentication, rate and concurrency limits, request limits, screening of every input
//! against a training profile, upstream timeouts and a circuit breaker, prediction drift,
//! control-set probes, security events and Prometheus metrics.
//!
//! - [`config`]: the TOML file, validated with errors that name the key.
//! - [`server`]: starting, `/metrics`, reload, shutdown; [`listen`]: TLS, HTTP/1.1 + HTTP/2,
//!   connection limits; [`body`]: request bodies under a size limit and a deadline.
//! - [`gateway`]: one request through every check, in order; [`message`]: the request head
//!   and answer it reads and gives, the same for both HTTP versions.
//! - [`tenant`], [`limit`]: who is calling and how much they may.
//! - [`json`], [`protocol`]: bounded parsing and the model-server protocols.
//! - [`profile`], [`data`]: the training profile (`palisade guard profile`) and its inputs.
//! - [`upstream`], [`drift`], [`probe`]: the model server and what it answers.
//! - [`events`], [`metrics`], [`rules`]: what the guard reports.

pub mod body;
pub mod config;
pub mod data;
pub mod drift;
pub mod events;
pub mod gateway;
pub mod http1;
pub mod json;
pub mod limit;
pub mod listen;
pub mod message;
pub mod metrics;
pub mod probe;
pub mod profile;
pub mod protocol;
pub mod rules;
pub mod server;
pub mod tenant;
pub mod tls;
pub mod upstream;
