//! The soak: the exporter binary, for minutes, against a
//! real vsftpd and scripted servers that flap (up, 421, silent, reset
//! mid-transfer, slow drip, malformed 227), reloaded every few seconds
//! (SIGHUP and `POST /-/reload`, valid and broken files, a target coming and
//! going), with `/metrics`, `/probe`, `/probe?module=` and `/` requested
//! all the while. Measured from `/proc/<pid>`, before and after the load:
//! open file descriptors, threads and RSS must come back to their baseline.
//! Every check must end by its deadline plus 1 s (by the latency histogram:
//! all checks, and by the servers' own clocks), nothing may panic, and every
//! check must be counted exactly once: `ftp_checks_total` equals the
//! sessions the servers saw.
//!
//! And with file descriptors exhausted (`RLIMIT_NOFILE` lowered for the
//! child), checks fail with `io_error` naming the cause while `/metrics`
//! keeps answering without spinning.
//!
//! `FTP_EXPORTER_SOAK_SECS` sets the load phase (default 180 s, the test
//! command's); e.g. `FTP_EXPORTER_SOAK_SECS=3600 cargo test --test soak`.

mod support;

#[path = "support/real_servers/mod.rs"]
mod real_servers;

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use real_servers::{RealServer, ServerKind, ServerOptions};
use support::binary::*;
use support::fault_server::{Banner, FaultServer, PasvFault, Script, TransferFault};
use support::service::*;

/// Every counted target's timeout; the deadline the soak holds checks to.
const TIMEOUT: f64 = 2.0;
/// A check may outlive its deadline by this much, at most.
const OVERRUN: f64 = 1.0;
const BIG: usize = 64 * 1024;

fn soak_secs() -> u64 {
    std::env::var("FTP_EXPORTER_SOAK_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(180)
}

/// What `/proc/<pid>` says of the exporter.
#[derive(Debug, Clone, Copy)]
struct Figures {
    fds: usize,
    threads: usize,
    rss_kib: u64,
}

impl Figures {
    /// `pick` (min or max) of each figure of the two.
    fn each(self, other: Figures, pick: fn(u64, u64) -> u64) -> Figures {
        Figures {
            fds: pick(self.fds as u64, other.fds as u64) as usize,
            threads: pick(self.threads as u64, other.threads as u64) as usize,
            rss_kib: pick(self.rss_kib, other.rss_kib),
        }
    }
}

impl std::fmt::Display for Figures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "fds {}, threads {}, RSS {:.1} MiB", self.fds, self.threads, self.rss_kib as f64 / 1024.0)
    }
}

fn figures(pid: u32) -> Figures {
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    Figures { fds, threads: field("Threads:") as usize, rss_kib: field("VmRSS:") }
}

/// The quietest of a few samples over two seconds: a scheduled check
/// running at one sampling instant is not a leak.
async fn settled(pid: u32) -> Figures {
    let mut best = figures(pid);
    for _ in 0..8 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        best = best.each(figures(pid), std::cmp::min);
    }
    best
}

/// CPU time (user + system) of the process, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // After the parenthesised command name: state is field 3, utime 14, stime 15.
    let rest = stat.rsplit_once(") ").map(|(_, r)| r).unwrap_or("");
    let f: Vec<u64> = rest.split_whitespace().map(|x| x.parse().unwrap_or(0)).collect();
    f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0)
}

/// The exporter binary in a child process; killed when dropped.
struct Exporter {
    child: Child,
    addr: std::net::SocketAddr,
    log: PathBuf,
}

