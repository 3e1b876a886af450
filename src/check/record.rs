//! A structured record of one session, for drawing it (the status page's
//! sequence diagram): when each phase ran, and what each data connection
//! was — the command that set it up, what the reply said, where it really
//! went, when it opened and closed, and how it failed.
//!
//! The transcript says the same in free text; this says it in fields, so
//! a picture never parses prose. Like the transcript it is bounded (a
//! hostile server cannot make it grow: entries past the caps are counted,
//! not kept) and secret-free (addresses, offsets and enums only), and the
//! store drops it together with the transcript ([`super::Outcome::forget_details`]).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde::Serialize;

use super::labels::{Operation, Phase, Reason};

/// Phase spans kept at most. A check has at most a dozen phases plus three
/// per data operation; this only bounds a caller with an unusual plan.
const MAX_SPANS: usize = 64;
/// Data connections kept at most (list, retrieve, store, read-back: four).
const MAX_DATA: usize = 16;

/// One stay in a phase, in offsets from the start of the check (like
/// transcript lines). Data phases recur: one span per operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PhaseSpan {
    pub phase: Phase,
    pub start: Duration,
    pub end: Duration,
}

/// The command that prepared a data connection (RFC 959 §4.1.2, RFC 2428).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum SetupCommand {
    #[serde(rename = "PASV")]
    Pasv,
    #[serde(rename = "EPSV")]
    Epsv,
    #[serde(rename = "PORT")]
    Port,
    #[serde(rename = "EPRT")]
    Eprt,
}

impl SetupCommand {
    pub fn as_str(self) -> &'static str {
        match self {
            SetupCommand::Pasv => "PASV",
            SetupCommand::Epsv => "EPSV",
            SetupCommand::Port => "PORT",
            SetupCommand::Eprt => "EPRT",
        }
    }
}

/// How opening a data connection failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DataFailure {
    /// The check ended (a refused command, a setup error, a cancellation)
    /// before the connection was attempted or arrived.
    NotConnected,
    /// Passive: the connect did not finish; active: the server never came.
    Timeout,
    /// Passive: the server's data port answered with a reset.
    Refused,
    /// No route to the data address.
    Unreachable,
    /// Active: a connection came from a host other than the server.
    UnexpectedPeer,
}

impl DataFailure {
    pub fn as_str(self) -> &'static str {
        match self {
            DataFailure::NotConnected => "not_connected",
            DataFailure::Timeout => "timeout",
            DataFailure::Refused => "refused",
            DataFailure::Unreachable => "unreachable",
            DataFailure::UnexpectedPeer => "unexpected_peer",
        }
    }

    /// From the reason the check would report for the error that ended the
    /// connection attempt (one mapping, `check::classify`, decides both).
    pub(super) fn from_reason(reason: Reason) -> DataFailure {
        match reason {
            Reason::Timeout => DataFailure::Timeout,
            Reason::ConnectionRefused => DataFailure::Refused,
            Reason::NetworkUnreachable => DataFailure::Unreachable,
            Reason::UnexpectedPeer => DataFailure::UnexpectedPeer,
            _ => DataFailure::NotConnected,
        }
    }
}

/// One data connection of the session, opened or only prepared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DataConnection {
    /// The data operation it served; a store's read-back is `Store` with command `RETR`.
    pub operation: Operation,
    /// The transfer command: `LIST`, `RETR` or `STOR`.
    pub command: &'static str,
    /// PASV/EPSV/PORT/EPRT; `None` when the check ended before it was sent.
    pub setup: Option<SetupCommand>,
    /// The address in the 227 reply, or the one PORT/EPRT announced; `None`
    /// for EPSV (RFC 2428 §3: its reply carries a port only).
    pub announced_ip: Option<IpAddr>,
    /// The port of the 227/229 reply, or the one PORT/EPRT announced.
    pub announced_port: Option<u16>,
    /// Passive: a 227 address other than the control peer's (NAT without a
    /// masquerade address); `None` when no 227 was read for this connection.
    pub announced_differs: Option<bool>,
    /// Passive: where the exporter connected; active: where the server's
    /// connection came from (an unexpected one included).
    pub peer: Option<SocketAddr>,
    /// The control connection's peer, the address the data connection is checked against.
    pub control_peer: Option<SocketAddr>,
    /// When the TCP connection was established (from check start).
    pub opened: Option<Duration>,
    /// When it was closed (or abandoned, when the check failed with it open).
    pub closed: Option<Duration>,
    /// FTPS: whether the data connection's TLS session resumed the control one.
    pub tls_resumed: Option<bool>,
    pub failure: Option<DataFailure>,
}

