//! Self-test of the scripted fault server (tests/support/fault_server): the
//! failure-reason tests trust it, so it is checked here against a plain TCP
//! client and against curl, a client nobody here wrote.

#[path = "../support/mod.rs"]
mod support;

mod faults;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::Command;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;

use support::fault_server::{
    ActiveFault, Banner, EpsvFault, FaultServer, Feat, PasvFault, Reaction, Script, TransferFault,
};

const WAIT: Duration = Duration::from_secs(5);
/// How long "says nothing" is watched for.
const QUIET: Duration = Duration::from_millis(300);

/// A control connection driven by hand.
struct Ctl {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Ctl {
    async fn connect(addr: SocketAddr) -> Ctl {
        Ctl { stream: TcpStream::connect(addr).await.unwrap(), buf: Vec::new() }
    }

    /// Connects, reads the banner and logs in as anonymous.
    async fn login(addr: SocketAddr) -> Ctl {
        let mut ctl = Ctl::connect(addr).await;
        assert_eq!(ctl.reply().await, "220 fault server ready");
        assert_eq!(ctl.cmd("USER anonymous").await, "331 Password required");
        assert_eq!(ctl.cmd("PASS guest@").await, "230 Logged in");
        ctl
    }

    /// The next line, `None` at end of stream; panics on silence or a reset.
    async fn line(&mut self) -> Option<String> {
        timeout(WAIT, self.try_line()).await.expect("no line within 5 s").expect("read error")
    }

