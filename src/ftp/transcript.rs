//! A bounded, secret-free record of a session: every command and reply with
//! its time since the check started.
//!
//! Bounded because a hostile server chooses the reply text; secret-free
//! because it is shown on the status page and by `probe`. `PASS` is masked
//! where it is written ([`Transcript::sent`]), so no caller can forget.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use crate::secret::Secret;

/// Lines kept at most; later lines are counted, not stored.
const MAX_LINES: usize = 400;
/// Characters kept per line.
const MAX_LINE_CHARS: usize = 300;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// A command the exporter sent (`>`).
    Sent,
    /// A reply line the server sent (`<`).
    Received,
    /// Something the exporter noted (`*`): connections, TLS, timings.
    Note,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Line {
    pub at: Duration,
    pub direction: Direction,
    pub text: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transcript {
    lines: Vec<Line>,
    dropped: usize,
    /// Values replaced by `****` wherever they appear: a server may echo
    /// the password back (`530 bad password hunter2`).
    redact: Vec<Secret>,
}

impl Transcript {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a command; the argument of `PASS` and `ACCT` is replaced by `****`.
    pub fn sent(&mut self, at: Duration, command: &str) {
        let upper = command.get(..5).unwrap_or("").to_ascii_uppercase();
        let text = if upper == "PASS " || upper == "ACCT " {
            format!("{}****", &command[..5])
        } else {
            command.to_string()
        };
        self.push(at, Direction::Sent, &text);
    }

    pub fn received(&mut self, at: Duration, line: &str) {
        self.push(at, Direction::Received, line);
    }

    pub fn note(&mut self, at: Duration, text: &str) {
        self.push(at, Direction::Note, text);
    }

    /// Masks `secret` in every line recorded from now on, and in [`Transcript::scrub`].
    /// Values shorter than 3 characters are not masked: replacing them would
    /// garble the transcript and reveal more than it hides.
    pub fn redact(&mut self, secret: &Secret) {
        if secret.expose().chars().count() >= 3 && !self.redact.contains(secret) {
            self.redact.push(secret.clone());
        }
    }

    /// Drops the values to redact once the session is over: a stored
    /// transcript has no more lines to mask and should hold no secret.
    pub fn forget_secrets(&mut self) {
        self.redact.clear();
    }

    /// `text` as it may be shown to people and logs: redacted, control
    /// characters (terminal escapes, line breaks a server put in a reply)
    /// neutralised, and cut to a line's width.
    pub fn clean(&self, text: &str) -> String {
        let text = self.scrub(text);
        let mut kept: String =
            text.chars().map(|c| if c.is_control() { '\u{FFFD}' } else { c }).take(MAX_LINE_CHARS).collect();
        if text.chars().nth(MAX_LINE_CHARS).is_some() {
            kept.push('…');
        }
        kept
    }

    /// `text` with every redacted value replaced by `****`.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for secret in &self.redact {
            if out.contains(secret.expose()) {
                out = out.replace(secret.expose(), "****");
            }
        }
        out
    }

    pub fn lines(&self) -> &[Line] {
        &self.lines
    }

    fn push(&mut self, at: Duration, direction: Direction, text: &str) {
        if self.lines.len() >= MAX_LINES {
            self.dropped += 1;
            return;
        }
        let text = self.clean(text);
        self.lines.push(Line { at, direction, text });
    }
}

impl fmt::Display for Transcript {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for line in &self.lines {
            let arrow = match line.direction {
                Direction::Sent => '>',
                Direction::Received => '<',
                Direction::Note => '*',
            };
            writeln!(f, "{:>9.3}s {} {}", line.at.as_secs_f64(), arrow, line.text)?;
        }
        if self.dropped > 0 {
            writeln!(f, "          … {} more lines not kept", self.dropped)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pass_is_masked_whatever_its_case() {
        let mut t = Transcript::new();
        t.sent(Duration::ZERO, "PASS hunter2");
        t.sent(Duration::ZERO, "pass hunter2");
        t.sent(Duration::ZERO, "ACCT hunter2");
        t.sent(Duration::ZERO, "USER bob");
        let s = t.to_string();
        assert!(!s.contains("hunter2"), "{s}");
        assert!(s.contains("PASS ****") && s.contains("pass ****") && s.contains("USER bob"));
    }

    #[test]
    fn bounded_in_lines_and_width() {
        let mut t = Transcript::new();
        for _ in 0..1000 {
            t.received(Duration::ZERO, &"x".repeat(10_000));
        }
        assert_eq!(t.lines().len(), MAX_LINES);
        assert_eq!(t.lines()[0].text.chars().count(), MAX_LINE_CHARS + 1, "kept width plus the … marker");
        assert!(t.to_string().contains("600 more lines not kept"));
    }

    #[test]
    fn redacted_values_never_recorded() {
        let mut t = Transcript::new();
        t.redact(&Secret::new("hunter2"));
        t.redact(&Secret::new("ab"));
        t.received(Duration::ZERO, "530 bad password hunter2 for ab");
        assert_eq!(t.lines()[0].text, "530 bad password **** for ab");
        assert_eq!(t.scrub("x hunter2 y"), "x **** y");
        assert!(!format!("{t:?}").contains("hunter2"));
    }

    #[test]
    fn control_characters_are_neutralised() {
        let mut t = Transcript::new();
        t.received(Duration::ZERO, "220 hi\x1b[31mred\r");
        assert!(!t.lines()[0].text.contains('\x1b'));
    }
}
