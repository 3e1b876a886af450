//! The FTP protocol engine: knows the wire (RFC 959, 2428, 4217), nothing of
//! Prometheus or the config. The check runner drives it and times it.

pub mod address;
pub mod control;
pub mod data;
pub mod error;
pub mod reply;
pub mod stream;
pub mod tls;
pub mod transcript;

pub use control::Control;
pub use error::{Error, Result};
pub use reply::Reply;
pub use stream::Stream;
pub use transcript::Transcript;

/// Whether `arg` may be sent as the argument of an FTP command: RFC 959
/// §4.1 ends a command at CRLF, so a line break (or a NUL, which servers
/// written in C stop at) in a user name, password or path would smuggle a
/// second command onto the control connection.
pub fn command_safe(arg: &str) -> bool {
    !arg.contains(['\r', '\n', '\0'])
}
