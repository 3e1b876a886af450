//! Benchmark: one exporter process watching many targets, as deployed.
//!
//! The exporter binary runs with a generated config of N targets × 2 modes
//! (login + LIST) at a 60 s interval against one fast local FTP server (the
//! embedded libunftp in a child process). After the first round, over a
//! steady-state window, it reports what an operator sizing a pod needs:
//! schedule delay (p50/p99 from `ftp_exporter_schedule_delay_seconds`, as
//! `histogram_quantile` would compute it), checks per second, CPU, peak
//! RSS and RSS per target, and the `/metrics` scrape's time and size, plain
//! and gzip.
//!
//! Run: `cargo bench --bench scale` (env `BENCH_TARGETS=1000,10000`,
//! `BENCH_WINDOW=60` seconds, `BENCH_INTERVAL=60`, `BENCH_EXPORTER=path` to
//! measure another build). Loopback only. Under
//! `cargo test` (no `--bench` argument) it is a smoke test: 20 targets, a
//! short window, every check must be up. Writes `target/bench/scale.json`.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::http::{listening_address, Scrape};
use common::{cpu_time, env_or, spawn_server, status_kib, Killed};

fn main() {
    common::serve_if_asked();
    let smoke = !std::env::args().any(|a| a == "--bench");
    let sizes: Vec<usize> = if smoke {
        vec![20]
    } else {
        std::env::var("BENCH_TARGETS")
            .unwrap_or_else(|_| "1000,10000".into())
            .split(',')
            .filter_map(|s| s.trim().parse().ok())
            .collect()
    };
    let window = Duration::from_secs(if smoke { 6 } else { env_or("BENCH_WINDOW", 60) as u64 });
    let interval = if smoke { 5 } else { env_or("BENCH_INTERVAL", 60) };
    let (_server, port) = spawn_server();
    println!(
        "ftp_exporter scale benchmark: login + LIST, both modes, {interval}s interval, \
         {}s window, libunftp on 127.0.0.1:{port} in a child process",
        window.as_secs()
    );
    let mut results = Vec::new();
    for n in sizes {
        let r = run(n, port, interval, window);
        r.print();
        if smoke {
            assert_eq!(r.down, 0, "every check must be up");
            assert!(r.checks_per_s > 0.0);
        }
        results.push(r);
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench");
    let _ = std::fs::create_dir_all(&dir);
    let json: Vec<String> = results.iter().map(Result::json).collect();
    let path = dir.join("scale.json");
    if std::fs::write(&path, format!("[\n  {}\n]\n", json.join(",\n  "))).is_ok() {
        println!("written: {}", path.display());
    }
}

struct Result {
    targets: usize,
    first_round: Duration,
    checks_per_s: f64,
    cpu_percent: f64,
    delay_p50: f64,
    delay_p99: f64,
    peak_rss_kib: u64,
    rss_kib: u64,
    scrape_ms: f64,
    scrape_bytes: usize,
    gzip_ms: f64,
    gzip_bytes: usize,
    down: usize,
}

impl Result {
    /// CPU per check in the window, scrapes and scheduling included.
    fn cpu_ms_per_check(&self) -> f64 {
        if self.checks_per_s > 0.0 {
            self.cpu_percent * 10.0 / self.checks_per_s
        } else {
            f64::NAN
        }
    }

    fn print(&self) {
        println!(
            "{:>6} targets: first round {:.1}s · {:.0} checks/s · CPU {:.1}% ({:.3} ms/check) · schedule delay p50 {:.4}s p99 {:.4}s · \
             peak RSS {:.1} MiB ({} B/target) · scrape {:.0} ms {:.1} MiB, gzip {:.0} ms {:.2} MiB · {} down",
            self.targets,
            self.first_round.as_secs_f64(),
            self.checks_per_s,
            self.cpu_percent,
            self.cpu_ms_per_check(),
            self.delay_p50,
            self.delay_p99,
            self.peak_rss_kib as f64 / 1024.0,
            self.rss_kib * 1024 / self.targets as u64,
            self.scrape_ms,
            self.scrape_bytes as f64 / 1048576.0,
            self.gzip_ms,
            self.gzip_bytes as f64 / 1048576.0,
            self.down
        );
    }

    fn json(&self) -> String {
        format!(
            "{{\"targets\": {}, \"first_round_seconds\": {:.2}, \"checks_per_second\": {:.1}, \
             \"cpu_percent\": {:.2}, \"cpu_ms_per_check\": {:.4}, \"schedule_delay_p50_seconds\": {:.5}, \"schedule_delay_p99_seconds\": {:.5}, \
             \"peak_rss_bytes\": {}, \"rss_bytes_per_target\": {}, \"scrape_ms\": {:.1}, \"scrape_bytes\": {}, \
             \"scrape_gzip_ms\": {:.1}, \"scrape_gzip_bytes\": {}, \"down\": {}}}",
            self.targets,
            self.first_round.as_secs_f64(),
            self.checks_per_s,
            self.cpu_percent,
            self.cpu_ms_per_check(),
            self.delay_p50,
            self.delay_p99,
            self.peak_rss_kib * 1024,
            self.rss_kib * 1024 / self.targets as u64,
            self.scrape_ms,
            self.scrape_bytes,
            self.gzip_ms,
            self.gzip_bytes,
            self.down
        )
    }
}

fn run(n: usize, ftp_port: u16, interval: usize, window: Duration) -> Result {
    let dir = tempfile::tempdir().expect("tempdir");
    let timeout = interval.min(10);
    let mut config = format!("defaults: {{ interval: {interval}s, timeout: {timeout}s }}\ntargets:\n");
    for i in 0..n {
        config.push_str(&format!(
            "  - {{ name: t{i:05}, address: 127.0.0.1:{ftp_port}, username: {}, password_env: BENCH_FTP_PASSWORD }}\n",
            common::USER
        ));
    }
    let config_path = dir.path().join("ftp_exporter.yml");
    std::fs::write(&config_path, config).expect("config");
    // BENCH_EXPORTER: another build of the exporter, to compare two versions.
    let exe = std::env::var("BENCH_EXPORTER").unwrap_or_else(|_| env!("CARGO_BIN_EXE_ftp_exporter").into());
    let mut child = Command::new(exe)
        .arg(format!("--config.file={}", config_path.display()))
        .arg("--web.listen-address=127.0.0.1:0")
        .arg("--log.level=info")
        .env("BENCH_FTP_PASSWORD", common::PASSWORD)
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the exporter");
    let pid = child.id().to_string();
    let stderr = child.stderr.take().expect("stderr");
    let exporter = Killed(child);
    let addr = listening_address(stderr);
    let started = Instant::now();

    // The first round: every target × mode checked once. Counting checks
    // is not enough: targets whose slot comes soon after the first round
    // start their second round while the first is still being paced by the
    // concurrency limit, and the window would measure the first round's
    // queue instead of the steady state.
    let limit = Duration::from_secs(interval as u64 + 120);
    loop {
        let s = Scrape::get(addr, false);
        if s.samples("ftp_last_check_timestamp_seconds").count() >= 2 * n {
            break;
        }
        assert!(started.elapsed() < limit, "first round of {n} targets not done after {limit:?}");
        std::thread::sleep(Duration::from_millis(500));
    }
    let first_round = started.elapsed();

    let before = Scrape::get(addr, false);
    let cpu0 = cpu_time(&pid);
    let t0 = Instant::now();
    let mut plain = Vec::new();
    let mut gzip = Vec::new();
    let mut last = None;
    while t0.elapsed() < window {
        std::thread::sleep(Duration::from_secs(1).min(window.saturating_sub(t0.elapsed())));
        if plain.len() as u64 <= t0.elapsed().as_secs() / 10 {
            let s = Scrape::get(addr, false);
            let g = Scrape::get(addr, true);
            plain.push((s.took, s.bytes));
            gzip.push((g.took, g.bytes));
            last = Some(s);
        }
    }
    let after = Scrape::get(addr, false);
    let elapsed = t0.elapsed();
    let cpu = cpu_time(&pid) - cpu0;
    let (peak_rss_kib, rss_kib) = (status_kib(&pid, "VmHWM"), status_kib(&pid, "VmRSS"));
    drop(exporter);
    let _ = last;

    let delays = after.buckets("ftp_exporter_schedule_delay_seconds_bucket", &before);
    let median = |v: &mut Vec<(Duration, usize)>| {
        v.sort();
        v[v.len() / 2]
    };
    let (scrape, scrape_bytes) = median(&mut plain);
    let (gz, gzip_bytes) = median(&mut gzip);
    Result {
        targets: n,
        first_round,
        checks_per_s: (after.sum("ftp_checks_total") - before.sum("ftp_checks_total"))
            / elapsed.as_secs_f64(),
        cpu_percent: cpu.as_secs_f64() / elapsed.as_secs_f64() * 100.0,
        delay_p50: quantile(0.5, &delays),
        delay_p99: quantile(0.99, &delays),
        peak_rss_kib,
        rss_kib,
        scrape_ms: scrape.as_secs_f64() * 1e3,
        scrape_bytes,
        gzip_ms: gz.as_secs_f64() * 1e3,
        gzip_bytes,
        down: after.samples("ftp_up").filter(|(_, v)| *v == 0.0).count(),
    }
}

/// `histogram_quantile(q, …)` over cumulative `(le, count)` buckets, as
/// Prometheus computes it (linear within the bucket).
fn quantile(q: f64, buckets: &[(f64, f64)]) -> f64 {
    let total = buckets.last().map(|b| b.1).unwrap_or(0.0);
    if total <= 0.0 {
        return f64::NAN;
    }
    let rank = q * total;
    let mut prev = (0.0, 0.0);
    for &(le, count) in buckets {
        if count >= rank {
            if le.is_infinite() {
                return prev.0;
            }
            let within = count - prev.1;
            return if within <= 0.0 { le } else { prev.0 + (le - prev.0) * (rank - prev.1) / within };
        }
        prev = (le, count);
    }
    prev.0
}
