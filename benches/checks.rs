//! Benchmark: how many checks per second one exporter process sustains,
//! what one check costs in CPU, and how much memory it takes, against a
//! real FTP server (the embedded libunftp) running in a child process so
//! that the figures are the exporter's alone.
//!
//! Run: `cargo bench --bench checks` (env BENCH_CHECKS, BENCH_CONCURRENCY
//! override the defaults). Loopback only. Under `cargo test` (no `--bench`
//! argument) it is a smoke test: a few checks per scenario, all must pass.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ftp_exporter::check::{run, CheckEnv, CheckPlan, Mode};
use ftp_exporter::embedded::{EmbeddedOptions, EmbeddedServer};
use ftp_exporter::secret::Secret;
use tokio::sync::Semaphore;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--serve") {
        serve();
        return;
    }
    let smoke = !args.iter().any(|a| a == "--bench");
    let checks: usize = if smoke { 20 } else { env_or("BENCH_CHECKS", 2000) };
    let concurrency: usize = env_or("BENCH_CONCURRENCY", 64);
    let (mut child, port) = spawn_server();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    println!("ftp_exporter benchmark: {checks} checks per scenario, {concurrency} concurrent, server in a child process");
    println!(
        "{:<24} {:>10} {:>10} {:>10} {:>10} {:>12}",
        "scenario", "checks/s", "p50 ms", "p99 ms", "failed", "cpu µs/check"
    );
    for (name, mode, login_only) in [
        ("login_only", Mode::Passive, true),
        ("passive list", Mode::Passive, false),
        ("active list", Mode::Active, false),
    ] {
        let mut plan = CheckPlan::new("127.0.0.1", port, mode);
        plan.username = "bench".into();
        plan.password = Secret::new("bench");
        plan.login_only = login_only;
        plan.timeout = Duration::from_secs(10);
        let cpu0 = cpu_time();
        let t0 = Instant::now();
        let (mut lat, failed) = rt.block_on(batch(plan, checks, concurrency));
        let wall = t0.elapsed();
        let cpu = cpu_time() - cpu0;
        assert_eq!(failed, 0, "{name}: every benchmark check must succeed");
        lat.sort();
        let pct = |p: f64| lat[((lat.len() as f64 - 1.0) * p) as usize].as_secs_f64() * 1e3;
        println!(
            "{:<24} {:>10.0} {:>10.2} {:>10.2} {:>10} {:>12.0}",
            name,
            checks as f64 / wall.as_secs_f64(),
            pct(0.5),
            pct(0.99),
            failed,
            cpu.as_secs_f64() * 1e6 / checks as f64
        );
    }
    println!("peak RSS of the exporter process: {:.1} MiB", peak_rss_kib() as f64 / 1024.0);
    let _ = child.kill();
    let _ = child.wait();
}

async fn batch(plan: CheckPlan, n: usize, concurrency: usize) -> (Vec<Duration>, usize) {
    let env = CheckEnv::default();
    let sem = Arc::new(Semaphore::new(concurrency));
    let plan = Arc::new(plan);
    let mut tasks = Vec::with_capacity(n);
    for _ in 0..n {
        let permit = sem.clone().acquire_owned().await.expect("semaphore");
        let (plan, env) = (plan.clone(), env.clone());
        tasks.push(tokio::spawn(async move {
            let o = run(&plan, &env).await;
            drop(permit);
            o
        }));
    }
    let mut lat = Vec::with_capacity(n);
    let mut failed = 0;
    for t in tasks {
        let o = t.await.expect("check task");
        if !o.success() {
            failed += 1;
        }
        lat.push(o.duration);
    }
    (lat, failed)
}

fn spawn_server() -> (Child, u16) {
    use std::io::BufRead;
    let exe = std::env::current_exe().expect("current exe");
    let mut child = Command::new(exe).arg("--serve").stdout(Stdio::piped()).spawn().expect("spawn server");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    std::io::BufReader::new(stdout).read_line(&mut line).expect("server port");
    (child, line.trim().parse().expect("port number"))
}

fn serve() {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let dir = tempfile::tempdir().expect("tempdir");
        for i in 0..20 {
            std::fs::write(dir.path().join(format!("file{i}.txt")), vec![b'x'; 1000]).expect("file");
        }
        let srv =
            EmbeddedServer::start(EmbeddedOptions::new(dir.path(), "bench", "bench")).await.expect("server");
        println!("{}", srv.addr().port());
        // Runs until the parent kills it.
        std::future::pending::<()>().await;
    });
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// User + system CPU time of this process (Linux /proc).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // Fields 14 and 15 (utime, stime) are at 11 and 12 after the ")".
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}
