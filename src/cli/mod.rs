//! Command-line subcommands other than the service itself.

pub mod probe;
