//! FTP replies (RFC 959 §4.2) and a bounded, incremental parser for them.
//!
//! A reply is either one line `ddd text` or several: `ddd-text`, any lines
//! (which may themselves begin with digits), and a last line `ddd text` with
//! the same code. The parser is fed one line at a time so a byte-at-a-time
//! server costs nothing extra, and it is bounded so that a hostile or
//! confused peer (an HTTP server on port 21, a 20 MB line, an endless
//! multi-line greeting) ends in a protocol error instead of unbounded memory.

use thiserror::Error;

/// Longest line accepted, without its terminator, as received and as kept
/// (invalid UTF-8 is kept as U+FFFD, three bytes for one). RFC 959 sets no
/// limit; real banners stay far below this.
pub const MAX_LINE: usize = 8 * 1024;
/// Most lines in one reply (FEAT and HELP replies are the long ones).
pub const MAX_LINES: usize = 1000;
/// Most bytes in one reply.
pub const MAX_REPLY_BYTES: usize = 64 * 1024;

/// One complete reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    /// Every line as received, without the line terminator.
    pub lines: Vec<String>,
}

impl Reply {
    /// The text of the last line after the code, which is where servers put
    /// the information (`227 Entering Passive Mode (…)`).
    pub fn text(&self) -> &str {
        self.lines.last().map(|l| l.get(4..).unwrap_or("")).unwrap_or("")
    }
}

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ReplyError {
    #[error("reply line longer than {MAX_LINE} bytes")]
    LineTooLong,
    #[error("multi-line reply longer than {MAX_LINES} lines or {MAX_REPLY_BYTES} bytes")]
    TooLong,
    #[error("not an FTP reply: {0:?}")]
    NotFtp(String),
}

/// Accumulates lines until a reply is complete.
#[derive(Debug, Default)]
pub struct ReplyParser {
    /// Code and lines of a multi-line reply in progress.
    pending: Option<(u16, Vec<String>)>,
    bytes: usize,
}

impl ReplyParser {
    /// Feeds one line (terminator stripped). Returns the reply once complete.
    pub fn feed(&mut self, raw: &[u8]) -> Result<Option<Reply>, ReplyError> {
        if raw.len() > MAX_LINE {
            return Err(ReplyError::LineTooLong);
        }
        let line = String::from_utf8_lossy(raw).into_owned();
        // Checked again once converted: 3000 bytes of Latin-1 become 9000
        // (found by the reply_reader fuzz target).
        if line.len() > MAX_LINE {
            return Err(ReplyError::LineTooLong);
        }
        match self.pending.take() {
            None => {
                let (code, sep) = parse_code(&line).ok_or_else(|| ReplyError::NotFtp(snippet(&line)))?;
                if sep == Some('-') {
                    self.bytes = line.len();
                    self.pending = Some((code, vec![line]));
                    Ok(None)
                } else {
                    Ok(Some(Reply { code, lines: vec![line] }))
                }
            }
            Some((code, mut lines)) => {
                self.bytes += line.len();
                if lines.len() + 1 > MAX_LINES || self.bytes > MAX_REPLY_BYTES {
                    return Err(ReplyError::TooLong);
                }
                // RFC 959: the last line starts with the same code followed by a space
                // (a bare code is accepted too; some servers send it).
                let last = matches!(parse_code(&line), Some((c, sep)) if c == code && sep != Some('-'));
                lines.push(line);
                if last {
                    Ok(Some(Reply { code, lines }))
                } else {
                    self.pending = Some((code, lines));
                    Ok(None)
                }
            }
        }
    }
}

/// `ddd` followed by a space, a hyphen or the end of the line; first digit 1–5.
fn parse_code(line: &str) -> Option<(u16, Option<char>)> {
    let b = line.as_bytes();
    if b.len() < 3 || !b[..3].iter().all(u8::is_ascii_digit) || !(b'1'..=b'5').contains(&b[0]) {
        return None;
    }
    let sep = match b.get(3) {
        None => None,
        Some(b' ') => Some(' '),
        Some(b'-') => Some('-'),
        Some(_) => return None,
    };
    let code = (b[0] - b'0') as u16 * 100 + (b[1] - b'0') as u16 * 10 + (b[2] - b'0') as u16;
    Some((code, sep))
}

fn snippet(line: &str) -> String {
    line.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed_all(lines: &[&str]) -> Result<Vec<Reply>, ReplyError> {
        let mut p = ReplyParser::default();
        let mut out = Vec::new();
        for l in lines {
            if let Some(r) = p.feed(l.as_bytes())? {
                out.push(r);
            }
        }
        Ok(out)
    }

    #[test]
    fn single_line() {
        let r = feed_all(&["220 Service ready"]).unwrap();
        assert_eq!(r[0].code, 220);
        assert_eq!(r[0].text(), "Service ready");
    }

    #[test]
    fn multi_line_with_digit_lines_inside() {
        let r = feed_all(&["230-Welcome", "123 not the end", "230-still not", " 230 indented", "230 Done"])
            .unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].code, 230);
        assert_eq!(r[0].lines.len(), 5);
        assert_eq!(r[0].text(), "Done");
    }

    #[test]
    fn bare_code_ends_a_reply() {
        assert_eq!(feed_all(&["200"]).unwrap()[0].code, 200);
        assert_eq!(feed_all(&["211-Features", " EPSV", "211"]).unwrap()[0].lines.len(), 3);
    }

    #[test]
    fn non_ftp_is_rejected() {
        for bad in ["HTTP/1.1 400 Bad Request", "SSH-2.0-OpenSSH", "600 nope", "22 short", "220x", ""] {
            assert!(matches!(feed_all(&[bad]), Err(ReplyError::NotFtp(_))), "{bad:?}");
        }
    }

    #[test]
    fn bounds() {
        let long = "2".repeat(MAX_LINE + 1);
        assert_eq!(feed_all(&[&long]), Err(ReplyError::LineTooLong));
        let mut p = ReplyParser::default();
        p.feed(b"220-hello").unwrap();
        let err = (0..MAX_LINES + 1).find_map(|_| p.feed(b"220-more").err());
        assert_eq!(err, Some(ReplyError::TooLong));
    }

    #[test]
    fn invalid_utf8_cannot_grow_a_line_past_the_bound() {
        // Regression (fuzz/regressions/reply_reader): each invalid byte is
        // kept as U+FFFD, three bytes, so a line within MAX_LINE on the wire
        // was kept at up to three times it.
        let mut latin1 = b"220 ".to_vec();
        latin1.extend(std::iter::repeat_n(0xE9, MAX_LINE / 3));
        assert_eq!(ReplyParser::default().feed(&latin1), Err(ReplyError::LineTooLong));
        let short = [b"220 Soci".as_slice(), &[0xE9], b"t"].concat();
        let r = ReplyParser::default().feed(&short).unwrap().unwrap();
        assert_eq!(r.text(), "Soci\u{FFFD}t");
    }
}
