//! Benchmark: what one check costs with ftp_exporter, side by side with
//! what users run today to watch FTP, in one run against the same servers.
//!
//! - **ftp_exporter as deployed**: the exporter binary with a config of
//!   targets checked every 2 s, scraped every second; its CPU is read
//!   from its own `/proc/<pid>/stat` over the window, so scheduling,
//!   recording and scrapes are all paid for. Login only, then login +
//!   `LIST` in passive and in active mode. Also driven through
//!   `/probe?target=` the way blackbox_exporter is.
//! - **blackbox_exporter** (Debian's `prometheus-blackbox-exporter`) with a
//!   tcp `query_response` module doing the same login dialogue (`220`,
//!   `USER`, `331`, `PASS`, `230`, `QUIT`, `221`), driven through `/probe`,
//!   which is how FTP is monitored with it.
//! - **curl** (Debian) doing login + `LIST`, one process per check, the
//!   cron + textfile-collector way; its CPU is the children's rusage.
//!
//! Servers: vsftpd (from the test dependencies) and the embedded libunftp
//! in a child process, both on 127.0.0.1. CPU per check is user + system of
//! the process doing the checking (never the server's); wall per check is
//! the check's own duration as the tool reports it (`ftp_check_latency_seconds`,
//! `probe_duration_seconds`, curl's process lifetime).
//!
//! Run: `cargo bench --bench compare` (env `BENCH_CHECKS`, default 2000
//! per row; `BENCH_CONCURRENCY`, default 8, for the `/probe` and curl
//! drivers; `BENCH_TARGETS`, at most this many scheduled targets at 2 s, default
//! 200; fewer for a server whose check time would queue them).
//! Prints a table and writes `target/bench/compare.json`. Under
//! `cargo test` (no `--bench` argument) it is a smoke test: a few checks
//! per row, every check must succeed, every row must have measured CPU.

mod common;
#[path = "../tests/support/real_servers/mod.rs"]
mod real_servers;

use std::net::{SocketAddr, TcpListener};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::http::{get, listening_address, Scrape};
use common::{cpu_time, env_or, Killed};
use real_servers::{RealServer, ServerKind, ServerOptions};

/// One FTP server under test: where it is and the account to log in with.
struct Server {
    name: &'static str,
    addr: SocketAddr,
    user: String,
    password: String,
}

#[derive(Clone, Copy, PartialEq)]
enum Work {
    Login,
    PassiveList,
    ActiveList,
}

impl Work {
    fn name(self) -> &'static str {
        match self {
            Work::Login => "login",
            Work::PassiveList => "login + passive LIST",
            Work::ActiveList => "login + active LIST",
        }
    }
}

/// One line of the table.
struct Row {
    server: &'static str,
    tool: &'static str,
    work: Work,
    /// How the checks were driven.
    driven: String,
    checks: usize,
    failed: usize,
    cpu: Duration,
    wall: Duration,
}

impl Row {
    fn cpu_ms(&self) -> f64 {
        self.cpu.as_secs_f64() * 1e3 / self.checks.max(1) as f64
    }
    fn wall_ms(&self) -> f64 {
        self.wall.as_secs_f64() * 1e3 / self.checks.max(1) as f64
    }
    fn json(&self) -> String {
        format!(
            "{{\"server\": \"{}\", \"tool\": \"{}\", \"work\": \"{}\", \"driven\": \"{}\", \"checks\": {}, \
             \"failed\": {}, \"cpu_ms_per_check\": {:.4}, \"wall_ms_per_check\": {:.3}}}",
            self.server,
            self.tool,
            self.work.name(),
            self.driven,
            self.checks,
            self.failed,
            self.cpu_ms(),
            self.wall_ms()
        )
    }
}

struct Settings {
    checks: usize,
    concurrency: usize,
    targets: usize,
}