impl DataConnection {
    /// The RETR that reads back what a `store` wrote.
    pub fn is_read_back(&self) -> bool {
        self.operation == Operation::Store && self.command == "RETR"
    }
}

/// Phase spans and data connections of one session, in session order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SessionRecord {
    pub spans: Vec<PhaseSpan>,
    pub data: Vec<DataConnection>,
    /// Spans and data connections past the caps: counted, not kept.
    pub dropped: usize,
    /// The last `begin_data` was past the cap: its details go nowhere.
    #[serde(skip)]
    data_full: bool,
}

impl SessionRecord {
    pub(super) fn span(&mut self, phase: Phase, start: Duration, end: Duration) {
        if self.spans.len() >= MAX_SPANS {
            self.dropped += 1;
            return;
        }
        self.spans.push(PhaseSpan { phase, start, end });
    }

    /// Starts the entry of the next data connection; later calls fill in
    /// the newest entry. Past the cap nothing is kept.
    pub(super) fn begin_data(
        &mut self,
        operation: Operation,
        command: &'static str,
        control_peer: Option<SocketAddr>,
    ) {
        if self.data.len() >= MAX_DATA {
            self.dropped += 1;
            self.data_full = true;
            return;
        }
        self.data_full = false;
        self.data.push(DataConnection {
            operation,
            command,
            setup: None,
            announced_ip: None,
            announced_port: None,
            announced_differs: None,
            peer: None,
            control_peer,
            opened: None,
            closed: None,
            tls_resumed: None,
            failure: None,
        });
    }

    /// The entry of the data connection being opened, if it is kept.
    pub(super) fn current(&mut self) -> Option<&mut DataConnection> {
        if self.data_full {
            None
        } else {
            self.data.last_mut()
        }
    }

    /// The check ended at `at`: connections still open were abandoned
    /// then, and ones never opened that no error explained (a cancelled
    /// check drops its attempt) were not connected.
    pub(super) fn settle(&mut self, at: Duration) {
        for d in &mut self.data {
            match d.opened {
                Some(_) => {
                    d.closed.get_or_insert(at);
                }
                None => {
                    d.failure.get_or_insert(DataFailure::NotConnected);
                }
            }
        }
    }

    /// The spans of `phase`, in order.
    pub fn spans_of(&self, phase: Phase) -> impl Iterator<Item = &PhaseSpan> {
        self.spans.iter().filter(move |s| s.phase == phase)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_in_spans_and_connections() {
        let mut r = SessionRecord::default();
        for i in 0..100u64 {
            r.span(Phase::Transfer, Duration::from_millis(i), Duration::from_millis(i + 1));
        }
        for _ in 0..20 {
            r.begin_data(Operation::List, "LIST", None);
            if let Some(d) = r.current() {
                d.opened = Some(Duration::ZERO);
            }
        }
        assert_eq!((r.spans.len(), r.data.len(), r.dropped), (MAX_SPANS, MAX_DATA, 36 + 4));
        assert!(r.current().is_none(), "past the cap, details go nowhere");
        r.settle(Duration::from_secs(1));
        assert!(r.data.iter().all(|d| d.closed == Some(Duration::from_secs(1))));
    }

    #[test]
    fn unexplained_unopened_connections_settle_as_not_connected() {
        let mut r = SessionRecord::default();
        r.begin_data(Operation::Store, "RETR", None);
        r.settle(Duration::from_millis(5));
        assert!(r.data[0].is_read_back());
        assert_eq!((r.data[0].failure, r.data[0].closed), (Some(DataFailure::NotConnected), None));
        assert_eq!(DataFailure::from_reason(Reason::ConnectionRefused), DataFailure::Refused);
        assert_eq!(serde_json::to_string(&r.data[0].failure).unwrap(), "\"not_connected\"");
    }
}
