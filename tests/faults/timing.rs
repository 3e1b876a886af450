//! Phase times equal what the server did: a slow but correct server with a
//! different pause at every place a phase waits on it, and each phase of
//! the outcome compared with its pause.
//!
//! Pauses are hundreds of milliseconds and distinct per phase, so time
//! attributed to the wrong phase, or an extra exchange, shows as a whole
//! pause (an unused PASV before EPSV made `data_setup` 2× its pause); the
//! tolerance above each pause only absorbs a loaded machine's scheduling.

use super::*;

const BANNER: Duration = Duration::from_millis(100);
const LOGIN: Duration = Duration::from_millis(150);
/// Per PASV/EPSV/PORT/EPRT exchange.
const SETUP: Duration = Duration::from_millis(200);
/// Per active-mode connection back.
const CONNECT_BACK: Duration = Duration::from_millis(250);
/// Per download, between its last byte and the end of its data connection.
const DATA_END: Duration = Duration::from_millis(120);
const QUIT: Duration = Duration::from_millis(80);
/// What a phase may take beyond the server's pause: loopback round trips
/// and scheduling on a loaded CI machine, far below any one pause.
const TOLERANCE: Duration = Duration::from_millis(60);

fn slow_server() -> Script {
    let mut script = Script::new()
        .file("/health/ok.txt", CONTENT)
        .banner_delay(BANNER)
        .delay("PASS", LOGIN)
        .connect_back_delay(CONNECT_BACK)
        .data_end_delay(DATA_END)
        .delay("QUIT", QUIT);
    for verb in ["PASV", "EPSV", "PORT", "EPRT"] {
        script = script.delay(verb, SETUP);
    }
    script
}

#[track_caller]
fn assert_phase_took(outcome: &Outcome, phase: Phase, pause: Duration) -> Duration {
    let took = outcome.phase(phase).unwrap_or_else(|| panic!("no {phase} in {:?}", outcome.phases));
    eprintln!(
        "{} {phase}: server paused {pause:?}, measured {took:?}, error {:+.1} ms",
        outcome.mode,
        (took.as_secs_f64() - pause.as_secs_f64()) * 1000.0
    );
    assert!(
        took >= pause && took <= pause + TOLERANCE,
        "{}: {phase} took {took:?} for a server pause of {pause:?}\n{}",
        outcome.mode,
        outcome.transcript
    );
    took
}

/// LIST and RETR in one check: data phases are summed over both operations.
#[tokio::test]
async fn every_phase_equals_the_servers_pause() {
    let server = FaultServer::start(slow_server()).await;
    for (mode, epsv) in
        [(Mode::Passive, Toggle::Auto), (Mode::Passive, Toggle::Always), (Mode::Active, Toggle::Auto)]
    {
        let mut plan = plan(&server, mode);
        plan.timeout = Duration::from_secs(10);
        plan.passive.epsv = epsv;
        plan.list = Some("/health".into());
        plan.retrieve = Some(retrieve("/health/ok.txt"));
        let outcome = check(&plan).await;
        assert_success(&outcome);
        assert!(outcome.phase(Phase::Connect).is_some_and(|c| c < BANNER), "{:?}", outcome.phases);
        assert_phase_took(&outcome, Phase::Banner, BANNER);
        assert_phase_took(&outcome, Phase::Login, LOGIN);
        assert_phase_took(&outcome, Phase::DataSetup, 2 * SETUP);
        match mode {
            Mode::Active => assert_phase_took(&outcome, Phase::DataConnect, 2 * CONNECT_BACK),
            // A passive connect completes in the server's kernel: nothing to pause.
            Mode::Passive => assert_phase_took(&outcome, Phase::DataConnect, Duration::ZERO),
        };
        assert_phase_took(&outcome, Phase::Transfer, 2 * DATA_END);
        assert_phase_took(&outcome, Phase::Quit, QUIT);
        let spans: Vec<Duration> =
            outcome.record.spans_of(Phase::DataSetup).map(|s| s.end - s.start).collect();
        assert_eq!(spans.len(), 2, "one data_setup span per operation: {:?}", outcome.record.spans);
    }
}