fn main() {
    common::serve_if_asked();
    let smoke = !std::env::args().any(|a| a == "--bench");
    let s = if smoke {
        Settings { checks: 30, concurrency: 4, targets: 10 }
    } else {
        Settings {
            checks: env_or("BENCH_CHECKS", 2000),
            concurrency: env_or("BENCH_CONCURRENCY", 8),
            targets: env_or("BENCH_TARGETS", 200),
        }
    };
    let blackbox = blackbox_binary();
    let vsftpd = RealServer::start(ServerKind::Vsftpd, ServerOptions::default());
    let (_unftp, unftp_port) = common::spawn_server();
    let servers = [
        Server {
            name: "vsftpd",
            addr: vsftpd.addr(),
            user: vsftpd.user.clone(),
            password: vsftpd.password.clone(),
        },
        Server {
            name: "libunftp",
            addr: SocketAddr::from(([127, 0, 0, 1], unftp_port)),
            user: common::USER.into(),
            password: common::PASSWORD.into(),
        },
    ];
    println!(
        "ftp_exporter vs blackbox_exporter vs curl: {} checks per row, up to {} scheduled targets at {INTERVAL_S}s, \
         {} concurrent /probe and curl checks; servers on loopback",
        s.checks, s.targets, s.concurrency
    );
    let mut rows = Vec::new();
    for server in &servers {
        // The /probe row first: its mean check time says how many targets
        // the server can take at once (vsftpd forks and runs PAM for each
        // login; libunftp answers in a millisecond).
        let probe = exporter_probe(server, &s);
        let targets = scheduled_targets(&s, probe.wall_ms());
        rows.push(exporter_scheduled(server, Work::Login, targets, &s));
        rows.push(probe);
        rows.push(blackbox_probe(&blackbox, server, &s));
        rows.push(exporter_scheduled(server, Work::PassiveList, targets, &s));
        rows.push(curl(server, Work::PassiveList, &s));
        rows.push(exporter_scheduled(server, Work::ActiveList, targets, &s));
        rows.push(curl(server, Work::ActiveList, &s));
    }
    drop(vsftpd);

    println!(
        "\n{:<9} {:<25} {:<21} {:<22} {:>7} {:>7} {:>13} {:>14}",
        "server", "tool", "work", "driven", "checks", "failed", "CPU ms/check", "wall ms/check"
    );
    for r in &rows {
        println!(
            "{:<9} {:<25} {:<21} {:<22} {:>7} {:>7} {:>13.3} {:>14.2}",
            r.server,
            r.tool,
            r.work.name(),
            r.driven,
            r.checks,
            r.failed,
            r.cpu_ms(),
            r.wall_ms()
        );
    }
    let mut ratios = Vec::new();
    println!();
    for server in &servers {
        let find = |tool: &str, work: Work| {
            rows.iter().find(|r| r.server == server.name && r.tool == tool && r.work == work).map(Row::cpu_ms)
        };
        for (work, other, goal) in [
            (Work::Login, "blackbox_exporter /probe", 0.1),
            (Work::PassiveList, "curl", 0.05),
            (Work::ActiveList, "curl", 0.05),
        ] {
            if let (Some(ours), Some(theirs)) = (find(EXPORTER, work), find(other, work)) {
                let ratio = ours / theirs;
                let verdict = if ratio <= goal { "meets" } else { "MISSES" };
                println!(
                    "{:<9} {:<22} CPU ftp_exporter / {other}: {ratio:.3} ({verdict} the goal of ≤ {goal})",
                    server.name,
                    work.name()
                );
                ratios.push(format!(
                    "{{\"server\": \"{}\", \"work\": \"{}\", \"versus\": \"{other}\", \"cpu_ratio\": {ratio:.4}, \"goal\": {goal}}}",
                    server.name,
                    work.name()
                ));
            }
        }
    }

    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench");
    let _ = std::fs::create_dir_all(&dir);
    let json = format!(
        "{{\n  \"rows\": [\n    {}\n  ],\n  \"ratios\": [\n    {}\n  ]\n}}\n",
        rows.iter().map(Row::json).collect::<Vec<_>>().join(",\n    "),
        ratios.join(",\n    ")
    );
    let path = dir.join("compare.json");
    if std::fs::write(&path, json).is_ok() {
        println!("written: {}", path.display());
    }
    for r in &rows {
        assert_eq!(r.failed, 0, "{} {} {}: every check must succeed", r.server, r.tool, r.work.name());
        assert!(r.checks >= s.checks, "{} {} {}: too few checks", r.server, r.tool, r.work.name());
        assert!(r.wall > Duration::ZERO, "{} {} {}: no wall time measured", r.server, r.tool, r.work.name());
    }
}

