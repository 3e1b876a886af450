//! Each fault of the script, seen from a hand-driven client: the fault
//! tests of the runner rely on the server doing exactly this.

use super::*;

#[tokio::test]
async fn credentials_and_feat_variants() {
    let server = FaultServer::start(Script::new().credentials("bob", "s3cret").feat(Feat::WithoutEpsv)).await;
    let mut ctl = Ctl::connect(server.addr()).await;
    ctl.reply().await;
    ctl.cmd("USER bob").await;
    assert_eq!(ctl.cmd("PASS wrong").await, "530 Login incorrect");
    ctl.cmd("USER alice").await;
    assert_eq!(ctl.cmd("PASS s3cret").await, "530 Login incorrect");
    ctl.cmd("USER bob").await;
    assert_eq!(ctl.cmd("PASS s3cret").await, "230 Logged in");
    let feat = ctl.cmd("FEAT").await;
    assert!(feat.contains(" UTF8") && !feat.contains("EPSV"), "{feat}");

    let server =
        FaultServer::start(Script::new().on("PASS", Reaction::Reply("332 Need account".into()))).await;
    let mut ctl = Ctl::connect(server.addr()).await;
    ctl.reply().await;
    ctl.cmd("USER bob").await;
    assert_eq!(ctl.cmd("PASS x").await, "332 Need account");
    assert!(ctl.cmd("PWD").await.starts_with("530 "), "not logged in yet");
    assert_eq!(ctl.cmd("ACCT billing-secret").await, "230 Logged in");
    assert!(ctl.cmd("PWD").await.starts_with("257 "));
    assert!(server.commands().contains(&"ACCT ****".to_string()), "{:?}", server.commands());

    let server =
        FaultServer::start(Script::new().on("USER", Reaction::Reply("230 No password needed".into()))).await;
    let mut ctl = Ctl::connect(server.addr()).await;
    ctl.reply().await;
    assert_eq!(ctl.cmd("USER bob").await, "230 No password needed");
    assert!(ctl.cmd("PWD").await.starts_with("257 "), "a scripted 230 logs in");

    let server = FaultServer::start(Script::new().feat(Feat::Rejected)).await;
    let mut ctl = Ctl::login(server.addr()).await;
    assert_eq!(ctl.cmd("FEAT").await, "502 Command not implemented");
}

