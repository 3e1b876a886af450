//! One check: a session in one mode turned into phases, timings and at most
//! one `(phase, reason, code)`.
//!
//! This module uses the protocol engine ([`crate::ftp`]) and nothing above
//! it: it takes a plain [`CheckPlan`] and returns a plain [`Outcome`].

mod classify;
mod diagnose;
mod happy_eyeballs;
pub mod labels;
pub mod outcome;
pub mod plan;
mod probe_content;
pub mod record;
mod resolve;
mod runner;
mod transfer;

pub use crate::ftp::transcript::{self, Transcript};
pub use classify::classify;
pub use diagnose::{diagnose, Diagnosis};
pub use labels::{IpProtocol, Mode, Operation, Phase, Reason, TlsMode};
pub use outcome::{Failure, Outcome, TlsInfo};
pub use plan::{
    ActiveOptions, CheckPlan, OperationSpec, PassiveOptions, RetrieveSpec, StoreSpec, TlsOptions, Toggle,
};
pub use record::{DataConnection, DataFailure, PhaseSpan, SessionRecord, SetupCommand};
pub use resolve::{CheckEnv, Lookup, LookupError, Resolver, SystemResolver};
pub use runner::{run, run_cancellable};
/// Re-exported so callers of [`run_cancellable`] need not depend on tokio-util.
pub use tokio_util::sync::CancellationToken;