const EXPORTER: &str = "ftp_exporter (scheduled)";

/// Starts the exporter binary on `config`; returns it, its pid and address.
fn start_exporter(
    config: &str,
    password: &str,
    extra: &[&str],
) -> (Killed, String, SocketAddr, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("ftp_exporter.yml");
    std::fs::write(&path, config).expect("config");
    let exe = std::env::var("BENCH_EXPORTER").unwrap_or_else(|_| env!("CARGO_BIN_EXE_ftp_exporter").into());
    let mut child = Command::new(exe)
        .arg(format!("--config.file={}", path.display()))
        .arg("--web.listen-address=127.0.0.1:0")
        .args(extra)
        .env("BENCH_FTP_PASSWORD", password)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the exporter");
    let pid = child.id().to_string();
    let stderr = child.stderr.take().expect("stderr");
    let killed = Killed(child);
    let addr = listening_address(stderr);
    (killed, pid, addr, dir)
}

fn targets_config(server: &Server, work: Work, n: usize, interval: &str) -> String {
    let (modes, check) = match work {
        Work::Login => ("[passive]", "{ login_only: true }"),
        Work::PassiveList => ("[passive]", "{ list: . }"),
        Work::ActiveList => ("[active]", "{ list: . }"),
    };
    let mut config = format!(
        "defaults: {{ interval: {interval}, timeout: 2s, modes: {modes}, check: {check}, username: {}, \
         password_env: BENCH_FTP_PASSWORD }}\ntargets:\n",
        server.user
    );
    for i in 0..n {
        config.push_str(&format!("  - {{ name: t{i:04}, address: \"{}\" }}\n", server.addr));
    }
    config
}

/// The interval of the scheduled rows; a check's timeout is as long.
const INTERVAL_S: f64 = 2.0;

/// Enough targets to keep half of `concurrency` checks running on average,
/// given the server's check time, and at most `BENCH_TARGETS`. Scheduled
/// checks arrive on their own clock, not when the last one finished: at
/// the rate a closed loop of `concurrency` sustains, a server that is the
/// bottleneck (vsftpd hashing each password) would queue without bound,
/// and the row would measure its queue and its timeouts, not the checker.
fn scheduled_targets(s: &Settings, check_ms: f64) -> usize {
    let fit = s.concurrency as f64 / 2.0 * INTERVAL_S * 1e3 / check_ms.max(0.1);
    (fit as usize).clamp(s.concurrency, s.targets)
}

