//! A reload never blocks the runtime: files the config names
//! are refused by their metadata before anything opens them, the load runs
//! on a blocking thread under a deadline, and `/metrics` keeps answering
//! while a reload is refused or hung.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ftp_exporter::app::App;
use ftp_exporter::config::{Config, LOAD_TIMEOUT};
use support::service::*;

const CONFIG: &str = r#"
defaults:
  interval: 2s
  timeout: 2s
targets:
  - name: good
    address: FTP_ADDR
    username: monitor
    password_file: good.pw
    modes: [passive]
"#;

/// CONFIG plus a target whose password file is `password_file`.
fn with_new_target(ftp: &Ftp, password_file: &Path) -> String {
    format!(
        "{}  - name: newcomer\n    address: {}\n    username: monitor\n    password_file: {}\n",
        CONFIG.replace("FTP_ADDR", &ftp.addr().to_string()),
        ftp.addr(),
        password_file.display()
    )
}

/// Scrapes `/metrics` until `reload` is done; returns the slowest answer.
async fn slowest_scrape_during(
    addr: std::net::SocketAddr,
    reload: tokio::task::JoinHandle<(u16, String)>,
) -> (Duration, (u16, String)) {
    let mut slowest = Duration::ZERO;
    let mut scrapes = 0;
    while !reload.is_finished() || scrapes == 0 {
        let t = Instant::now();
        let (status, _) = get(addr, "/metrics").await;
        assert_eq!(status, 200);
        slowest = slowest.max(t.elapsed());
        scrapes += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (slowest, reload.await.unwrap())
}

/// Starts an exporter on CONFIG, then reloads a config that adds a target
/// whose `password_file` is `pw`, scraping `/metrics` all along. Returns
/// the exporter, its config file, the slowest scrape and the reload's answer.
async fn reload_while_scraping(ftp: &Ftp, pw: &Path) -> (App, PathBuf, Duration, (u16, String)) {
    let path = ftp.write_config(CONFIG);
    let app = start_app(&path).await;
    let addr = app.addr();
    std::fs::write(&path, with_new_target(ftp, pw)).unwrap();
    let reload = tokio::spawn(async move { request(addr, "POST", "/-/reload").await });
    let (slowest, answer) = slowest_scrape_during(addr, reload).await;
    (app, path, slowest, answer)
}

fn targets(samples: &[Sample]) -> f64 {
    value(samples, "ftp_exporter_targets", &[])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifo_password_file_is_refused_and_metrics_keep_answering() {
    let ftp = Ftp::start().await;
    let fifo = ftp.dir.path().join("fifo.pw");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let (app, path, slowest, (status, body)) = reload_while_scraping(&ftp, &fifo).await;
    let addr = app.addr();
    assert_eq!(status, 500, "{body}");
    assert!(
        body.contains(&format!(
            "{}:14: targets[1].password_file: cannot read {}",
            path.display(),
            fifo.display()
        )) && body.contains("not a regular file (a FIFO)"),
        "names file, line, key and the FIFO: {body}"
    );
    assert!(slowest < Duration::from_millis(100), "/metrics took {slowest:?} during the reload");
    let s = parse(&scrape(addr).await);
    assert_eq!(targets(&s), 1.0, "the running configuration is kept");
    assert_eq!(value(&s, "ftp_exporter_config_last_reload_successful", &[]), 0.0);
    app.shutdown(Duration::from_secs(5)).await;
}

/// Holds a write lease on `file` from another process (python3): anyone
/// else's `open` of it blocks until the lease is released, as on a hung
/// mount (fcntl(2) F_SETLEASE; the holder ignores the lease-break signal,
/// so the open waits out /proc/sys/fs/lease-break-time, 45 s by default).
struct HungFile {
    holder: Child,
}

impl HungFile {
    fn hold(file: &Path) -> HungFile {
        let script = "import fcntl, os, signal, sys, time\n\
                      signal.signal(signal.SIGIO, signal.SIG_IGN)\n\
                      fd = os.open(sys.argv[1], os.O_RDWR)\n\
                      fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_WRLCK)\n\
                      print('leased', flush=True)\n\
                      time.sleep(120)\n";
        let mut holder = Command::new("python3")
            .args(["-c", script])
            .arg(file)
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 (a test dependency) runs the lease holder");
        let mut line = String::new();
        use std::io::BufRead;
        std::io::BufReader::new(holder.stdout.take().unwrap()).read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "leased", "the lease holder could not take its lease");
        HungFile { holder }
    }
}

impl Drop for HungFile {
    fn drop(&mut self) {
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

fn hung_password_file(ftp: &Ftp) -> (PathBuf, HungFile) {
    let pw = ftp.dir.path().join("hung.pw");
    std::fs::write(&pw, PASSWORD).unwrap();
    let hung = HungFile::hold(&pw);
    (pw, hung)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_load_is_cut_off_by_its_deadline_and_not_repeated() {
    let ftp = Ftp::start().await;
    let (pw, hung) = hung_password_file(&ftp);
    let path = ftp.write_config(&with_new_target(&ftp, &pw));
    let t = Instant::now();
    let err =
        Config::load_off_runtime(&path, Duration::from_millis(500), Default::default()).await.unwrap_err();
    let took = t.elapsed();
    assert!(took >= Duration::from_millis(500) && took < Duration::from_secs(2), "{took:?}");
    assert!(err.to_string().contains("loading took longer than 500ms"), "{err}");
    assert!(err.to_string().starts_with(&path.display().to_string()), "names the file: {err}");
    // The thread is still blocked in open(2): a second load is refused at
    // once rather than blocking a second thread.
    let t = Instant::now();
    let again =
        Config::load_off_runtime(&path, Duration::from_secs(5), Default::default()).await.unwrap_err();
    assert!(t.elapsed() < Duration::from_millis(200), "{:?}", t.elapsed());
    assert!(again.to_string().contains("still blocked"), "{again}");
    // Released, the stuck load finishes and the file loads again.
    drop(hung);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match Config::load_off_runtime(&path, Duration::from_secs(5), Default::default()).await {
            Ok(c) => {
                assert_eq!(c.targets.len(), 2);
                break;
            }
            Err(e) if e.to_string().contains("still blocked") && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Err(e) => panic!("{e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_reload_keeps_the_running_config_and_metrics_answer() {
    let ftp = Ftp::start().await;
    let (pw, _hung) = hung_password_file(&ftp);
    let t = Instant::now();
    let (app, _, slowest, (status, body)) = reload_while_scraping(&ftp, &pw).await;
    let addr = app.addr();
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("loading took longer than"), "{body}");
    assert!(
        t.elapsed() >= LOAD_TIMEOUT && t.elapsed() < LOAD_TIMEOUT + Duration::from_secs(2),
        "{:?}",
        t.elapsed()
    );
    // The slowest of some hundred scrapes over the 10 s the reload hangs:
    // a scrape waiting on the reload would take seconds (its deadline); a
    // loaded CI machine may take a little over the FIFO test's 100 ms.
    assert!(slowest < Duration::from_secs(1), "/metrics took {slowest:?} during the hung reload");
    let s = parse(&scrape(addr).await);
    assert_eq!(targets(&s), 1.0, "the running configuration is kept");
    assert_eq!(get(addr, "/").await.0, 200, "the status page answers too");
    app.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_ready_while_the_first_configuration_loads() {
    let ftp = Ftp::start().await;
    let (pw, hung) = hung_password_file(&ftp);
    let path = ftp.write_config(&with_new_target(&ftp, &pw));
    // A free port to start on, so the test can ask while start-up waits.
    let addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let mut opts = ftp_exporter::app::AppOptions::new(&path);
    opts.listen_address = addr.to_string();
    let starting = tokio::spawn(App::start(opts));
    let deadline = Instant::now() + Duration::from_secs(5);
    let (status, body) = loop {
        match tokio::net::TcpStream::connect(addr).await {
            Ok(_) => break get(addr, "/-/ready").await,
            Err(_) if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(20)).await,
            Err(e) => panic!("the exporter does not serve while its configuration loads: {e}"),
        }
    };
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("Not ready"), "{body}");
    assert_eq!(get(addr, "/-/healthy").await.0, 200);
    let s = parse(&scrape(addr).await);
    assert_eq!(value(&s, "ftp_exporter_config_last_reload_successful", &[]), 0.0);
    assert!(!starting.is_finished());
    // The file answers again: the load completes and the exporter is ready.
    drop(hung);
    let app = starting.await.unwrap().unwrap();
    assert_eq!(get(addr, "/-/ready").await.0, 200);
    assert_eq!(targets(&parse(&scrape(addr).await)), 2.0);
    app.shutdown(Duration::from_secs(5)).await;
}