impl Exporter {
    /// Starts the binary on `config`, its stderr in a file (a pipe nobody
    /// reads would fill up and block it); `nofile`: its RLIMIT_NOFILE.
    async fn start(config: &Path, args: &[&str], nofile: Option<u64>) -> Exporter {
        let port = free_port();
        let log = config.with_extension("log");
        let mut cmd = Command::new(BIN);
        cmd.arg(format!("--config.file={}", config.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .args(args)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        if let Some(n) = nofile {
            let limit = libc::rlimit { rlim_cur: n, rlim_max: n };
            // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
            unsafe {
                cmd.pre_exec(move || {
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 {
                        Ok(())
                    } else {
                        Err(std::io::Error::last_os_error())
                    }
                });
            }
        }
        let child = cmd.spawn().unwrap();
        let addr = wait_listening(port, "exporter").await;
        Exporter { child, addr, log }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The flapping servers' files: one download big enough to drip.
fn with_files(s: Script) -> Script {
    s.file("/big.bin", vec![b'x'; BIG])
}

fn calm() -> Vec<Script> {
    vec![with_files(Script::new())]
}

/// up, 421, silent, up, reset mid-transfer: connection n takes the n-th.
fn flapping_a() -> Vec<Script> {
    [
        Script::new(),
        Script::new().banner(Banner::ReplyAndClose("421 Too many users, try later".into())),
        Script::new().banner(Banner::Silent),
        Script::new(),
        Script::new().transfer(TransferFault::ResetAfter(8192)),
    ]
    .into_iter()
    .map(with_files)
    .collect()
}

/// up, slow drip, malformed 227, up, 421.
fn flapping_b() -> Vec<Script> {
    [
        Script::new(),
        Script::new().transfer(TransferFault::Slow { chunk: 1024, delay: Duration::from_millis(200) }),
        Script::new().pasv(PasvFault::Malformed("227 Entering Passive Mode (127,0,0,1,oops)".into())),
        Script::new(),
        Script::new().on("PASS", support::fault_server::Reaction::Reply("421 Shutting down".into())),
    ]
    .into_iter()
    .map(with_files)
    .collect()
}

/// The targets whose checks are counted against the servers' sessions.
const COUNTED: [&str; 3] = ["vsftpd", "flap-a", "flap-b"];

struct Lab {
    vsftpd: RealServer,
    flap_a: FaultServer,
    flap_b: FaultServer,
    churn: FaultServer,
    module: FaultServer,
    /// vsftpd's `CONNECT` lines before the exporter started (its readiness probe).
    vsftpd_before: usize,
    dir: tempfile::TempDir,
}

impl Lab {
    async fn start() -> Lab {
        let vsftpd = RealServer::start(ServerKind::Vsftpd, ServerOptions::default());
        let vsftpd_before = vsftpd_sessions(&vsftpd);
        let flap_a = FaultServer::start_rotating(calm()).await;
        let flap_b = FaultServer::start_rotating(calm()).await;
        let churn = FaultServer::start(Script::new().banner_delay(Duration::from_millis(500))).await;
        let module = FaultServer::start(Script::new()).await;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("vsftpd.pw"), &vsftpd.password).unwrap();
        Lab { vsftpd, flap_a, flap_b, churn, module, vsftpd_before, dir }
    }

    fn config(&self, churn: bool) -> String {
        let mut y = format!(
            "defaults: {{ interval: 3s, timeout: {TIMEOUT}s }}
targets:
  - name: vsftpd
    address: {vs}
    username: {user}
    password_file: vsftpd.pw
    check:
      list: /pub
      retrieve: {{ path: /pub/hello.txt }}
      store: {{ path: /incoming/soak.tmp, bytes: 65536 }}
  - name: flap-a
    address: {a}
    check: {{ retrieve: {{ path: /big.bin }} }}
  - name: flap-b
    address: {b}
    check: {{ retrieve: {{ path: /big.bin }} }}
",
            vs = self.vsftpd.addr(),
            user = self.vsftpd.user,
            a = self.flap_a.addr(),
            b = self.flap_b.addr(),
        );
        if churn {
            y.push_str(&format!(
                "  - name: churn\n    address: {}\n    interval: 1s\n    timeout: 1s\n",
                self.churn.addr()
            ));
        }
        y.push_str(&format!(
            "modules:\n  soak:\n    modes: [passive]\n    timeout: {TIMEOUT}s\n    allowed_targets: [\"{}\"]\n\
             metrics:\n  duration_buckets: [0.5, 1, {TIMEOUT}, {}]\n",
            self.module.addr(),
            TIMEOUT + OVERRUN
        ));
        y
    }

    fn write(&self, text: &str) -> PathBuf {
        let path = self.dir.path().join("soak.yml");
        std::fs::write(&path, text).unwrap();
        path
    }

    fn flap(&self, on: bool) {
        self.flap_a.set_rotation(if on { flapping_a() } else { calm() });
        self.flap_b.set_rotation(if on { flapping_b() } else { calm() });
    }

    /// Control connections the counted targets' servers accepted.
    fn seen(&self) -> usize {
        vsftpd_sessions(&self.vsftpd) - self.vsftpd_before
            + self.flap_a.connections()
            + self.flap_b.connections()
    }
}

fn vsftpd_sessions(s: &RealServer) -> usize {
    s.log().matches("CONNECT: Client").count()
}

/// What the load did, by request kind and answer.
#[derive(Default)]
struct Tally {
    answers: std::sync::Mutex<BTreeMap<String, usize>>,
    module_ok: AtomicUsize,
}

impl Tally {
    fn add(&self, what: &str, status: u16) {
        *self.answers.lock().unwrap().entry(format!("{what} {status}")).or_default() += 1;
    }
}

/// Requests `path` every `every` until `stop`, tallying the answers.
fn hammer(
    addr: std::net::SocketAddr,
    what: &'static str,
    paths: Vec<String>,
    headers: &'static str,
    every: Duration,
    stop: Arc<AtomicBool>,
    tally: Arc<Tally>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut i = 0;
        while !stop.load(Ordering::Relaxed) {
            let path = &paths[i % paths.len()];
            i += 1;
            let (status, _) = request_with(addr, path, headers).await;
            tally.add(what, status);
            if what == "module" && status == 200 {
                tally.module_ok.fetch_add(1, Ordering::SeqCst);
            }
            tokio::time::sleep(every).await;
        }
    })
}

/// Waits for a scrape with no check in flight between two identical
/// readings of the servers' session counts, and returns (recorded, seen).
async fn quiescent_count(addr: std::net::SocketAddr, lab: &Lab) -> (f64, usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let before = lab.seen();
        let s = parse(&scrape(addr).await);
        let after = lab.seen();
        let in_flight = value(&s, "ftp_exporter_checks_in_flight", &[]);
        if in_flight == 0.0 && before == after {
            let recorded: f64 = s
                .iter()
                .filter(|x| {
                    x.name == "ftp_checks_total" && COUNTED.contains(&x.label("target").unwrap_or(""))
                })
                .map(|x| x.value)
                .sum();
            return (recorded, after);
        }
        assert!(Instant::now() < deadline, "no quiet moment to count checks in 60 s");
        tokio::time::sleep(Duration::from_millis(37)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_under_faults_leaks_nothing_and_counts_every_check_once() {
    let lab = Lab::start().await;
    let calm_config = lab.config(false);
    let config = lab.write(&calm_config);
    let exporter = Exporter::start(&config, &["--probe.max-concurrency=4"], None).await;
    let (addr, pid) = (exporter.addr, exporter.pid());
    let module_path = format!("/probe?module=soak&target={}", lab.module.addr());

    // Warm-up: the first rounds, and one request of every kind.
    scrape_until(addr, Duration::from_secs(20), |s| checked(s, &COUNTED, 1.0)).await;
    for path in ["/", "/probe?target=flap-a", &module_path, "/transcript?target=vsftpd&mode=passive"] {
        let (status, body) = get(addr, path).await;
        assert_eq!(status, 200, "{path}: {body}");
    }
    assert_eq!(request(addr, "POST", "/-/reload").await.0, 200);
    // Idle (the schedule only) past the blocking pool's 10 s keep-alive.
    tokio::time::sleep(Duration::from_secs(12)).await;
    let baseline = settled(pid).await;
    println!("soak: baseline {baseline}");

    // The load.
    lab.flap(true);
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    tally.module_ok.store(1, Ordering::SeqCst); // the warm-up's
    let probes: Vec<String> = COUNTED.iter().map(|t| format!("/probe?target={t}")).collect();
    const TIMEOUT_HEADER: &str = "X-Prometheus-Scrape-Timeout-Seconds: 3\r\n";
    let load: Vec<_> = [
        ("metrics", vec!["/metrics".to_string()], "", 50),
        ("metrics", vec!["/metrics".to_string()], "Accept-Encoding: gzip\r\n", 90),
        ("page", vec!["/".to_string()], "", 150),
        ("probe", probes, TIMEOUT_HEADER, 400),
        ("module", vec![module_path.clone()], TIMEOUT_HEADER, 300),
    ]
    .into_iter()
    .map(|(what, paths, headers, ms)| {
        hammer(addr, what, paths, headers, Duration::from_millis(ms), stop.clone(), tally.clone())
    })
    .collect();
    // Reloads every 3 s: with the churn target, without it, a broken file;
    // SIGHUP and POST in turn.
    let reloader = {
        let (stop, with_churn, without) = (stop.clone(), lab.config(true), calm_config.clone());
        let broken = without.replace("timeout:", "timout:");
        let (config, pid) = (config.clone(), pid);
        tokio::spawn(async move {
            let mut n = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let text = [&with_churn, &without, &broken][n % 3];
                std::fs::write(&config, text).unwrap();
                if n.is_multiple_of(2) {
                    let _ = Command::new("kill").args(["-HUP", &pid.to_string()]).status();
                } else {
                    let _ = request(addr, "POST", "/-/reload").await;
                }
                n += 1;
                tokio::time::sleep(Duration::from_secs(3)).await;
            }
            n
        })
    };
    let started = Instant::now();
    let (mut peak, mut worst_duration) = (baseline, 0.0f64);
    while started.elapsed() < Duration::from_secs(soak_secs()) {
        tokio::time::sleep(Duration::from_secs(1)).await;
        peak = peak.each(figures(pid), std::cmp::max);
        let s = parse(&scrape(addr).await);
        for x in s.iter().filter(|x| x.name == "ftp_check_duration_seconds") {
            if COUNTED.contains(&x.label("target").unwrap_or("")) {
                worst_duration = worst_duration.max(x.value);
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    let reloads = reloader.await.unwrap();
    for task in load {
        task.await.unwrap();
    }
    println!("soak: {} s of load, {reloads} reloads; peak {peak}", soak_secs());
    println!("soak: requests {:?}", tally.answers.lock().unwrap());

    // Load stops: the servers calm down, the calm file is back.
    lab.flap(false);
    std::fs::write(&config, &calm_config).unwrap();
    assert_eq!(request(addr, "POST", "/-/reload").await.0, 200);
    let s = parse(&scrape(addr).await);
    assert_eq!(value(&s, "ftp_exporter_targets", &[]), 3.0);

    // Every check counted once: the servers' sessions are the checks recorded.
    let (recorded, seen) = quiescent_count(addr, &lab).await;
    let module_sessions = lab.module.connections();
    let module_ok = tally.module_ok.load(Ordering::SeqCst);
    println!("soak: checks recorded {recorded}, sessions seen {seen}; module probes answered {module_ok}, sessions {module_sessions}");
    assert_eq!(recorded, seen as f64, "ftp_checks_total of {COUNTED:?} vs the sessions their servers saw");
    assert_eq!(module_sessions, module_ok, "module probes: one session per 200, none otherwise");

    // No check outlived its deadline by more than 1 s: every check of every
    // counted target is in the histogram's bucket at timeout + 1 s, and the
    // servers saw every session end within it.
    let s = parse(&scrape(addr).await);
    let le = format!("{}", TIMEOUT + OVERRUN);
    for t in COUNTED {
        for mode in ["passive", "active"] {
            let labels = [("target", t), ("mode", mode)];
            let count = value(&s, "ftp_check_latency_seconds_count", &labels);
            let within =
                value(&s, "ftp_check_latency_seconds_bucket", &[("target", t), ("mode", mode), ("le", &le)]);
            assert_eq!(
                within,
                count,
                "{t} {mode}: {} of {count} checks took longer than {le} s",
                count - within
            );
        }
    }
    let lifetimes: Vec<Duration> = [&lab.flap_a, &lab.flap_b].iter().flat_map(|f| f.lifetimes()).collect();
    let longest = lifetimes.iter().max().copied().unwrap_or_default();
    println!(
        "soak: longest last-check duration {worst_duration:.3} s; longest server-side session {:.3} s of {} (timeout {TIMEOUT} s)",
        longest.as_secs_f64(),
        lifetimes.len()
    );
    assert!(longest.as_secs_f64() <= TIMEOUT + OVERRUN, "a session lasted {longest:?}");

    // Back to the baseline once the load is gone (the blocking pool's idle
    // threads last 10 s).
    tokio::time::sleep(Duration::from_secs(12)).await;
    let after = settled(pid).await;
    println!("soak: before {baseline}; after {after}");
    let logs = exporter.logs();
    let mut messages: BTreeMap<String, usize> = BTreeMap::new();
    for l in logs.lines().filter(|l| !l.contains("level=info")) {
        let msg = l.split("msg=").nth(1).map(|m| m.split('"').nth(1).unwrap_or(m)).unwrap_or(l);
        *messages.entry(msg.chars().take(80).collect()).or_default() += 1;
    }
    println!("soak: exporter log, warnings and errors by message: {messages:?}");
    assert!(!logs.contains("panicked"), "the exporter panicked:\n{logs}");
    assert!(after.fds <= baseline.fds + 2, "file descriptors leak: before {baseline}, after {after}");
    assert!(after.threads <= baseline.threads + 1, "threads leak: before {baseline}, after {after}");
    assert!(
        after.rss_kib <= baseline.rss_kib + baseline.rss_kib / 4 + 4 * 1024,
        "memory grows: before {baseline}, after {after}"
    );
    assert!(!logs.contains(PASSWORD) && !logs.contains(&lab.vsftpd.password));
}

/// `RLIMIT_NOFILE` so low that checks run out of descriptors: they fail
/// with `io_error` saying so, and `/metrics` keeps answering, without the
/// accept loop spinning on EMFILE.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_file_descriptors_checks_fail_with_io_error_and_metrics_still_answer() {
    let silent = FaultServer::start(Script::new().banner(Banner::Silent)).await;
    let dir = tempfile::tempdir().unwrap();
    let mut y = String::from("defaults: { interval: 3s, timeout: 3s, modes: [passive] }\ntargets:\n");
    for i in 0..24 {
        y.push_str(&format!("  - {{ name: t{i:02}, address: \"{}\" }}\n", silent.addr()));
    }
    let config = dir.path().join("emfile.yml");
    std::fs::write(&config, y).unwrap();
    let exporter = Exporter::start(&config, &["--checks.max-concurrency=64"], Some(24)).await;
    let (addr, pid) = (exporter.addr, exporter.pid());

    let ticks_per_s = 100.0; // USER_HZ on Linux
    let (cpu0, t0) = (cpu_ticks(pid), Instant::now());
    let mut answered = 0;
    let mut io_errors = 0.0;
    let mut slowest = Duration::ZERO;
    while t0.elapsed() < Duration::from_secs(15) {
        let asked = Instant::now();
        let (status, body) = get(addr, "/metrics").await;
        slowest = slowest.max(asked.elapsed());
        assert_eq!(status, 200, "{body}");
        answered += 1;
        io_errors = parse(&body)
            .iter()
            .filter(|s| s.name == "ftp_check_failures_total" && s.label("reason") == Some("io_error"))
            .map(|s| s.value)
            .sum();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let cpu = (cpu_ticks(pid) - cpu0) as f64 / ticks_per_s / t0.elapsed().as_secs_f64();
    let logs = exporter.logs();
    println!(
        "emfile: {answered} scrapes answered (slowest {slowest:?}), {io_errors} io_error checks, exporter CPU {:.0}% of a core, {} connections at the server",
        cpu * 100.0,
        silent.connections()
    );
    for l in logs.lines().filter(|l| l.contains("Too many open files")).take(2) {
        println!("emfile: {l}");
    }
    assert!(io_errors > 0.0, "no check failed for want of descriptors:\n{logs}");
    assert!(logs.contains("reason=io_error") && logs.contains("Too many open files"), "{logs}");
    assert!(slowest < Duration::from_secs(5), "/metrics took {slowest:?}");
    assert!(cpu < 0.5, "the exporter spins at {:.0}% CPU", cpu * 100.0);
    assert!(!logs.contains("panicked"), "{logs}");
}
