//! A graceful stop and a probe whose client goes away, against servers
//! that record what they were sent: requests in flight are answered whole,
//! idle connections close, and a check that is stopped says QUIT.

mod support;

use std::time::{Duration, Instant};

use ftp_exporter::app::{App, AppOptions};
use ftp_exporter::scheduler::{first_run_offset, FIRST_ROUND_SPREAD};
use support::fault_server::{FaultServer, Script, TransferFault};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A target name whose first scheduled check comes late in the first
/// round, so a test can probe it before the schedule does.
fn late_name(prefix: &str) -> String {
    (0..)
        .map(|i| format!("{prefix}{i}"))
        .find(|n| first_run_offset(n, FIRST_ROUND_SPREAD) > Duration::from_secs(8))
        .unwrap()
}

async fn start(config: &str, grace: Duration) -> (App, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ftp_exporter.yml");
    std::fs::write(&path, config).unwrap();
    let mut opts = AppOptions::new(&path);
    opts.listen_address = "127.0.0.1:0".into();
    opts.shutdown_grace = grace;
    (App::start(opts).await.unwrap(), dir)
}

/// A file whose data trickles (one byte a second): a check that takes as
/// long as its timeout.
fn trickling_server() -> Script {
    Script::new()
        .file("/slow.bin", vec![b'x'; 100])
        .transfer(TransferFault::Slow { chunk: 1, delay: Duration::from_secs(1) })
}

/// A target of the trickling server, probed before the schedule checks it.
fn config(name: &str, ftp: &FaultServer) -> String {
    format!(
        "targets:\n  - {{ name: {name}, address: {}, interval: 1h, timeout: 30s, modes: [passive], \
         check: {{ retrieve: {{ path: /slow.bin }} }} }}\n",
        ftp.addr()
    )
}

async fn send(addr: std::net::SocketAddr, path: &str, keep_alive: bool) -> tokio::net::TcpStream {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let conn = if keep_alive { "keep-alive" } else { "close" };
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: {conn}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_stop_answers_what_is_in_flight_and_closes_the_rest() {
    let ftp = FaultServer::start(trickling_server()).await;
    let name = late_name("slow");
    let (app, _dir) = start(&config(&name, &ftp), Duration::from_secs(5)).await;
    let addr = app.addr();
    // An idle keep-alive connection, as Prometheus keeps between scrapes.
    let mut idle = send(addr, "/-/healthy", true).await;
    let mut buf = [0u8; 1024];
    let n = idle.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    // A probe in flight: its check takes its whole 1.5 s budget.
    let mut probe = tokio::net::TcpStream::connect(addr).await.unwrap();
    probe
        .write_all(
            format!("GET /probe?target={name} HTTP/1.1\r\nHost: t\r\nConnection: close\r\nX-Prometheus-Scrape-Timeout-Seconds: 2\r\n\r\n")
                .as_bytes(),
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    let t0 = Instant::now();
    let stopping = tokio::spawn(app.shutdown(Duration::from_secs(5)));
    // The idle connection is closed at once.
    let closed = tokio::time::timeout(Duration::from_secs(2), idle.read(&mut buf)).await;
    assert!(matches!(closed, Ok(Ok(0)) | Ok(Err(_))), "idle connection not closed: {closed:?}");
    // The probe in flight is answered whole.
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), probe.read_to_end(&mut answer)).await.unwrap().unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains(&format!("ftp_up{{mode=\"passive\",target=\"{name}\"}} 0")), "{answer}");
    stopping.await.unwrap();
    let took = t0.elapsed();
    eprintln!("stopped {took:?} after the signal, with a probe in flight");
    assert!(took < Duration::from_secs(4), "{took:?}");
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "still accepting after shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_probe_whose_client_goes_away_sends_quit() {
    let ftp = FaultServer::start(trickling_server()).await;
    let name = late_name("drip");
    let (app, _dir) = start(&config(&name, &ftp), Duration::from_secs(5)).await;
    let client = send(app.addr(), &format!("/probe?target={name}"), false).await;
    // Until the server is sending the file, slowly.
    let t = Instant::now();
    while !ftp.received("RETR") {
        assert!(t.elapsed() < Duration::from_secs(5), "{:?}", ftp.commands());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(client);
    let gone = Instant::now();
    // The file would take 100 s; the scripted server reads its control
    // connection between the chunks it sends (one a second).
    while !ftp.received("QUIT") {
        assert!(
            gone.elapsed() < Duration::from_secs(5),
            "no QUIT after the client left: {:?}",
            ftp.commands()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!("QUIT {:?} after the probe's client went away", gone.elapsed());
    // The cancelled probe is not recorded: no result was asked for.
    let (_, body) = support::service::get(app.addr(), "/metrics").await;
    assert!(!body.contains(&format!("ftp_up{{mode=\"passive\",target=\"{name}\"}}")), "{body}");
    app.shutdown(Duration::from_secs(5)).await;
}