    async fn try_line(&mut self) -> std::io::Result<Option<String>> {
        loop {
            if let Some(end) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=end).collect();
                return Ok(Some(String::from_utf8(line).unwrap().trim_end().to_string()));
            }
            assert!(self.buf.len() < 64 * 1024, "reply line longer than 64 KiB");
            let mut chunk = [0u8; 4096];
            let n = self.stream.read(&mut chunk).await?;
            if n == 0 {
                return Ok(None);
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// A whole reply (RFC 959 §4.2 multi-line replies joined with `\n`).
    async fn reply(&mut self) -> String {
        let first = self.line().await.expect("connection closed instead of a reply");
        let mut text = first.clone();
        if first.as_bytes().get(3) == Some(&b'-') {
            let end = format!("{} ", &first[..3]);
            loop {
                let next = self.line().await.expect("connection closed inside a multi-line reply");
                text.push('\n');
                text.push_str(&next);
                if next.starts_with(&end) {
                    break;
                }
            }
        }
        text
    }

    async fn send(&mut self, command: &str) {
        self.stream.write_all(format!("{command}\r\n").as_bytes()).await.unwrap();
    }

    async fn cmd(&mut self, command: &str) -> String {
        self.send(command).await;
        self.reply().await
    }

    /// Asserts that nothing arrives for a while (and the connection stays open).
    async fn assert_quiet(&mut self) {
        let mut byte = [0u8; 1];
        let read = timeout(QUIET, self.stream.read(&mut byte)).await;
        assert!(read.is_err(), "expected silence, got {read:?}");
    }

    /// PASV, then connects to the address the 227 names.
    async fn pasv(&mut self) -> TcpStream {
        let reply = self.cmd("PASV").await;
        TcpStream::connect(parse_227(&reply)).await.unwrap()
    }

    async fn epsv(&mut self) -> TcpStream {
        let reply = self.cmd("EPSV").await;
        let port = reply.split("|||").nth(1).unwrap().trim_end_matches(")").trim_end_matches('|');
        let ip = self.stream.peer_addr().unwrap().ip();
        TcpStream::connect(SocketAddr::new(ip, port.parse().unwrap())).await.unwrap()
    }
}

fn parse_227(reply: &str) -> SocketAddr {
    assert!(reply.starts_with("227 "), "{reply}");
    let inner = reply.split('(').nth(1).unwrap().trim_end_matches(')');
    let n: Vec<u8> = inner.split(',').map(|x| x.parse().unwrap()).collect();
    SocketAddr::from((Ipv4Addr::new(n[0], n[1], n[2], n[3]), u16::from(n[4]) * 256 + u16::from(n[5])))
}

async fn read_all(conn: &mut TcpStream) -> Vec<u8> {
    let mut bytes = Vec::new();
    timeout(WAIT, conn.read_to_end(&mut bytes)).await.expect("data connection did not end").unwrap();
    bytes
}

/// A PORT argument for `addr` (RFC 959 §4.1.2).
fn port_arg(addr: SocketAddr) -> String {
    let IpAddr::V4(ip) = addr.ip() else { panic!("PORT needs IPv4") };
    let [a, b, c, d] = ip.octets();
    format!("{a},{b},{c},{d},{},{}", addr.port() >> 8, addr.port() & 0xff)
}

#[tokio::test]
async fn a_whole_passive_session_against_the_default_script() {
    let server = FaultServer::start(Script::new().file("/pub/hello.txt", "hello\n")).await;
    let mut ctl = Ctl::connect(server.addr()).await;
    assert_eq!(ctl.reply().await, "220 fault server ready");
    assert!(ctl.cmd("LIST").await.starts_with("530 "), "commands before login are refused");
    assert_eq!(ctl.cmd("USER anonymous").await, "331 Password required");
    assert_eq!(ctl.cmd("PASS hunter2").await, "230 Logged in");
    let feat = ctl.cmd("FEAT").await;
    assert!(feat.starts_with("211-") && feat.ends_with("211 End"), "{feat}");
    assert!(feat.contains("\n EPSV\n") && feat.contains("\n UTF8\n"), "{feat}");
    assert_eq!(ctl.cmd("TYPE I").await, "200 OK");
    assert_eq!(ctl.cmd("PWD").await, "257 \"/\" is the current directory");

    let mut data = ctl.pasv().await;
    assert_eq!(ctl.cmd("LIST /pub").await, "150 Opening data connection");
    let listing = String::from_utf8(read_all(&mut data).await).unwrap();
    assert!(listing.starts_with("-rw-r--r--") && listing.ends_with(" hello.txt\r\n"), "{listing}");
    assert_eq!(ctl.reply().await, "226 Transfer complete");

    let mut data = ctl.pasv().await;
    assert!(ctl.cmd("LIST").await.starts_with("150 "));
    assert!(String::from_utf8(read_all(&mut data).await).unwrap().starts_with("drwxr-xr-x"));
    assert_eq!(ctl.reply().await, "226 Transfer complete");

    let mut data = ctl.epsv().await;
    assert!(ctl.cmd("RETR /pub/hello.txt").await.starts_with("150 "));
    assert_eq!(read_all(&mut data).await, b"hello\n");
    assert_eq!(ctl.reply().await, "226 Transfer complete");

    let upload: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
    let mut data = ctl.epsv().await;
    assert!(ctl.cmd("STOR /up.bin").await.starts_with("150 "));
    data.write_all(&upload).await.unwrap();
    drop(data);
    assert_eq!(ctl.reply().await, "226 Transfer complete");
    assert_eq!(server.file("/up.bin").as_deref(), Some(&upload[..]));
    assert_eq!(ctl.cmd("SIZE /up.bin").await, "213 10000");

    let mut data = ctl.pasv().await;
    assert!(ctl.cmd("RETR up.bin").await.starts_with("150 "), "relative to the working directory");
    assert_eq!(read_all(&mut data).await, upload);
    assert_eq!(ctl.reply().await, "226 Transfer complete");

    assert_eq!(ctl.cmd("DELE /up.bin").await, "250 File deleted");
    assert_eq!(ctl.cmd("DELE /up.bin").await, "550 No such file");
    assert_eq!(ctl.cmd("SIZE /up.bin").await, "550 No such file");
    let _data = ctl.pasv().await;
    assert_eq!(ctl.cmd("RETR /missing").await, "550 No such file");
    assert_eq!(ctl.cmd("RETR /pub/hello.txt").await, "425 Use PORT, EPRT, PASV or EPSV first");
    assert_eq!(ctl.cmd("XYZZY").await, "502 Command not implemented");
    assert_eq!(ctl.cmd("QUIT").await, "221 Goodbye");
    assert_eq!(ctl.line().await, None, "closed after 221");

    let commands = server.commands();
    assert!(commands.contains(&"PASS ****".to_string()), "{commands:?}");
    assert!(!commands.iter().any(|c| c.contains("hunter2")), "password recorded: {commands:?}");
    assert_eq!(server.verbs().last().map(String::as_str), Some("QUIT"));
    assert!(server.received("quit"));
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn active_mode_connects_back_for_port_and_eprt() {
    let server = FaultServer::start(Script::new().file("/a.txt", "abc")).await;
    let mut ctl = Ctl::login(server.addr()).await;
    for command in ["PORT", "EPRT"] {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let arg = if command == "PORT" { port_arg(addr) } else { format!("|1|127.0.0.1|{}|", addr.port()) };
        assert_eq!(ctl.cmd(&format!("{command} {arg}")).await, format!("200 {command} command successful"));
        ctl.send("RETR /a.txt").await;
        let (mut data, peer) = timeout(WAIT, listener.accept()).await.unwrap().unwrap();
        assert_eq!(peer.ip(), IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert!(ctl.reply().await.starts_with("150 "));
        assert_eq!(read_all(&mut data).await, b"abc");
        assert_eq!(ctl.reply().await, "226 Transfer complete");
    }
    assert!(ctl.cmd("PORT 1,2,3").await.starts_with("501 "));
    assert!(ctl.cmd("EPRT |3|x|1|").await.starts_with("522 "));
    assert!(ctl.cmd("EPRT |1|not-an-ip|1|").await.starts_with("501 "));
}

#[tokio::test]
async fn ipv6_server_speaks_eprt_and_epsv_but_not_pasv() {
    let server = FaultServer::start_v6(Script::new().file("/six.txt", "v6")).await;
    assert_eq!(server.host(), "::1");
    let mut ctl = Ctl::login(server.addr()).await;
    let listener = TcpListener::bind("[::1]:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    assert_eq!(ctl.cmd(&format!("EPRT |2|::1|{port}|")).await, "200 EPRT command successful");
    ctl.send("LIST").await;
    let (mut data, peer) = timeout(WAIT, listener.accept()).await.unwrap().unwrap();
    assert!(peer.ip().is_ipv6());
    assert!(ctl.reply().await.starts_with("150 "));
    assert!(String::from_utf8(read_all(&mut data).await).unwrap().ends_with(" six.txt\r\n"));
    assert_eq!(ctl.reply().await, "226 Transfer complete");

    let mut data = ctl.epsv().await;
    assert!(ctl.cmd("RETR /six.txt").await.starts_with("150 "));
    assert_eq!(read_all(&mut data).await, b"v6");
    assert_eq!(ctl.reply().await, "226 Transfer complete");
    assert!(ctl.cmd("PASV").await.starts_with("425 "));
}

/// curl is an independent FTP client: if it can list, fetch and upload in
/// both modes, the default behaviour is a real FTP server's.
#[tokio::test]
async fn curl_lists_retrieves_and_stores_in_both_modes() {
    let server = FaultServer::start(Script::new().file("/dir/file.txt", "from the fault server\n")).await;
    let base = format!("ftp://127.0.0.1:{}", server.port());
    let upload = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(upload.path(), b"uploaded by curl").unwrap();
    let upload_path = upload.path().to_str().unwrap().to_string();
    let runs: Vec<(Vec<String>, Option<&str>)> = vec![
        (vec![format!("{base}/dir/file.txt")], Some("from the fault server\n")),
        (
            vec!["--ftp-pasv".into(), "--disable-epsv".into(), format!("{base}/dir/file.txt")],
            Some("from the fault server\n"),
        ),
        (vec!["-P".into(), "127.0.0.1".into(), format!("{base}/dir/")], None),
        (vec!["-P".into(), "127.0.0.1".into(), "--disable-eprt".into(), format!("{base}/dir/")], None),
        (vec!["-T".into(), upload_path.clone(), format!("{base}/up.txt")], Some("")),
        (
            vec!["-P".into(), "127.0.0.1".into(), "-T".into(), upload_path, format!("{base}/up2.txt")],
            Some(""),
        ),
    ];
    for (args, expected) in runs {
        let output = tokio::task::spawn_blocking({
            let args = args.clone();
            move || Command::new("curl").args(["-sS", "--max-time", "10"]).args(&args).output()
        })
        .await
        .unwrap()
        .expect("curl must be installed");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "curl {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        match expected {
            Some(text) => assert_eq!(stdout, text, "curl {args:?}"),
            None => assert!(stdout.contains(" file.txt"), "curl {args:?}: {stdout}"),
        }
    }
    assert_eq!(server.file("/up.txt").as_deref(), Some(&b"uploaded by curl"[..]));
    assert_eq!(server.file("/up2.txt").as_deref(), Some(&b"uploaded by curl"[..]));
    let verbs = server.verbs();
    for verb in ["EPSV", "PASV", "EPRT", "PORT", "STOR", "QUIT"] {
        assert!(verbs.iter().any(|v| v == verb), "curl never sent {verb}: {verbs:?}");
    }
}

#[tokio::test]
async fn many_concurrent_sessions() {
    let server = FaultServer::start(Script::new()).await;
    let sessions: Vec<_> = (0..20)
        .map(|_| {
            let addr = server.addr();
            tokio::spawn(async move {
                let mut ctl = Ctl::login(addr).await;
                assert_eq!(ctl.cmd("QUIT").await, "221 Goodbye");
            })
        })
        .collect();
    for session in sessions {
        session.await.unwrap();
    }
    assert_eq!(server.connections(), 20);
    assert_eq!(server.verbs().iter().filter(|v| *v == "QUIT").count(), 20);
}

#[tokio::test]
async fn dropping_the_server_stops_it() {
    let server = FaultServer::start(Script::new().banner(Banner::Silent)).await;
    let addr = server.addr();
    let mut ctl = Ctl::connect(addr).await;
    ctl.send("USER a").await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    drop(server);
    assert_eq!(ctl.line().await, None, "open sessions are closed");
    let err = TcpStream::connect(addr).await.expect_err("nothing listens any more");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
}