/// The exporter checking `targets` targets every [`INTERVAL_S`]; the window
/// runs from the end of the first rounds until `checks` more checks are done.
fn exporter_scheduled(server: &Server, work: Work, targets: usize, s: &Settings) -> Row {
    let config = targets_config(server, work, targets, &format!("{INTERVAL_S}s"));
    let (exporter, pid, addr, _dir) = start_exporter(&config, &server.password, &[]);
    // Two rounds before measuring: every target has started on its offset.
    let started = Instant::now();
    while Scrape::get(addr, false).sum("ftp_checks_total") < (2 * targets) as f64 {
        assert!(started.elapsed() < Duration::from_secs(60), "the exporter's first rounds did not finish");
        std::thread::sleep(Duration::from_millis(200));
    }
    let before = Scrape::get(addr, false);
    let cpu0 = cpu_time(&pid);
    let mut after;
    loop {
        // Scraped every second, as a (busy) Prometheus would.
        std::thread::sleep(Duration::from_secs(1));
        after = Scrape::get(addr, false);
        if after.sum("ftp_checks_total") - before.sum("ftp_checks_total") >= s.checks as f64 {
            break;
        }
    }
    let cpu = cpu_time(&pid) - cpu0;
    drop(exporter);
    let delta = |name: &str| after.sum(name) - before.sum(name);
    Row {
        server: server.name,
        tool: EXPORTER,
        work,
        driven: format!("{targets} targets / {INTERVAL_S}s"),
        checks: delta("ftp_checks_total") as usize,
        failed: delta("ftp_check_failures_total") as usize,
        cpu,
        wall: Duration::from_secs_f64(delta("ftp_check_latency_seconds_sum").max(0.0)),
    }
}

/// Runs `checks` probes over `concurrency` workers; each gets its worker
/// index and answers (ok, wall of the check).
fn drive(s: &Settings, probe: impl Fn(usize) -> (bool, Duration) + Sync) -> (usize, usize, Duration) {
    let next = AtomicUsize::new(0);
    let totals = Mutex::new((0usize, 0usize, Duration::ZERO));
    std::thread::scope(|scope| {
        for worker in 0..s.concurrency {
            let (next, totals, probe) = (&next, &totals, &probe);
            scope.spawn(move || {
                while next.fetch_add(1, Ordering::Relaxed) < s.checks {
                    let (ok, wall) = probe(worker);
                    let mut t = totals.lock().expect("totals");
                    t.0 += 1;
                    t.1 += usize::from(!ok);
                    t.2 += wall;
                }
            });
        }
    });
    totals.into_inner().expect("totals")
}

/// A sample's value in a text exposition.
fn sample(body: &str, name: &str) -> Option<f64> {
    body.lines().find_map(|l| {
        let rest = l.strip_prefix(name)?;
        let value = rest.rsplit(' ').next()?;
        (rest.starts_with(' ') || rest.starts_with('{')).then(|| value.parse().ok()).flatten()
    })
}

/// The exporter driven through `/probe?target=`: one configured target per
/// worker (probes of one target do not overlap), scheduled once an hour so
/// that only probes run in the window.
fn exporter_probe(server: &Server, s: &Settings) -> Row {
    let config = targets_config(server, Work::Login, s.concurrency, "1h");
    let (exporter, pid, addr, _dir) = start_exporter(&config, &server.password, &[]);
    let started = Instant::now();
    while Scrape::get(addr, false).sum("ftp_checks_total") < s.concurrency as f64 {
        assert!(started.elapsed() < Duration::from_secs(30), "the exporter's first round did not finish");
        std::thread::sleep(Duration::from_millis(200));
    }
    let row = ProbeTool {
        name: "ftp_exporter /probe",
        addr,
        pid,
        up: "ftp_up",
        took: "ftp_check_duration_seconds",
    }
    .row(server, s, |worker| format!("/probe?target=t{worker:04}"));
    drop(exporter);
    row
}

/// An exporter whose `/probe` answers with a success sample and a
/// duration sample.
struct ProbeTool {
    name: &'static str,
    addr: SocketAddr,
    pid: String,
    /// The sample that is 1 when the check succeeded.
    up: &'static str,
    /// The sample that holds the check's duration in seconds.
    took: &'static str,
}

