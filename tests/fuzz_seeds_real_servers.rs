//! Real servers' replies through the reply reader's fuzz property: vsftpd,
//! ProFTPD, Pure-FTPd and pyftpdlib (ci/install-deps.sh) each get a session
//! of the commands the exporter sends (banner, USER/PASS, FEAT, PASV, EPSV,
//! QUIT); everything they answer, as raw bytes, must read back as replies
//! and keep the reader's bounds in any split.
//!
//! The same bytes are the reply_reader seeds `fuzz/corpus/reply_reader/real-*`:
//! `FTP_EXPORTER_WRITE_SEEDS=1 cargo test --test fuzz_seeds_real_servers`
//! writes them (their ports and clocks differ from run to run, so they are
//! not compared, only refreshed on purpose).

#[path = "support/real_servers/mod.rs"]
mod real_servers;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use ftp_exporter::fuzzing::{read_replies, reply_reader};
use real_servers::{RealServer, ServerKind, ServerOptions};

/// Reads until `complete` holds for what was read, or 5 s pass.
fn read_until(s: &mut TcpStream, out: &mut Vec<u8>, complete: impl Fn(&[u8]) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut buf = [0u8; 4096];
    let start = out.len();
    while !complete(&out[start..]) && Instant::now() < deadline {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock || e.kind() == std::io::ErrorKind::TimedOut => {
            }
            Err(e) => panic!("reading: {e}"),
        }
    }
}

/// The last line read is a final reply line (`ddd ` or a bare `ddd`).
fn ends_a_reply(bytes: &[u8]) -> bool {
    let text = String::from_utf8_lossy(bytes);
    let Some(last) = text.strip_suffix('\n').and_then(|t| t.lines().last()) else { return false };
    let b = last.as_bytes();
    b.len() >= 3
        && b[..3].iter().all(u8::is_ascii_digit)
        && b.get(3).is_none_or(|c| *c == b' ' || *c == b'\r')
}

fn session(srv: &RealServer) -> Vec<u8> {
    let mut s = TcpStream::connect(srv.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let mut wire = Vec::new();
    read_until(&mut s, &mut wire, ends_a_reply);
    for command in [
        format!("USER {}", srv.user),
        format!("PASS {}", srv.password),
        "FEAT".into(),
        "PASV".into(),
        "EPSV".into(),
        "QUIT".into(),
    ] {
        s.write_all(format!("{command}\r\n").as_bytes()).unwrap();
        read_until(&mut s, &mut wire, ends_a_reply);
    }
    wire
}

#[test]
fn real_servers_replies_keep_the_reply_readers_properties() {
    let write = std::env::var_os("FTP_EXPORTER_WRITE_SEEDS").is_some();
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/reply_reader");
    for kind in ServerKind::ALL {
        let srv = RealServer::start(kind, ServerOptions::default());
        let wire = session(&srv);
        let (replies, _) = read_replies(&wire, Vec::new());
        let codes: Vec<u16> = replies.iter().map(|r| r.code).collect();
        // banner, 331, 230, FEAT (211), 227, 229, 221
        assert_eq!(codes.len(), 7, "{}: {codes:?}\n{}", kind.name(), String::from_utf8_lossy(&wire));
        assert_eq!(
            (codes[0], codes[2], codes[4], codes[5], codes[6]),
            (220, 230, 227, 229, 221),
            "{}",
            kind.name()
        );
        assert!(replies[3].lines.len() > 2, "{}: FEAT is multi-line: {:?}", kind.name(), replies[3]);
        for sizes in [&[][..], &[0][..], &[2, 6, 0, 30][..]] {
            let mut input = vec![sizes.len() as u8];
            input.extend_from_slice(sizes);
            input.extend_from_slice(&wire);
            reply_reader(&input);
        }
        if write {
            let mut seed = vec![0u8];
            seed.extend_from_slice(&wire);
            std::fs::write(corpus.join(format!("real-{}-session", kind.name())), seed).unwrap();
        }
    }
}
