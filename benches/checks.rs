//! Benchmark: how many checks per second one exporter process sustains,
//! what one check costs in CPU, and how much memory it takes, against a
//! real FTP server (the embedded libunftp) running in a child process so
//! that the figures are the exporter's alone.
//!
//! Run: `cargo bench --bench checks` (env BENCH_CHECKS, BENCH_CONCURRENCY
//! override the defaults). Loopback only. Under `cargo test` (no `--bench`
//! argument) it is a smoke test: a few checks per scenario, all must pass.

use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;

use common::{cpu_time, env_or, spawn_server, status_kib};
use ftp_exporter::check::{run, CheckEnv, CheckPlan, Mode};
use ftp_exporter::secret::Secret;
use tokio::sync::Semaphore;

fn main() {
    common::serve_if_asked();
    let args: Vec<String> = std::env::args().collect();
    let smoke = !args.iter().any(|a| a == "--bench");
    let checks: usize = if smoke { 20 } else { env_or("BENCH_CHECKS", 2000) };
    let concurrency: usize = env_or("BENCH_CONCURRENCY", 64);
    let (_server, port) = spawn_server();
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
        plan.username = common::USER.into();
        plan.password = Secret::new(common::PASSWORD);
        plan.login_only = login_only;
        plan.timeout = Duration::from_secs(10);
        let cpu0 = cpu_time("self");
        let t0 = Instant::now();
        let (mut lat, failed) = rt.block_on(batch(plan, checks, concurrency));
        let wall = t0.elapsed();
        let cpu = cpu_time("self") - cpu0;
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
    println!("peak RSS of the exporter process: {:.1} MiB", status_kib("self", "VmHWM") as f64 / 1024.0);
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
