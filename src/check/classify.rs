//! The one place where an engine error, in the phase it happened, becomes
//! a docs/failures.md `(reason, code)`.

use std::io;

use super::labels::{Phase, Reason};
use super::outcome::Failure;
use crate::ftp::reply::ReplyError;
use crate::ftp::Error;

/// Verbs whose 450/550 means "that file or directory is not there / not usable".
const FILE_VERBS: &[&str] = &["LIST", "NLST", "RETR", "STOR", "DELE", "SIZE", "CWD"];

pub fn classify(phase: Phase, err: &Error) -> Failure {
    let code = err.code().map(|c| c.to_string()).unwrap_or_default();
    let reason = match err {
        Error::Dns { .. } => Reason::DnsError,
        Error::Timeout => Reason::Timeout,
        Error::Io(e) => io_reason(e),
        // Stopped from this side (reload, shutdown): a local event, and the
        // caller discards the outcome anyway.
        Error::Local(_) | Error::Cancelled => Reason::IoError,
        Error::Closed => Reason::ConnectionClosed,
        Error::Reply(ReplyError::LineTooLong | ReplyError::TooLong | ReplyError::NotFtp(_)) => {
            Reason::ProtocolError
        }
        Error::Codec { .. } => Reason::ProtocolError,
        Error::UnexpectedPeer { .. } => Reason::UnexpectedPeer,
        Error::Content(_) => Reason::ContentMismatch,
        Error::TlsHandshake(_) => Reason::TlsHandshakeFailed,
        Error::TlsCertificate(_) => Reason::TlsCertificateInvalid,
        Error::Unexpected { verb, reply } => reply_reason(phase, verb, reply.code, reply.text()),
    };
    Failure { phase, reason, code, message: err.to_string() }
}

fn reply_reason(phase: Phase, verb: &str, code: u16, text: &str) -> Reason {
    match code {
        421 => Reason::ServiceUnavailable,
        530 if phase == Phase::Login && is_connection_limit(text) => Reason::ServiceUnavailable,
        530 | 430 | 332 if phase == Phase::Login => Reason::AuthFailed,
        450 | 550 if FILE_VERBS.contains(&verb) => Reason::FileUnavailable,
        // AUTH TLS, PBSZ or PROT refused: TLS cannot be negotiated
        // (RFC 4217 §4, §8–9: 431, 500, 502, 504, 534, 536).
        c if c >= 400 && phase == Phase::Tls => Reason::TlsHandshakeFailed,
        c if c >= 400 => Reason::Rejected,
        // A positive reply where another was expected: out of sequence.
        _ => Reason::ProtocolError,
    }
}

/// ProFTPD answers its connection limits (`MaxClients`, `MaxClientsPerHost`)
/// with 530 to PASS, "Sorry, the maximum number of allowed clients (1) are
/// already connected": a full server, not wrong credentials.
fn is_connection_limit(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    t.contains("maximum number of")
        && (t.contains("client") || t.contains("connection") || t.contains("user"))
}

fn io_reason(e: &io::Error) -> Reason {
    use io::ErrorKind as K;
    match e.kind() {
        K::ConnectionRefused => Reason::ConnectionRefused,
        K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof | K::NotConnected => {
            Reason::ConnectionClosed
        }
        K::NetworkUnreachable | K::HostUnreachable => Reason::NetworkUnreachable,
        K::TimedOut => Reason::Timeout,
        _ => match e.raw_os_error() {
            Some(101 | 113) => Reason::NetworkUnreachable, // ENETUNREACH, EHOSTUNREACH
            _ => Reason::IoError,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ftp::Reply;

    fn reply(verb: &'static str, code: u16) -> Error {
        Error::Unexpected { verb, reply: Reply { code, lines: vec![format!("{code} text")] } }
    }

    fn c(phase: Phase, e: Error) -> (Reason, String) {
        let f = classify(phase, &e);
        (f.reason, f.code)
    }

    #[test]
    fn replies() {
        assert_eq!(c(Phase::Login, reply("PASS", 530)), (Reason::AuthFailed, "530".into()));
        assert_eq!(c(Phase::Login, reply("PASS", 332)), (Reason::AuthFailed, "332".into()));
        let full = Error::Unexpected {
            verb: "PASS",
            reply: Reply {
                code: 530,
                lines: vec![
                    "530 Sorry, the maximum number of allowed clients (1) are already connected.".into()
                ],
            },
        };
        assert_eq!(c(Phase::Login, full), (Reason::ServiceUnavailable, "530".into()));
        assert_eq!(c(Phase::Banner, reply("banner", 421)), (Reason::ServiceUnavailable, "421".into()));
        assert_eq!(c(Phase::Transfer, reply("RETR", 550)), (Reason::FileUnavailable, "550".into()));
        assert_eq!(c(Phase::Transfer, reply("STOR", 450)), (Reason::FileUnavailable, "450".into()));
        assert_eq!(c(Phase::Transfer, reply("RETR", 426)), (Reason::Rejected, "426".into()));
        assert_eq!(c(Phase::DataSetup, reply("PORT", 500)), (Reason::Rejected, "500".into()));
        assert_eq!(c(Phase::DataSetup, reply("PASV", 530)), (Reason::Rejected, "530".into()));
        assert_eq!(c(Phase::Tls, reply("AUTH", 502)), (Reason::TlsHandshakeFailed, "502".into()));
        assert_eq!(c(Phase::Tls, reply("PROT", 534)), (Reason::TlsHandshakeFailed, "534".into()));
        assert_eq!(c(Phase::DataSetup, reply("PASV", 200)), (Reason::ProtocolError, "200".into()));
    }

    #[test]
    fn io_errors() {
        let io = |k| Error::Io(io::Error::from(k));
        assert_eq!(c(Phase::Connect, io(io::ErrorKind::ConnectionRefused)).0, Reason::ConnectionRefused);
        assert_eq!(c(Phase::Login, io(io::ErrorKind::ConnectionReset)).0, Reason::ConnectionClosed);
        assert_eq!(c(Phase::Connect, io(io::ErrorKind::HostUnreachable)).0, Reason::NetworkUnreachable);
        assert_eq!(
            c(Phase::Connect, Error::Io(io::Error::from_raw_os_error(101))).0,
            Reason::NetworkUnreachable
        );
        assert_eq!(c(Phase::Banner, Error::Timeout), (Reason::Timeout, String::new()));
        assert_eq!(c(Phase::Banner, Error::Closed).0, Reason::ConnectionClosed);
        assert_eq!(
            c(Phase::Banner, Error::Reply(ReplyError::LineTooLong)),
            (Reason::ProtocolError, String::new())
        );
        assert_eq!(c(Phase::DataSetup, Error::Local("x".into())).0, Reason::IoError);
    }
}