#[tokio::test]
async fn banner_faults() {
    let server = FaultServer::start(Script::new().banner(Banner::Silent)).await;
    let mut ctl = Ctl::connect(server.addr()).await;
    ctl.assert_quiet().await;
    ctl.send("USER anonymous").await;
    ctl.assert_quiet().await;
    assert!(server.received("USER"), "a silent server still reads");

    let server = FaultServer::start(Script::new().banner(Banner::ByteByByte(Duration::from_millis(5)))).await;
    let mut ctl = Ctl::connect(server.addr()).await;
    let started = Instant::now();
    let mut first = [0u8; 64];
    let n = ctl.stream.read(&mut first).await.unwrap();
    assert_eq!(&first[..n], b"2", "one byte per write");
    assert_eq!(ctl.reply().await, "20 fault server ready", "the rest follows");
    assert!(started.elapsed() >= Duration::from_millis(5 * 23), "{:?}", started.elapsed());
    assert_eq!(ctl.cmd("USER x").await, "331 Password required", "then a normal session");

    let server = FaultServer::start(Script::new().banner(Banner::Http)).await;
    let mut ctl = Ctl::connect(server.addr()).await;
    let response = String::from_utf8(read_all(&mut ctl.stream).await).unwrap();
    assert!(response.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{response}");

    let server =
        FaultServer::start(Script::new().banner(Banner::ReplyAndClose("421 Too many users".into()))).await;
    let mut ctl = Ctl::connect(server.addr()).await;
    assert_eq!(ctl.reply().await, "421 Too many users");
    assert_eq!(ctl.line().await, None);
}

#[tokio::test]
async fn huge_banner_line_is_streamed() {
    const LEN: usize = 20 * 1024 * 1024;
    let server = FaultServer::start(Script::new().banner(Banner::HugeLine(LEN))).await;
    let mut conn = TcpStream::connect(server.addr()).await.unwrap();
    let (mut total, mut chunk) = (0usize, vec![0u8; 64 * 1024]);
    let started = Instant::now();
    loop {
        let n = timeout(WAIT, conn.read(&mut chunk)).await.unwrap().unwrap();
        assert!(n > 0, "closed before the line ended");
        assert!(!chunk[..n].contains(&b'\n') || chunk[n - 1] == b'\n', "one line only");
        total += n;
        if chunk[n - 1] == b'\n' {
            break;
        }
    }
    assert_eq!(total, 4 + LEN + 2, "\"220 \" + {LEN} bytes + CRLF");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn endless_greeting_never_ends_and_stops_with_the_client() {
    let server = FaultServer::start(Script::new().banner(Banner::EndlessMultiline)).await;
    let mut ctl = Ctl::connect(server.addr()).await;
    for _ in 0..20_000 {
        let line = ctl.line().await.unwrap();
        assert!(line.starts_with("220-"), "{line}");
    }
    drop(ctl);
    // The session notices the client left (a failed write) and the server keeps serving.
    let mut other = Ctl::connect(server.addr()).await;
    assert!(other.line().await.unwrap().starts_with("220-"));
}

#[tokio::test]
async fn command_reactions() {
    let server = FaultServer::start(Script::new().on("pass", Reaction::Reply("530 Not today".into()))).await;
    let mut ctl = Ctl::connect(server.addr()).await;
    ctl.reply().await;
    ctl.cmd("USER a").await;
    assert_eq!(ctl.cmd("PASS b").await, "530 Not today");

    let pause = Duration::from_millis(200);
    let server =
        FaultServer::start(Script::new().on("USER", Reaction::ReplyAfter(pause, "331 Slowly".into()))).await;
    let mut ctl = Ctl::connect(server.addr()).await;
    ctl.reply().await;
    let started = Instant::now();
    assert_eq!(ctl.cmd("USER a").await, "331 Slowly");
    assert!(started.elapsed() >= pause, "{:?}", started.elapsed());

    let server = FaultServer::start(Script::new().on("USER", Reaction::Close)).await;
    let mut ctl = Ctl::connect(server.addr()).await;
    ctl.reply().await;
    ctl.send("USER a").await;
    assert_eq!(ctl.line().await, None, "FIN, no reply");

    let server = FaultServer::start(Script::new().on("USER", Reaction::Reset)).await;
    let mut ctl = Ctl::connect(server.addr()).await;
    ctl.reply().await;
    ctl.send("USER a").await;
    let err = timeout(WAIT, ctl.try_line()).await.unwrap().expect_err("a reset, not a clean close");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset);

    let server = FaultServer::start(Script::new().on("QUIT", Reaction::Never)).await;
    let mut ctl = Ctl::login(server.addr()).await;
    ctl.send("QUIT").await;
    ctl.assert_quiet().await;
    ctl.send("NOOP").await;
    ctl.assert_quiet().await;
    assert_eq!(server.verbs().last().map(String::as_str), Some("NOOP"), "still reading");
}

#[tokio::test]
async fn pasv_and_epsv_faults() {
    let bad = "227 Entering Passive Mode (127,0,0,1,300,1)";
    let server = FaultServer::start(Script::new().pasv(PasvFault::Malformed(bad.into()))).await;
    let mut ctl = Ctl::login(server.addr()).await;
    assert_eq!(ctl.cmd("PASV").await, bad);

    let server =
        FaultServer::start(Script::new().pasv(PasvFault::Advertise(Ipv4Addr::new(127, 0, 0, 2)))).await;
    let mut ctl = Ctl::login(server.addr()).await;
    let advertised = parse_227(&ctl.cmd("PASV").await);
    assert_eq!(advertised.ip(), IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)));
    let err = TcpStream::connect(advertised).await.expect_err("nothing listens on 127.0.0.2");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
    let mut data = TcpStream::connect(("127.0.0.1", advertised.port())).await.unwrap();
    assert!(ctl.cmd("LIST").await.starts_with("150 "));
    read_all(&mut data).await;
    assert_eq!(ctl.reply().await, "226 Transfer complete");

    let server = FaultServer::start(Script::new().pasv(PasvFault::ClosedPort)).await;
    let mut ctl = Ctl::login(server.addr()).await;
    let err = TcpStream::connect(parse_227(&ctl.cmd("PASV").await)).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);

    let bad = "229 Entering Extended Passive Mode (|||x|)";
    let server = FaultServer::start(Script::new().epsv(EpsvFault::Malformed(bad.into()))).await;
    let mut ctl = Ctl::login(server.addr()).await;
    assert_eq!(ctl.cmd("EPSV").await, bad);

    let server = FaultServer::start(Script::new().epsv(EpsvFault::ClosedPort)).await;
    let mut ctl = Ctl::login(server.addr()).await;
    let reply = ctl.cmd("EPSV").await;
    let port: u16 = reply.split("|||").nth(1).unwrap().trim_end_matches("|)").parse().unwrap();
    let err = TcpStream::connect(("127.0.0.1", port)).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);

    let server = FaultServer::start(Script::new().on("EPSV", Reaction::Reply("502 No EPSV".into()))).await;
    let mut ctl = Ctl::login(server.addr()).await;
    assert_eq!(ctl.cmd("EPSV").await, "502 No EPSV");
    let _data = ctl.pasv().await;
}

