//! What the benchmarks share: the FTP server in a child process (so that
//! the figures are the measured process's alone) and readings from `/proc`.

#![allow(dead_code)]

pub mod http;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ftp_exporter::embedded::{EmbeddedOptions, EmbeddedServer};

pub const USER: &str = "bench";
pub const PASSWORD: &str = "bench";

/// If this process was started as the benchmark's FTP server (`--serve`),
/// serves until killed and never returns.
pub fn serve_if_asked() {
    if std::env::args().nth(1).as_deref() != Some("--serve") {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let dir = tempfile::tempdir().expect("tempdir");
        for i in 0..20 {
            std::fs::write(dir.path().join(format!("file{i}.txt")), vec![b'x'; 1000]).expect("file");
        }
        let srv =
            EmbeddedServer::start(EmbeddedOptions::new(dir.path(), USER, PASSWORD)).await.expect("server");
        println!("{}", srv.addr().port());
        // Runs until the parent kills it.
        std::future::pending::<()>().await;
    });
    std::process::exit(0);
}

/// A child process killed when dropped.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts this benchmark binary again as the FTP server; returns it and its port.
pub fn spawn_server() -> (Killed, u16) {
    use std::io::BufRead;
    let exe = std::env::current_exe().expect("current exe");
    let mut child = Command::new(exe).arg("--serve").stdout(Stdio::piped()).spawn().expect("spawn server");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    std::io::BufReader::new(stdout).read_line(&mut line).expect("server port");
    (Killed(child), line.trim().parse().expect("port number"))
}

pub fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// User + system CPU time of process `pid` ("self" for this one), from `/proc/<pid>/stat`.
pub fn cpu_time(pid: &str) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // Fields 14 and 15 (utime, stime) are at 11 and 12 after the ")"; USER_HZ is 100 on Linux.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

/// A `kB` field of `/proc/<pid>/status` (`VmHWM`: peak RSS, `VmRSS`: now), in KiB.
pub fn status_kib(pid: &str, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}
