//! A string that must never be printed.
//!
//! Passwords travel from the config (or `FTP_PASSWORD`) to the `PASS` command
//! and nowhere else. Wrapping them in a type whose `Debug` and `Display` print
//! a mask makes "accidentally logged the config" impossible rather than
//! merely unlikely.

use std::fmt;

/// A secret value; formatting it prints `****`, never the value.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value itself, for the one place that must send it (the `PASS` command).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(****)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("****")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_never_shows_the_value() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s}"), "****");
        assert_eq!(format!("{s:?}"), "Secret(****)");
        assert_eq!(format!("{s:#?}"), "Secret(****)");
        assert_eq!(s.expose(), "hunter2");
    }
}
