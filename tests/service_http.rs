//! The HTTP endpoints of docs/http.md on a running exporter: probe, transcript,
//! health, reload (good, bad, target removed), the status page against a
//! hostile server, and that no password shows up anywhere it serves.

mod support;

use std::time::Duration;

use support::service::*;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const CONFIG: &str = r#"
defaults:
  interval: 2s
  timeout: 2s
targets:
  - name: good
    address: FTP_ADDR
    username: monitor
    password_file: good.pw
    check: { retrieve: { path: /pub/hello.txt } }
  - name: bad-password
    address: FTP_ADDR
    username: monitor
    password_file: wrong.pw
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_transcript_and_health_endpoints() {
    let ftp = Ftp::start().await;
    let app = start_app(&ftp.write_config(CONFIG)).await;
    let addr = app.addr();

    assert_eq!(get(addr, "/-/healthy").await.0, 200);
    assert_eq!(get(addr, "/-/ready").await.0, 200);
    assert_eq!(get(addr, "/-/reload").await.0, 405);
    assert_eq!(get(addr, "/nope").await.0, 404);

    let (status, body) = get(addr, "/probe?target=good").await;
    assert_eq!(status, 200, "{body}");
    let s = parse(&body);
    assert_eq!(value(&s, "ftp_up", &[("target", "good"), ("mode", "passive")]), 1.0);
    assert_eq!(value(&s, "ftp_up", &[("target", "good"), ("mode", "active")]), 1.0);
    assert_eq!(
        value(&s, "ftp_transfer_bytes", &[("target", "good"), ("mode", "active"), ("operation", "retrieve")]),
        29.0
    );
    assert!(find(&s, "ftp_checks_total", &[]).is_empty(), "a one-off probe has no counters");

    let (status, body) = get(addr, "/probe?target=bad-password&mode=active").await;
    assert_eq!(status, 200);
    let s = parse(&body);
    assert!(find(&s, "ftp_up", &[("mode", "passive")]).is_empty(), "only the asked mode runs");
    let f = [
        ("target", "bad-password"),
        ("mode", "active"),
        ("phase", "login"),
        ("reason", "auth_failed"),
        ("code", "530"),
    ];
    assert_eq!(value(&s, "ftp_check_failure", &f), 1.0);

    let (status, body) = get(addr, "/probe?target=bad-password&debug=true").await;
    assert_eq!(status, 200);
    assert!(body.contains("target=bad-password mode=passive"), "{body}");
    assert!(body.contains("target=bad-password mode=active"), "{body}");
    assert!(body.contains("> USER monitor"), "{body}");
    assert!(body.contains("> PASS ****"), "{body}");
    assert!(body.contains("< 530"), "{body}");
    assert!(body.contains("active: FAILED phase=login reason=auth_failed code=530"), "{body}");
    assert!(body.contains("diagnosis: Both modes fail at login"), "{body}");

    assert_eq!(get(addr, "/probe").await.0, 400);
    assert_eq!(get(addr, "/probe?target=good&mode=pasive").await.0, 400);
    let (status, body) = get(addr, "/probe?target=unknown").await;
    assert_eq!(status, 404);
    assert!(body.contains("unknown target \"unknown\""), "{body}");

    // The stored transcript of the last check.
    scrape_until(addr, Duration::from_secs(10), |s| checked(s, &["good", "bad-password"], 1.0)).await;
    let (status, body) = get(addr, "/transcript?target=good&mode=active").await;
    assert_eq!(status, 200);
    // `good` was probed above: probes are recorded through the same path as scheduled checks.
    assert!(body.contains("(last check: ") && body.contains("active: ok"), "{body}");
    assert!(body.contains("RETR /pub/hello.txt"), "{body}");
    assert_eq!(get(addr, "/transcript?target=good").await.0, 400);
    assert_eq!(get(addr, "/transcript?target=zzz&mode=active").await.0, 404);

    let (status, page) = get(addr, "/").await;
    assert_eq!(status, 200);
    assert!(page.contains("\"transcript?target=good&amp;mode=passive"), "{page}");
    assert!(page.contains("\"probe?target=bad-password&amp;mode=active&amp;debug=true"));
    assert!(
        page.contains("<span class=\"phase\">login</span> / <span class=\"reason\">auth_failed</span> / 530"),
        "{page}"
    );
    assert!(page.contains("Both modes fail at login"), "diagnosis on the page: {page}");
    app.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_good_bad_and_removed_target() {
    let ftp = Ftp::start().await;
    let path = ftp.write_config(CONFIG);
    let app = start_app(&path).await;
    let addr = app.addr();
    scrape_until(addr, Duration::from_secs(10), |s| checked(s, &["good", "bad-password"], 1.0)).await;
    let before = parse(&scrape(addr).await);
    let reload_ts = value(&before, "ftp_exporter_config_last_reload_success_timestamp_seconds", &[]);

    // A broken file: refused with file:line: key, the running config stays.
    std::fs::write(&path, CONFIG.replace("interval: 2s", "interval: soon")).unwrap();
    let (status, body) = request(addr, "POST", "/-/reload").await;
    assert_eq!(status, 500, "{body}");
    assert!(body.contains(&format!("{}:3: defaults.interval", path.display())), "{body}");
    let s = parse(&scrape(addr).await);
    assert_eq!(value(&s, "ftp_exporter_config_last_reload_successful", &[]), 0.0);
    assert_eq!(value(&s, "ftp_exporter_config_last_reload_success_timestamp_seconds", &[]), reload_ts);
    assert_eq!(value(&s, "ftp_exporter_targets", &[]), 2.0);
    assert_eq!(find(&s, "ftp_target_info", &[]).len(), 2);

    // Remove a target: its series go, the other one keeps its history.
    let good_checks = value(&s, "ftp_checks_total", &[("target", "good"), ("mode", "passive")]);
    let only_good = CONFIG.split("  - name: bad-password").next().unwrap().to_string();
    std::fs::write(&path, only_good.replace("FTP_ADDR", &ftp.addr().to_string())).unwrap();
    let (status, body) = request(addr, "POST", "/-/reload").await;
    assert_eq!(status, 200, "{body}");
    let text = scrape(addr).await;
    assert!(!text.contains("bad-password"), "removed target's series linger:\n{text}");
    let s = parse(&text);
    assert_eq!(value(&s, "ftp_exporter_config_last_reload_successful", &[]), 1.0);
    assert_eq!(value(&s, "ftp_exporter_targets", &[]), 1.0);
    assert!(
        value(&s, "ftp_checks_total", &[("target", "good"), ("mode", "passive")]) >= good_checks,
        "unchanged target was reset"
    );
    assert!(!get(addr, "/").await.1.contains("bad-password"));
    assert_eq!(get(addr, "/probe?target=bad-password").await.0, 404);

    // Add it back: it is checked again.
    std::fs::write(&path, CONFIG.replace("FTP_ADDR", &ftp.addr().to_string())).unwrap();
    assert_eq!(request(addr, "POST", "/-/reload").await.0, 200);
    scrape_until(addr, Duration::from_secs(10), |s| checked(s, &["bad-password"], 1.0)).await;
    app.shutdown(Duration::from_secs(5)).await;
}

/// An FTP "server" whose banner and replies carry markup.
async fn hostile_server() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (r, mut w) = stream.into_split();
                let mut lines = BufReader::new(r).lines();
                w.write_all(b"220 <script>alert('banner')</script>\r\n").await.unwrap();
                while let Ok(Some(line)) = lines.next_line().await {
                    let reply: &[u8] = if line.starts_with("QUIT") {
                        b"221 bye\r\n"
                    } else {
                        b"530 <script>alert('reply')</script> <img src=x onerror=alert(1)>\r\n"
                    };
                    if w.write_all(reply).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_page_escapes_a_hostile_server_and_nothing_shows_a_password() {
    let ftp = Ftp::start().await;
    let evil = hostile_server().await;
    let config = format!(
        "{CONFIG}  - name: hostile\n    address: {evil}\n    username: monitor\n    password_file: good.pw\n"
    );
    let app = start_app(&ftp.write_config(&config)).await;
    let addr = app.addr();
    scrape_until(addr, Duration::from_secs(10), |s| checked(s, &["good", "bad-password", "hostile"], 1.0))
        .await;

    let (_, page) = get(addr, "/").await;
    assert!(page.contains("hostile"), "{page}");
    assert_eq!(page.matches("<script").count(), 1, "only the page's own script:\n{page}");
    assert!(!page.contains("<script>alert") && !page.contains("<img"), "unescaped markup:\n{page}");
    assert!(page.contains("&lt;script&gt;alert(&#39;reply&#39;)&lt;/script&gt;"), "{page}");

    let mut served = vec![page, scrape(addr).await];
    for target in ["good", "bad-password", "hostile"] {
        for mode in ["passive", "active"] {
            served.push(get(addr, &format!("/transcript?target={target}&mode={mode}")).await.1);
        }
        served.push(get(addr, &format!("/probe?target={target}&debug=true")).await.1);
        // The HTML pages (diagrams, transcripts) of the same checks.
        for path in [
            format!("/probe?target={target}&debug=true&format=html"),
            format!("/transcript?target={target}&format=html"),
        ] {
            let page = get(addr, &path).await.1;
            assert!(!page.contains("<script>alert") && !page.contains("<img"), "{page}");
            if target == "hostile" {
                assert!(page.contains("&lt;script&gt;alert(&#39;reply&#39;)"), "{page}");
            }
            served.push(page);
        }
        served.push(get(addr, &format!("/probe?target={target}")).await.1);
    }
    let hostile = get(addr, "/transcript?target=hostile&mode=passive").await.1;
    assert!(
        hostile.contains("< 220 <script>alert('banner')</script>"),
        "transcript keeps the text: {hostile}"
    );
    for body in &served {
        for line in body.lines().filter(|l| l.contains("> PASS")) {
            assert!(line.ends_with("> PASS ****"), "unmasked: {line}");
        }
        for secret in [PASSWORD, WRONG_PASSWORD] {
            assert!(!body.contains(secret), "password served:\n{body}");
        }
    }
    app.shutdown(Duration::from_secs(5)).await;
}

/// Status, headers and body of a GET with extra header lines.
async fn get_head(addr: std::net::SocketAddr, path: &str, headers: &str) -> (u16, String, String) {
    use tokio::io::AsyncReadExt;
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n{headers}\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8(buf).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head.to_ascii_lowercase(), body.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browsers_get_html_with_a_policy_and_everyone_else_text() {
    let ftp = Ftp::start().await;
    let app = start_app(&ftp.write_config(CONFIG)).await;
    let addr = app.addr();
    scrape_until(addr, Duration::from_secs(10), |s| checked(s, &["good", "bad-password"], 1.0)).await;
    const BROWSER: &str = "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n";
    let policy = ftp_exporter::status::content_security_policy().to_ascii_lowercase();
    for path in [
        "/",
        "/grid",
        "/transcript?target=good",
        "/transcript?target=good&mode=active",
        "/probe?target=bad-password&debug=true",
    ] {
        let (status, head, body) = get_head(addr, path, BROWSER).await;
        assert_eq!(status, 200, "{path}: {body}");
        assert!(head.contains("content-type: text/html; charset=utf-8"), "{path}: {head}");
        assert!(head.contains(&format!("content-security-policy: {policy}")), "{path}: {head}");
    }
    let (_, _, body) = get_head(addr, "/transcript?target=bad-password&mode=active", BROWSER).await;
    assert_eq!(
        body.matches("<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"sd\"").count(),
        2,
        "both modes: {body}"
    );
    assert!(body.contains("data-reason=\"auth_failed\""), "{body}");
    // curl, Prometheus and scripts keep getting text; format= overrides Accept.
    let (_, head, body) = get_head(addr, "/transcript?target=good&mode=active", "Accept: */*\r\n").await;
    assert!(head.contains("content-type: text/plain") && body.contains("active: ok"), "{body}");
    let (_, head, _) = get_head(addr, "/transcript?target=good&mode=active&format=text", BROWSER).await;
    assert!(head.contains("content-type: text/plain"), "{head}");
    let (_, head, _) = get_head(addr, "/probe?target=good&mode=passive&debug=true&format=html", "").await;
    assert!(head.contains("content-type: text/html"), "{head}");
    assert_eq!(get(addr, "/transcript?target=good").await.0, 400, "text needs a mode");
    let (status, grid) = get(addr, "/grid").await;
    assert_eq!(status, 200);
    assert!(
        grid.starts_with("<tr id=\"grid-now\"") && grid.matches("<tr class=\"target\"").count() == 2,
        "{grid}"
    );
    app.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_cannot_starve_the_server() {
    let ftp = Ftp::start().await;
    let mut opts = ftp_exporter::app::AppOptions::new(ftp.write_config(CONFIG));
    opts.listen_address = "127.0.0.1:0".into();
    opts.http_limits = ftp_exporter::http::Limits {
        max_connections: 2,
        header_read_timeout: Duration::from_secs(2),
        ..Default::default()
    };
    let app = ftp_exporter::app::App::start(opts).await.unwrap();
    let addr = app.addr();
    // Two clients take both slots and never finish their headers.
    let mut slow = Vec::new();
    for _ in 0..2 {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n").await.unwrap();
        slow.push((s, std::time::Instant::now()));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    // A newcomer takes the oldest idle connection's slot at once.
    let started = std::time::Instant::now();
    let (status, _) = get(addr, "/-/healthy").await;
    assert_eq!(status, 200);
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(1), "slow clients held their slots: {waited:?}");
    // The oldest was evicted for it; the other is cut at the header timeout.
    let mut closed_after = Vec::new();
    for (mut s, opened) in slow {
        let mut buf = Vec::new();
        let n = tokio::time::timeout(
            Duration::from_secs(4),
            tokio::io::AsyncReadExt::read_to_end(&mut s, &mut buf),
        )
        .await
        .expect("slow connection still open");
        assert!(n.is_ok());
        closed_after.push(opened.elapsed());
    }
    assert!(closed_after[0] < Duration::from_secs(1), "oldest not evicted: {closed_after:?}");
    assert!(
        closed_after[1] >= Duration::from_millis(1800),
        "cut before the header timeout: {closed_after:?}"
    );
    app.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_auth_from_the_web_config_file() {
    let ftp = Ftp::start().await;
    let web_file = web_file(ftp.dir.path(), "", "prometheus", "scrape-Pw", 4);
    let mut opts = ftp_exporter::app::AppOptions::new(ftp.write_config(CONFIG));
    opts.listen_address = "127.0.0.1:0".into();
    opts.web = ftp_exporter::http::WebConfig::load(&web_file).unwrap();
    let app = ftp_exporter::app::App::start(opts).await.unwrap();
    let addr = app.addr();
    assert_eq!(get(addr, "/metrics").await.0, 401);
    assert_eq!(get(addr, "/").await.0, 401);
    let send = |auth: &'static str| async move {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let req = format!(
            "GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {auth}\r\nConnection: close\r\n\r\n"
        );
        s.write_all(req.as_bytes()).await.unwrap();
        let mut buf = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut s, &mut buf).await.unwrap();
        buf
    };
    // base64("prometheus:scrape-Pw") and base64("prometheus:wrong")
    assert!(send("cHJvbWV0aGV1czpzY3JhcGUtUHc=").await.starts_with("HTTP/1.1 200"));
    assert!(send("cHJvbWV0aGV1czp3cm9uZw==").await.starts_with("HTTP/1.1 401"));
    app.shutdown(Duration::from_secs(5)).await;
}