#[tokio::test]
async fn active_faults() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = port_arg(listener.local_addr().unwrap());

    let server = FaultServer::start(Script::new().active(ActiveFault::NeverConnect)).await;
    let mut ctl = Ctl::login(server.addr()).await;
    ctl.cmd(&format!("PORT {port}")).await;
    ctl.send("LIST").await;
    ctl.assert_quiet().await;
    assert!(timeout(QUIET, listener.accept()).await.is_err(), "no connection back");

    let server = FaultServer::start(Script::new().active(ActiveFault::Refuse)).await;
    let mut ctl = Ctl::login(server.addr()).await;
    ctl.cmd(&format!("PORT {port}")).await;
    assert_eq!(ctl.cmd("LIST").await, "425 Can't open data connection");
    assert!(timeout(QUIET, listener.accept()).await.is_err(), "no connection back");

    let stranger = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3));
    let server = FaultServer::start(Script::new().active(ActiveFault::FromSource(stranger))).await;
    let mut ctl = Ctl::login(server.addr()).await;
    ctl.cmd(&format!("PORT {port}")).await;
    ctl.send("LIST").await;
    let (mut data, peer) = timeout(WAIT, listener.accept()).await.unwrap().unwrap();
    assert_eq!(peer.ip(), stranger);
    assert!(ctl.reply().await.starts_with("150 "));
    read_all(&mut data).await;
    assert_eq!(ctl.reply().await, "226 Transfer complete");

    // Passive transfers are untouched by active faults.
    let server = FaultServer::start(Script::new().active(ActiveFault::NeverConnect)).await;
    let mut ctl = Ctl::login(server.addr()).await;
    let mut data = ctl.pasv().await;
    assert!(ctl.cmd("LIST").await.starts_with("150 "));
    read_all(&mut data).await;
    assert_eq!(ctl.reply().await, "226 Transfer complete");
}

#[tokio::test]
async fn transfer_faults() {
    let content = b"0123456789abcdef".to_vec();
    let start = |fault| FaultServer::start(Script::new().file("/f", content.clone()).transfer(fault));

    let server = start(TransferFault::SilentAfter150).await;
    let mut ctl = Ctl::login(server.addr()).await;
    let mut data = ctl.pasv().await;
    assert!(ctl.cmd("RETR /f").await.starts_with("150 "));
    ctl.assert_quiet().await;
    let mut byte = [0u8; 1];
    assert!(timeout(QUIET, data.read(&mut byte)).await.is_err(), "data connection open and silent");

    let server = start(TransferFault::AbortAfter(4)).await;
    let mut ctl = Ctl::login(server.addr()).await;
    let mut data = ctl.pasv().await;
    assert!(ctl.cmd("RETR /f").await.starts_with("150 "));
    assert_eq!(read_all(&mut data).await, b"0123");
    assert_eq!(ctl.reply().await, "426 Connection closed; transfer aborted");

    let server = start(TransferFault::Unavailable).await;
    let mut ctl = Ctl::login(server.addr()).await;
    let _data = ctl.pasv().await;
    assert_eq!(ctl.cmd("RETR /f").await, "550 No such file");

    let server = start(TransferFault::Corrupt).await;
    let mut ctl = Ctl::login(server.addr()).await;
    let mut data = ctl.pasv().await;
    assert!(ctl.cmd("RETR /f").await.starts_with("150 "));
    let served = read_all(&mut data).await;
    assert_eq!(served.len(), content.len());
    assert_ne!(served, content);
    assert_eq!(ctl.reply().await, "226 Transfer complete");

    let server = start(TransferFault::Endless).await;
    let mut ctl = Ctl::login(server.addr()).await;
    let mut data = ctl.pasv().await;
    assert!(ctl.cmd("LIST").await.starts_with("150 "));
    let (mut total, mut chunk) = (0usize, vec![0u8; 64 * 1024]);
    while total < 32 * 1024 * 1024 {
        let n = timeout(WAIT, data.read(&mut chunk)).await.unwrap().unwrap();
        assert!(n > 0, "ended after {total} bytes");
        total += n;
    }
    drop(data);
    assert_eq!(ctl.reply().await, "426 Connection closed; transfer aborted", "stops when the client closes");

    let server = start(TransferFault::Slow { chunk: 4, delay: Duration::from_millis(30) }).await;
    let mut ctl = Ctl::login(server.addr()).await;
    let mut data = ctl.pasv().await;
    let started = Instant::now();
    assert!(ctl.cmd("RETR /f").await.starts_with("150 "));
    assert_eq!(read_all(&mut data).await, content);
    assert!(started.elapsed() >= Duration::from_millis(90), "{:?}", started.elapsed());
    assert_eq!(ctl.reply().await, "226 Transfer complete");
}
