//! ftp_exporter: checks FTP servers end to end, in active and passive mode,
//! and exports per-phase timings and named failure reasons to Prometheus.
//!
//! Data flows one way:
//! `config → scheduler → check → Outcome → store → metrics/status → http`,
//! with [`ftp`] the protocol engine underneath [`check`].

pub mod app;
pub mod check;
pub mod cli;
pub mod config;
#[cfg(feature = "demo")]
pub mod demo;
#[cfg(feature = "demo")]
pub mod embedded;
pub mod ftp;
#[doc(hidden)]
pub mod fuzzing;
pub mod http;
pub mod metrics;
pub mod scheduler;
pub mod secret;
pub mod shard;
pub mod small_file;
pub mod status;
pub mod store;
