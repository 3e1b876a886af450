//! docs/security.md: a hostile server can make a check fail, never make the exporter
//! grow without bound. A 20 MB banner line, an endless multi-line greeting
//! and an endless listing must be refused after a bounded read, so the process's peak memory barely
//! moves. Alone in its own test binary so no other test's allocations blur
//! the measurement.

mod support;

use std::time::Duration;

use ftp_exporter::check::{run, CheckEnv, CheckPlan, Mode, Phase, Reason};
use support::fault_server::{Banner, FaultServer, Script, TransferFault};

/// Peak growth allowed: far below the 20 MB a buffering reader would need.
const ALLOWED_GROWTH_KIB: u64 = 8 * 1024;

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"));
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Resets VmHWM (peak RSS) to the current RSS (proc(5), clear_refs value 5).
fn reset_peak() {
    std::fs::write("/proc/self/clear_refs", "5").expect("reset the peak RSS via /proc/self/clear_refs");
}

#[tokio::test]
async fn hostile_banners_are_read_with_bounded_memory() {
    let cases = [
        (
            "20 MB banner line",
            Script::new().banner(Banner::HugeLine(20 << 20)),
            Phase::Banner,
            Reason::ProtocolError,
        ),
        (
            "endless greeting",
            Script::new().banner(Banner::EndlessMultiline),
            Phase::Banner,
            Reason::ProtocolError,
        ),
        (
            "endless listing",
            Script::new().transfer(TransferFault::Endless),
            Phase::Transfer,
            Reason::ContentMismatch,
        ),
    ];
    for (what, script, phase, reason) in cases {
        let server = FaultServer::start(script).await;
        let mut plan = CheckPlan::new(server.host(), server.port(), Mode::Passive);
        plan.timeout = Duration::from_secs(3);
        let before = status_kib("VmRSS:");
        reset_peak();
        let outcome = run(&plan, &CheckEnv::default()).await;
        let peak = status_kib("VmHWM:");
        let failure = outcome.failure.as_ref().map(|f| (f.phase, f.reason, f.code.as_str()));
        assert_eq!(failure, Some((phase, reason, "")), "{what}");
        let growth = peak.saturating_sub(before);
        assert!(growth < ALLOWED_GROWTH_KIB, "{what}: peak RSS grew by {growth} KiB");
        eprintln!("{what}: peak RSS growth {growth} KiB");
    }
}