impl ProbeTool {
    /// `checks` logins through `/probe` (the path per worker), with the
    /// tool's CPU over them.
    fn row(&self, server: &Server, s: &Settings, path: impl Fn(usize) -> String + Sync) -> Row {
        let cpu0 = cpu_time(&self.pid);
        let (checks, failed, wall) = drive(s, |worker| {
            let (status, body, took) = get(self.addr, &path(worker));
            let ok = status == 200 && sample(&body, self.up) == Some(1.0);
            let wall = sample(&body, self.took).map(Duration::from_secs_f64).unwrap_or(took);
            (ok, wall)
        });
        let cpu = cpu_time(&self.pid) - cpu0;
        Row {
            server: server.name,
            tool: self.name,
            work: Work::Login,
            driven: format!("{} at once", s.concurrency),
            checks,
            failed,
            cpu,
            wall,
        }
    }
}

/// Debian's blackbox_exporter; a missing one fails the benchmark with the
/// command that installs it.
fn blackbox_binary() -> String {
    let bin = std::env::var("BLACKBOX_EXPORTER").unwrap_or_else(|_| "prometheus-blackbox-exporter".into());
    let ok = Command::new(&bin).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status();
    assert!(
        matches!(ok, Ok(st) if st.success()),
        "cannot run `{bin}`: install it (Debian: `apt-get install -y prometheus-blackbox-exporter`, \
         which ci/install-deps.sh does) or set BLACKBOX_EXPORTER=/path/to/blackbox_exporter"
    );
    bin
}

/// blackbox_exporter with a tcp module speaking the FTP login dialogue.
fn blackbox_probe(bin: &str, server: &Server, s: &Settings) -> Row {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = format!(
        "modules:\n  ftp_login:\n    prober: tcp\n    timeout: 5s\n    tcp:\n      query_response:\n\
         \x20       - expect: \"^220 \"\n        - send: \"USER {}\"\n        - expect: \"^331\"\n\
         \x20       - send: \"PASS {}\"\n        - expect: \"^230\"\n        - send: \"QUIT\"\n\
         \x20       - expect: \"^221\"\n",
        server.user, server.password
    );
    let path = dir.path().join("blackbox.yml");
    std::fs::write(&path, config).expect("blackbox config");
    let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let child = Command::new(bin)
        .arg(format!("--config.file={}", path.display()))
        .arg(format!("--web.listen-address={addr}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start blackbox_exporter");
    let pid = child.id().to_string();
    let blackbox = Killed(child);
    let started = Instant::now();
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(started.elapsed() < Duration::from_secs(20), "blackbox_exporter did not start listening");
        std::thread::sleep(Duration::from_millis(50));
    }
    let target = format!("/probe?module=ftp_login&target={}", server.addr);
    let row = ProbeTool {
        name: "blackbox_exporter /probe",
        addr,
        pid,
        up: "probe_success",
        took: "probe_duration_seconds",
    }
    .row(server, s, |_| target.clone());
    drop(blackbox);
    row
}

/// User + system time of this process's waited-for children.
fn children_cpu() -> Duration {
    // SAFETY: getrusage writes into the struct it is given and nothing else.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// curl listing the login directory, one process per check.
fn curl(server: &Server, work: Work, s: &Settings) -> Row {
    let url = format!("ftp://{}/", server.addr);
    let userpass = format!("{}:{}", server.user, server.password);
    let cpu0 = children_cpu();
    let (checks, failed, wall) = drive(s, |_| {
        let mut cmd = Command::new("curl");
        cmd.args(["--silent", "--show-error", "--max-time", "5", "--output", "/dev/null", "--user"]);
        cmd.arg(&userpass);
        if work == Work::ActiveList {
            cmd.args(["--ftp-port", "127.0.0.1"]);
        }
        let t0 = Instant::now();
        let ok = cmd.arg(&url).stderr(Stdio::null()).status().map(|st| st.success()).unwrap_or(false);
        (ok, t0.elapsed())
    });
    let cpu = children_cpu() - cpu0;
    Row {
        server: server.name,
        tool: "curl",
        work,
        driven: format!("{} processes at once", s.concurrency),
        checks,
        failed,
        cpu,
        wall,
    }
}
