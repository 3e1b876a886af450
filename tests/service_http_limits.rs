//! The HTTP side under abuse (docs/security.md): hundreds of idle and dripping
//! connections while Prometheus scrapes, huge or malformed query strings,
//! oversized heads and bodies, and health endpoints that stay open to
//! Kubernetes' probes while Basic auth guards everything else.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ftp_exporter::app::{App, AppOptions};
use ftp_exporter::http::{Limits, WebConfig};
use support::service::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn start(ftp: &Ftp, limits: Limits, web: WebConfig) -> App {
    let mut opts = AppOptions::new(ftp.write_config(ONE_GOOD_TARGET));
    opts.listen_address = "127.0.0.1:0".into();
    opts.http_limits = limits;
    opts.web = web;
    App::start(opts).await.unwrap()
}

/// Sends `raw` as is on a fresh connection; the status code of the answer
/// (0 when the server closed without one) and its text.
async fn raw(addr: SocketAddr, raw: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    // The server may answer and close before it has read everything.
    let _ = s.write_all(raw).await;
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf)).await.expect("no answer");
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, text)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// A slowloris client: `drip` sends one byte of a request head per second,
/// otherwise it sends nothing. Returns how long the server kept it open.
async fn attacker(addr: SocketAddr, drip: bool, give_up: Duration) -> Option<Duration> {
    let mut s = TcpStream::connect(addr).await.ok()?;
    let opened = Instant::now();
    let head = b"GET /metrics HTTP/1.1\r\nHost: slowloris\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
    let mut next = 0;
    let mut buf = [0u8; 64];
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let closed = async {
        loop {
            tokio::select! {
                r = s.read(&mut buf) => match r {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                },
                _ = tick.tick(), if drip => {
                    let _ = s.write_all(&head[next % head.len()..next % head.len() + 1]).await;
                    next += 1;
                }
            }
        }
    };
    tokio::time::timeout(give_up, closed).await.ok()?;
    Some(opened.elapsed())
}

