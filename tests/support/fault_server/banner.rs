//! The greeting, and the ways a greeting goes wrong (docs/failures.md, phase `banner`).

use std::io;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::Banner;

pub(super) const READY: &str = "220 fault server ready\r\n";

/// What the session does once the banner has been sent.
pub(super) enum After {
    /// Read and answer commands.
    Serve,
    /// Read commands, never answer.
    Ignore,
    /// Close the connection.
    Close,
}

/// Sends `banner`; write errors mean the client went away and end the session.
pub(super) async fn send(stream: &mut TcpStream, banner: &Banner) -> io::Result<After> {
    match banner {
        Banner::Ready => {
            stream.write_all(READY.as_bytes()).await?;
            Ok(After::Serve)
        }
        Banner::Silent => Ok(After::Ignore),
        Banner::ByteByByte(pause) => {
            // Without NODELAY, Nagle's algorithm would coalesce the bytes
            // while an ACK is outstanding, and the client would see chunks.
            stream.set_nodelay(true)?;
            for byte in READY.bytes() {
                stream.write_all(&[byte]).await?;
                tokio::time::sleep(*pause).await;
            }
            Ok(After::Serve)
        }
        Banner::Http => {
            let body = "<html><body><h1>400 Bad Request</h1></body></html>\n";
            let response = format!(
                "HTTP/1.1 400 Bad Request\r\nServer: nginx\r\nContent-Type: text/html\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            stream.write_all(response.as_bytes()).await?;
            Ok(After::Close)
        }
        Banner::HugeLine(len) => {
            stream.write_all(b"220 ").await?;
            let chunk = [b'x'; 64 * 1024];
            let mut left = *len;
            while left > 0 {
                let n = left.min(chunk.len());
                stream.write_all(&chunk[..n]).await?;
                left -= n;
            }
            stream.write_all(b"\r\n").await?;
            Ok(After::Serve)
        }
        Banner::EndlessMultiline => {
            // Ends only when a write fails, i.e. when the client has gone.
            let mut n: u64 = 0;
            loop {
                let mut batch = String::with_capacity(200 * 40);
                for _ in 0..200 {
                    n += 1;
                    batch.push_str(&format!("220-endless greeting line {n}\r\n"));
                }
                stream.write_all(batch.as_bytes()).await?;
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        Banner::Text(text) => {
            stream.write_all(format!("{text}\r\n").as_bytes()).await?;
            Ok(After::Serve)
        }
        Banner::ReplyAndClose(text) => {
            stream.write_all(format!("{text}\r\n").as_bytes()).await?;
            Ok(After::Close)
        }
    }
}
