//! The result of one check as plain data. It knows nothing of Prometheus:
//! metrics, the status page, `probe` and the diagnosis all read it.

use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::labels::{Mode, Operation, Phase, Reason};
use super::record::SessionRecord;
use crate::ftp::transcript::Transcript;

/// Where a check failed, why, and the FTP reply code that made it fail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    pub phase: Phase,
    pub reason: Reason,
    /// The reply code (`"530"`), or empty when no reply caused the failure.
    pub code: String,
    /// A human sentence; never contains a secret.
    pub message: String,
}

impl Failure {
    pub fn new(phase: Phase, reason: Reason, code: impl Into<String>, message: impl Into<String>) -> Self {
        Failure { phase, reason, code: code.into(), message: message.into() }
    }
}

/// TLS facts of a session, for the transcript and the expiry metric.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct TlsInfo {
    pub version: String,
    pub cipher: String,
    /// notAfter of the server's leaf certificate, Unix seconds.
    pub cert_not_after: Option<i64>,
    /// For each data connection, whether its TLS session resumed the control session.
    pub data_resumed: Vec<bool>,
}

/// Everything one check measured.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub mode: Mode,
    /// Wall-clock end of the check.
    pub finished_at: SystemTime,
    /// Monotonic duration of the whole check.
    pub duration: Duration,
    /// Time spent in each phase that ran, in session order (data phases summed over operations).
    pub phases: Vec<(Phase, Duration)>,
    pub failure: Option<Failure>,
    /// Bytes moved by each data operation that ran.
    pub bytes: Vec<(Operation, u64)>,
    /// `Some(true)` when a 227 reply advertised an address other than the control peer's.
    pub passive_address_mismatch: Option<bool>,
    /// The address 227 advertised, when it was parsed.
    pub passive_advertised: Option<std::net::SocketAddr>,
    pub tls: Option<TlsInfo>,
    /// The control connection's peer: the address that won the connect
    /// (its family is `ftp_ip_protocol`); `None` when no connection was made.
    pub control_peer: Option<std::net::SocketAddr>,
    /// The control connection's local address.
    pub control_local: Option<std::net::SocketAddr>,
    pub transcript: Transcript,
    /// Phase spans and data connections in fields, for diagrams; kept and
    /// dropped with the transcript ([`Outcome::forget_details`]).
    pub record: SessionRecord,
}

impl Outcome {
    pub fn success(&self) -> bool {
        self.failure.is_none()
    }

    /// 4 or 6: the address family of the control connection (`ftp_ip_protocol`).
    pub fn ip_protocol(&self) -> Option<u8> {
        self.control_peer.map(|a| if crate::ftp::data::canonical(a.ip()).is_ipv4() { 4 } else { 6 })
    }

    /// Drops the transcript and the session record, keeping the figures: a
    /// store keeps details only for failing checks and the last few successes.
    pub fn forget_details(&mut self) {
        self.transcript = Transcript::default();
        self.record = SessionRecord::default();
    }

    pub fn phase(&self, phase: Phase) -> Option<Duration> {
        self.phases.iter().find(|(p, _)| *p == phase).map(|(_, d)| *d)
    }

    /// The one-line summary of docs/flags.md: `passive: ok 0.084s` or
    /// `active: FAILED phase=data_connect reason=timeout code= after 10.002s`.
    pub fn summary(&self) -> String {
        let secs = self.duration.as_secs_f64();
        match &self.failure {
            None => format!("{}: ok {secs:.3}s", self.mode),
            Some(f) => {
                format!(
                    "{}: FAILED phase={} reason={} code={} after {secs:.3}s",
                    self.mode, f.phase, f.reason, f.code
                )
            }
        }
    }

    pub fn bytes(&self, op: Operation) -> Option<u64> {
        self.bytes.iter().find(|(o, _)| *o == op).map(|(_, b)| *b)
    }
}

#[cfg(test)]
impl Outcome {
    /// An outcome for unit tests: ended now, no phases, no details.
    pub(crate) fn for_test(mode: Mode, duration: Duration, failure: Option<Failure>) -> Outcome {
        Outcome {
            mode,
            finished_at: SystemTime::now(),
            duration,
            phases: Vec::new(),
            failure,
            bytes: Vec::new(),
            passive_address_mismatch: None,
            passive_advertised: None,
            tls: None,
            control_peer: None,
            control_local: None,
            transcript: Transcript::default(),
            record: SessionRecord::default(),
        }
    }
}
