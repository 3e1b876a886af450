//! The control connection: send a command, read a reply, nothing more.
//!
//! Generic over the stream so the same code serves plain TCP and TLS. Every
//! read and write is bounded by the check's deadline and every reply by the
//! parser's limits, so a server can fail a check but never hang it.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::{timeout_at, Instant};

use super::error::{Error, Result};
use super::reply::{Reply, ReplyParser, MAX_LINE};
use super::transcript::Transcript;

/// A control connection with its read buffer, deadline and transcript.
pub struct Control<S> {
    stream: S,
    buf: Vec<u8>,
    /// Bytes of `buf` already searched for a newline.
    scanned: usize,
    /// Kept across calls so a cancelled `read_reply` (active mode races it
    /// against the data connection's accept) loses no lines.
    parser: ReplyParser,
    deadline: Instant,
    started: Instant,
    transcript: Transcript,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Control<S> {
    /// `started` is the start of the check (transcript times are relative to it).
    pub fn new(stream: S, deadline: Instant, started: Instant, transcript: Transcript) -> Self {
        Control {
            stream,
            buf: Vec::with_capacity(512),
            scanned: 0,
            parser: ReplyParser::default(),
            deadline,
            started,
            transcript,
        }
    }

    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Moves the deadline: clean-up after a failure or a cancellation (DELE,
    /// QUIT) gets its own short grace, even once the check's deadline passed.
    pub fn set_deadline(&mut self, deadline: Instant) {
        self.deadline = deadline;
    }

    pub fn note(&mut self, text: &str) {
        let at = self.started.elapsed();
        self.transcript.note(at, text);
    }

    pub fn transcript_mut(&mut self) -> &mut Transcript {
        &mut self.transcript
    }

    /// Gives back the stream (e.g. to wrap it in TLS) and the transcript.
    /// Callers check [`Control::has_buffered`] first: buffered bytes would be lost.
    pub fn into_parts(self) -> (S, Transcript) {
        (self.stream, self.transcript)
    }

    /// Whether bytes beyond the last reply are waiting in the buffer.
    pub fn has_buffered(&self) -> bool {
        !self.buf.is_empty()
    }

    pub fn into_transcript(self) -> Transcript {
        self.transcript
    }

    /// Sends one command line.
    pub async fn send(&mut self, command: &str) -> Result<()> {
        let at = self.started.elapsed();
        self.transcript.sent(at, command);
        let line = format!("{command}\r\n");
        let write = async {
            self.stream.write_all(line.as_bytes()).await?;
            self.stream.flush().await
        };
        timeout_at(self.deadline, write).await.map_err(|_| Error::Timeout)??;
        Ok(())
    }

    /// Sends a command and reads its reply.
    pub async fn command(&mut self, command: &str) -> Result<Reply> {
        self.send(command).await?;
        self.read_reply().await
    }

    /// Reads one complete reply. Cancel-safe: bytes and lines already read
    /// stay in the buffer and the parser for the next call.
    pub async fn read_reply(&mut self) -> Result<Reply> {
        loop {
            let line = self.read_line().await?;
            let at = self.started.elapsed();
            self.transcript.received(at, &String::from_utf8_lossy(&line));
            match self.parser.feed(&line) {
                Ok(None) => {}
                Ok(Some(reply)) => {
                    self.parser = ReplyParser::default();
                    return Ok(reply);
                }
                Err(e) => {
                    self.parser = ReplyParser::default();
                    return Err(e.into());
                }
            }
        }
    }

    /// Reads a reply, but gives up quietly after `grace` (used for QUIT after a failure).
    pub async fn read_reply_within(&mut self, grace: Duration) -> Option<Reply> {
        let saved = self.deadline;
        self.deadline = saved.min(Instant::now() + grace);
        let r = self.read_reply().await.ok();
        self.deadline = saved;
        r
    }

    /// One line without its terminator (CRLF, or a bare LF as some servers send).
    async fn read_line(&mut self) -> Result<Vec<u8>> {
        loop {
            if let Some(pos) = self.buf[self.scanned..].iter().position(|&b| b == b'\n') {
                let end = self.scanned + pos;
                let mut line: Vec<u8> = self.buf.drain(..=end).collect();
                self.scanned = 0;
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(line);
            }
            self.scanned = self.buf.len();
            if self.buf.len() > MAX_LINE {
                return Err(super::reply::ReplyError::LineTooLong.into());
            }
            let mut chunk = [0u8; 4096];
            let n = timeout_at(self.deadline, self.stream.read(&mut chunk))
                .await
                .map_err(|_| Error::Timeout)??;
            if n == 0 {
                return Err(Error::Closed);
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ftp::reply::ReplyError;
    use tokio::io::duplex;

    fn control(stream: tokio::io::DuplexStream, secs: u64) -> Control<tokio::io::DuplexStream> {
        let now = Instant::now();
        Control::new(stream, now + Duration::from_secs(secs), now, Transcript::new())
    }

    #[tokio::test]
    async fn split_reads_and_two_replies_in_one_packet() {
        let (client, mut server) = duplex(64);
        let mut c = control(client, 5);
        let writer = tokio::spawn(async move {
            for piece in ["2", "20-hel", "lo\r\n220 ", "ready\r\n150 a\r\n226 b\n"] {
                server.write_all(piece.as_bytes()).await.unwrap();
                tokio::task::yield_now().await;
            }
            server
        });
        let r = c.read_reply().await.unwrap();
        assert_eq!((r.code, r.lines.len()), (220, 2));
        assert_eq!(c.read_reply().await.unwrap().code, 150);
        assert_eq!(c.read_reply().await.unwrap().code, 226);
        drop(writer.await.unwrap());
        assert!(matches!(c.read_reply().await, Err(Error::Closed)));
    }

    #[tokio::test]
    async fn endless_line_is_bounded() {
        let (client, mut server) = duplex(1 << 16);
        let mut c = control(client, 5);
        tokio::spawn(async move {
            let chunk = vec![b'2'; 1 << 14];
            while server.write_all(&chunk).await.is_ok() {}
        });
        assert!(matches!(c.read_reply().await, Err(Error::Reply(ReplyError::LineTooLong))));
        assert!(c.buf.capacity() < 64 * 1024, "buffer grew to {}", c.buf.capacity());
    }

    #[tokio::test(start_paused = true)]
    async fn silence_times_out_at_the_deadline() {
        let (client, _server) = duplex(64);
        let mut c = control(client, 3);
        let t = Instant::now();
        assert!(matches!(c.read_reply().await, Err(Error::Timeout)));
        assert_eq!(t.elapsed(), Duration::from_secs(3));
    }
}
