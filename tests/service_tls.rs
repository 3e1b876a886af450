//! TLS on both sides of the exporter: an explicit-FTPS target whose
//! certificate expiry reaches `/metrics`, served over HTTPS as configured by
//! `--web.config.file` (exporter-toolkit's `tls_server_config`).

mod support;

use std::sync::Arc;
use std::time::Duration;

use ftp_exporter::app::{App, AppOptions};
use ftp_exporter::embedded::{EmbeddedOptions, EmbeddedServer};
use ftp_exporter::http::WebConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use support::certs::TestCa;
use support::service::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn https_get(addr: std::net::SocketAddr, ca: &std::path::Path, path: &str) -> String {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let config =
        rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp).await.unwrap();
    tls.write_all(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut buf = Vec::new();
    // A peer closing without close_notify is an error for rustls; the body is complete by then.
    let _ = tls.read_to_end(&mut buf).await;
    String::from_utf8(buf).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ftps_expiry_over_https() {
    let dir = tempfile::tempdir().unwrap();
    let test_ca = TestCa::new(dir.path(), "service");
    let server_cert = test_ca.server_cert(dir.path(), "server", false);
    let (ca, cert, key, not_after) =
        (test_ca.ca_file.clone(), server_cert.cert_file, server_cert.key_file, server_cert.not_after);
    let root = dir.path().join("root");
    std::fs::create_dir_all(&root).unwrap();
    let mut opts = EmbeddedOptions::new(&root, USER, PASSWORD);
    opts.ftps = Some((cert.clone(), key.clone()));
    let ftp = EmbeddedServer::start(opts).await.unwrap();

    std::fs::write(dir.path().join("good.pw"), PASSWORD).unwrap();
    let config = dir.path().join("ftp_exporter.yml");
    std::fs::write(
        &config,
        format!(
            "defaults: {{ interval: 2s, timeout: 2s }}\ntargets:\n  - name: ftps\n    address: {}\n    \
             username: {USER}\n    password_file: good.pw\n    tls: explicit\n    tls_ca_file: service-ca.pem\n",
            ftp.addr()
        ),
    )
    .unwrap();
    let web = dir.path().join("web.yml");
    std::fs::write(&web, "tls_server_config:\n  cert_file: server-cert.pem\n  key_file: server-key.pem\n")
        .unwrap();

    let mut app_opts = AppOptions::new(&config);
    app_opts.listen_address = "127.0.0.1:0".into();
    app_opts.web = WebConfig::load(&web).unwrap();
    let app = App::start(app_opts).await.unwrap();

    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let samples = loop {
        let response = https_get(app.addr(), &ca, "/metrics").await;
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        let s = parse(response.split_once("\r\n\r\n").unwrap().1);
        // Both modes up at least once. Not "the first check": about one
        // explicit-FTPS session in 30 against the embedded libunftp server
        // fails its control handshake right after 234 (InvalidContentType,
        // reported to the lead); this test is about what reaches /metrics.
        if find(&s, "ftp_up", &[("target", "ftps")]).iter().filter(|u| u.value == 1.0).count() == 2 {
            break s;
        }
        assert!(tokio::time::Instant::now() < deadline, "no check within 10 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    for mode in ["passive", "active"] {
        if value(&samples, "ftp_up", &[("target", "ftps"), ("mode", mode)]) != 1.0 {
            let transcript =
                https_get(app.addr(), &ca, &format!("/transcript?target=ftps&mode={mode}")).await;
            panic!("{mode} failed: {:?}\n{transcript}", find(&samples, "ftp_check_failure", &[]));
        }
        assert!(
            value(
                &samples,
                "ftp_phase_duration_seconds",
                &[("target", "ftps"), ("mode", mode), ("phase", "tls")]
            ) > 0.0
        );
    }
    assert_eq!(
        value(&samples, "ftp_tls_certificate_expiry_timestamp_seconds", &[("target", "ftps")]),
        not_after as f64
    );
    assert_eq!(find(&samples, "ftp_target_info", &[("target", "ftps")])[0].label("tls"), Some("explicit"));
    // Plain HTTP on the HTTPS port gets nothing useful.
    let plain = tokio::time::timeout(Duration::from_secs(5), async {
        let mut s = tokio::net::TcpStream::connect(app.addr()).await.unwrap();
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf).await;
        buf
    })
    .await
    .unwrap();
    assert!(!String::from_utf8_lossy(&plain).contains("ftp_up"));
    app.shutdown(Duration::from_secs(5)).await;
}
