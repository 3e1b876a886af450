//! What can go wrong on the wire. The check module maps these (with the
//! phase it was in) to a reason (docs/failures.md) in one place, `check::classify`.

use std::io;
use std::net::SocketAddr;

use thiserror::Error;

use super::address::CodecError;
use super::reply::{Reply, ReplyError};

#[derive(Debug, Error)]
pub enum Error {
    /// The host name did not resolve.
    #[error("cannot resolve {host}: {message}")]
    Dns { host: String, message: String },
    /// The check's deadline passed while waiting.
    #[error("timed out")]
    Timeout,
    /// A socket operation failed (refused, reset, unreachable, …).
    #[error("{0}")]
    Io(#[from] io::Error),
    /// A local failure not caused by the peer, e.g. no free port in the active range.
    #[error("{0}")]
    Local(String),
    /// The server closed the control connection while a reply was expected.
    #[error("server closed the connection")]
    Closed,
    /// Bytes that are not a (bounded) FTP reply.
    #[error("{0}")]
    Reply(#[from] ReplyError),
    /// A well-formed reply, but not one that lets the session go on.
    #[error("{verb}: unexpected reply {}", .reply.lines.last().map(String::as_str).unwrap_or(""))]
    Unexpected { verb: &'static str, reply: Reply },
    /// A 227/229 reply whose address cannot be used.
    #[error("{verb}: {source}")]
    Codec {
        verb: &'static str,
        code: u16,
        #[source]
        source: CodecError,
    },
    /// Active mode: a data connection from a host other than the server.
    #[error("data connection from {peer}, expected the server at {expected}")]
    UnexpectedPeer { peer: SocketAddr, expected: std::net::IpAddr },
    /// Data moved, but not the data expected.
    #[error("{0}")]
    Content(String),
    /// TLS could not be negotiated.
    #[error("TLS handshake failed: {0}")]
    TlsHandshake(String),
    /// The caller stopped the check (a reload or shutdown); it discards the outcome.
    #[error("cancelled: the check was stopped before it finished")]
    Cancelled,
    /// The server's certificate did not verify.
    #[error("TLS certificate invalid: {0}")]
    TlsCertificate(String),
}

impl Error {
    /// The reply code that caused this error, if one did.
    pub fn code(&self) -> Option<u16> {
        match self {
            Error::Unexpected { reply, .. } => Some(reply.code),
            Error::Codec { code, .. } => Some(*code),
            _ => None,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