/// Raises the soft limit on open files: this test holds ~600 sockets.
fn enough_file_descriptors() {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit with a valid pointer to a local struct.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
        lim.rlim_cur = lim.rlim_max.min(4096).max(lim.rlim_cur);
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &lim), 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scrape_is_not_slowed_by_hundreds_of_idle_and_dripping_connections() {
    enough_file_descriptors();
    let ftp = Ftp::start().await;
    let timeout = Duration::from_secs(5);
    let limits = Limits { header_read_timeout: timeout, ..Limits::default() };
    let max = limits.max_connections;
    let app = start(&ftp, limits, WebConfig::default()).await;
    let addr = app.addr();
    scrape_until(addr, Duration::from_secs(10), |s| checked(s, &["good"], 1.0)).await;

    let time_scrape = || async move {
        let t = Instant::now();
        let body = scrape(addr).await;
        assert!(body.contains("ftp_up{mode=\"passive\",target=\"good\"}"), "{body}");
        t.elapsed()
    };
    let mut normal = Vec::new();
    for _ in 0..10 {
        normal.push(time_scrape().await);
    }
    let normal = median(normal);

    // More attackers than slots: half of them silent, half dripping.
    let (idle, dripping) = (150, 150);
    let started = Instant::now();
    let attackers: Vec<_> = (0..idle + dripping)
        .map(|i| tokio::spawn(attacker(addr, i >= idle, timeout + Duration::from_secs(10))))
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let open_at_scrape = attackers.iter().filter(|a| !a.is_finished()).count();
    let mut attacked = Vec::new();
    for _ in 0..10 {
        attacked.push(time_scrape().await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let scraped_within = started.elapsed();
    let mut kept = Vec::new();
    for a in attackers {
        kept.push(a.await.unwrap().expect("an attacker was never cut off"));
    }
    let evicted = kept.iter().filter(|d| **d < timeout.mul_f64(0.8)).count();
    let cut: Vec<Duration> = kept.iter().filter(|d| **d >= timeout.mul_f64(0.8)).copied().collect();
    let worst = attacked.iter().max().copied().unwrap();
    println!(
        "slowloris: normal scrape {normal:?} (median of 10); under attack median {:?}, worst {worst:?} \
         (10 scrapes within {scraped_within:?}); {} attackers ({idle} idle, {dripping} dripping), {open_at_scrape} \
         open when scraping, max_connections {max}; {evicted} evicted early, {} cut at the {timeout:?} header \
         timeout after {:?}..{:?}",
        median(attacked.clone()),
        idle + dripping,
        cut.len(),
        cut.iter().min().unwrap(),
        cut.iter().max().unwrap(),
    );
    // A few times the normal time, with a floor for a loaded machine that
    // is still far below the header timeout the attackers could make it wait.
    let allowed = (normal * 5).max(Duration::from_millis(1500));
    assert!(worst < allowed, "a scrape took {worst:?} under attack, normally {normal:?}");
    assert!(open_at_scrape >= max - 10, "the attack did not fill the slots: {open_at_scrape} open");
    // Eviction takes only what the newcomers need; everyone else is cut at the header timeout.
    assert!(evicted <= idle + dripping - max + attacked.len() + 5, "{evicted} evicted");
    assert!(cut.iter().all(|d| *d < timeout + Duration::from_secs(3)), "held past the timeout: {cut:?}");
    app.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_or_malformed_queries_heads_and_bodies_are_refused() {
    let ftp = Ftp::start().await;
    let app = start(&ftp, Limits::default(), WebConfig::default()).await;
    let addr = app.addr();
    let get = |q: String| async move {
        raw(addr, format!("GET {q} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes()).await
    };

    for q in [
        "/probe?target=good&target=other".to_string(),
        "/probe?target=%zzgood".into(),
        "/probe?target=good%".into(),
        "/probe?target=%ff%fe".into(),
        "/metrics?mode=active&mode=passive".into(),
        format!("/probe?target={}", "a".repeat(9 * 1024)),
    ] {
        let (status, body) = get(q.clone()).await;
        assert_eq!(status, 400, "{}: {body}", &q[..q.len().min(60)]);
    }
    let (status, body) = get("/probe?target=good&target=other".into()).await;
    assert!(body.contains("parameter \"target\" given more than once"), "{status} {body}");
    // Fine ones still work.
    assert_eq!(get("/metrics?_=1&_=2".into()).await.0, 200);
    assert_eq!(get("/probe?target=g%6Fod&mode=passive".into()).await.0, 200);

    // A head over --web.max-header-bytes (16 KiB): 431, from hyper.
    let big = format!("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Pad: {}\r\n\r\n", "p".repeat(20 * 1024));
    assert_eq!(raw(addr, big.as_bytes()).await.0, 431);
    let long_line = format!("GET /metrics?{} HTTP/1.1\r\nHost: x\r\n\r\n", "q".repeat(20 * 1024));
    assert_eq!(raw(addr, long_line.as_bytes()).await.0, 431);

    // Bodies: declared too large (refused unread), chunked too large, small ones ignored.
    let (status, _) =
        raw(addr, b"POST /-/reload HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n").await;
    assert_eq!(status, 413);
    let chunk = format!("1000\r\n{}\r\n", "c".repeat(0x1000));
    let chunked = format!(
        "POST /-/reload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n{chunk}{chunk}0\r\n\r\n"
    );
    assert_eq!(raw(addr, chunked.as_bytes()).await.0, 413);
    let small = b"POST /-/reload HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}";
    let (status, body) = raw(addr, small).await;
    assert_eq!(status, 200, "{body}");
    app.shutdown(Duration::from_secs(5)).await;

    let limits = Limits {
        max_request_body_bytes: 0,
        header_read_timeout: Duration::from_secs(1),
        ..Limits::default()
    };
    let app = start(&ftp, limits, WebConfig::default()).await;
    let addr = app.addr();
    assert_eq!(raw(addr, small).await.0, 413, "0 refuses every body");
    let empty = b"POST /-/reload HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
    assert_eq!(raw(addr, empty).await.0, 200);
    let t = Instant::now();
    let never = b"POST /-/reload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    let (status, _) = raw(addr, never).await;
    assert_eq!(status, 408, "a body that never comes");
    assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());
    app.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_endpoints_need_no_credentials_everything_else_does() {
    let ftp = Ftp::start().await;
    let web_file = web_file(ftp.dir.path(), "", "prometheus", "scrape-Pw", 4);
    let app = start(&ftp, Limits::default(), WebConfig::load(&web_file).unwrap()).await;
    let addr = app.addr();
    for method in ["GET", "HEAD"] {
        for path in ["/-/healthy", "/-/ready"] {
            let (status, text) = raw(
                addr,
                format!("{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
            )
            .await;
            assert_eq!(status, 200, "{method} {path}: {text}");
        }
    }
    for (method, path) in [
        ("GET", "/metrics"),
        ("GET", "/"),
        ("GET", "/probe?target=good"),
        ("POST", "/-/reload"),
        ("POST", "/-/healthy"),
        ("GET", "/-/healthy/x"),
    ] {
        let (status, text) = raw(
            addr,
            format!("{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
                .as_bytes(),
        )
        .await;
        assert_eq!(status, 401, "{method} {path}: {text}");
        assert!(
            text.contains("WWW-Authenticate: Basic") || text.contains("www-authenticate: Basic"),
            "{text}"
        );
    }
    app.shutdown(Duration::from_secs(5)).await;
}
