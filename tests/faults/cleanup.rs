//! Nothing left behind: once the server accepted our STOR, the probe file is
//! deleted whatever fails afterwards, and a cancelled check still says QUIT.

use super::*;
use ftp_exporter::check::{run_cancellable, CancellationToken};

const PROBE: &str = "/probe.tmp";

fn store_plan(server: &FaultServer, mode: Mode) -> CheckPlan {
    let mut p = plan(server, mode);
    p.store = Some(StoreSpec { path: PROBE.into(), bytes: 4096, verify: true, delete: true });
    p
}

/// STOR, RETR, DELE and QUIT as the server received them, over all sessions.
fn cleanup_verbs(server: &FaultServer) -> Vec<String> {
    server.verbs().into_iter().filter(|v| matches!(v.as_str(), "STOR" | "RETR" | "DELE" | "QUIT")).collect()
}

const STORE_SESSION: [&str; 4] = ["STOR", "RETR", "DELE", "QUIT"];

#[tokio::test]
async fn refused_read_back_still_deletes_the_probe_file() {
    let server = FaultServer::start(
        Script::new().on("RETR", Reaction::Reply("550 Permission denied for reading".into())),
    )
    .await;
    for mode in [Mode::Passive, Mode::Active] {
        let outcome = check(&store_plan(&server, mode)).await;
        assert_failure(&outcome, Phase::Transfer, Reason::FileUnavailable, "550");
        assert_eq!(server.file(PROBE), None, "{mode}: the probe file was deleted\n{}", outcome.transcript);
        assert!(outcome.transcript.to_string().contains("probe file deleted"), "{}", outcome.transcript);
    }
    assert_eq!(cleanup_verbs(&server), [STORE_SESSION, STORE_SESSION].concat());
}

#[tokio::test]
async fn mismatched_read_back_still_deletes_the_probe_file() {
    let server = FaultServer::start(Script::new().transfer(TransferFault::Corrupt)).await;
    let outcome = check(&store_plan(&server, Mode::Passive)).await;
    assert_failure(&outcome, Phase::Transfer, Reason::ContentMismatch, "");
    assert!(outcome.failure.as_ref().unwrap().message.contains("first at byte 0"), "{:?}", outcome.failure);
    assert_eq!(server.file(PROBE), None);
    assert_eq!(cleanup_verbs(&server), STORE_SESSION);
}

/// The read-back never answers and the check's deadline passes: the DELE
/// is still sent, within a bounded grace after the deadline.
#[tokio::test]
async fn timed_out_read_back_still_sends_dele() {
    let server = FaultServer::start(Script::new().on("RETR", Reaction::Never)).await;
    let plan = CheckPlan { timeout: Duration::from_secs(1), ..store_plan(&server, Mode::Passive) };
    let started = Instant::now();
    let outcome = check(&plan).await;
    let took = started.elapsed();
    assert_failure(&outcome, Phase::Transfer, Reason::Timeout, "");
    // This server ignores everything after RETR; it still records what arrives.
    assert_eq!(cleanup_verbs(&server), STORE_SESSION);
    assert!(took < plan.timeout + Duration::from_millis(1500), "clean-up is bounded: {took:?}");
}

#[tokio::test]
async fn no_dele_when_the_store_itself_was_refused_or_delete_is_off() {
    let server =
        FaultServer::start(Script::new().on("STOR", Reaction::Reply("553 Not allowed".into()))).await;
    let outcome = check(&store_plan(&server, Mode::Passive)).await;
    assert_failure(&outcome, Phase::Transfer, Reason::Rejected, "553");
    assert!(!server.received("DELE"), "nothing of ours is there: {:?}", server.verbs());

    let server = FaultServer::start(Script::new().transfer(TransferFault::Corrupt)).await;
    let mut p = store_plan(&server, Mode::Passive);
    p.store.as_mut().unwrap().delete = false;
    assert_failure(&check(&p).await, Phase::Transfer, Reason::ContentMismatch, "");
    assert!(!server.received("DELE") && server.file(PROBE).is_some(), "delete: false keeps it");
}

/// Cancels `plan` after `after`; returns the outcome and how long the check
/// took from the cancellation on.
async fn cancel_after(plan: &CheckPlan, after: Duration) -> (Outcome, Duration) {
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    let stopped = tokio::spawn(async move {
        tokio::time::sleep(after).await;
        trigger.cancel();
        Instant::now()
    });
    let outcome = run_cancellable(plan, &CheckEnv::default(), cancel).await;
    let at = stopped.await.unwrap();
    (outcome, at.elapsed())
}

#[tokio::test]
async fn cancelled_mid_transfer_sends_quit() {
    // A listing trickling out at 16 bytes per 50 ms: the cancel comes mid-LIST.
    // Ten lines of ~70 bytes: over 2 s of listing.
    let script = (0..10).fold(Script::new(), |s, i| s.file(&format!("/file-{i}.txt"), vec![1u8; 10]));
    let server = FaultServer::start(
        script.transfer(TransferFault::Slow { chunk: 16, delay: Duration::from_millis(50) }),
    )
    .await;
    for mode in [Mode::Passive, Mode::Active] {
        let mut p = plan(&server, mode);
        p.timeout = Duration::from_secs(10);
        let quits = server.verbs().iter().filter(|v| *v == "QUIT").count();
        let (outcome, after_cancel) = cancel_after(&p, Duration::from_millis(600)).await;
        let f = outcome.failure.as_ref().expect("a cancelled check is failed");
        assert_eq!((f.phase, f.reason), (Phase::Transfer, Reason::IoError), "{mode}: {f:?}");
        assert!(f.message.starts_with("cancelled"), "{}", f.message);
        // Clean-up is bounded by 1 s (0.5 s per command); the margin is for a loaded machine.
        assert!(after_cancel < Duration::from_millis(1500), "{mode}: {after_cancel:?} after the cancel");
        assert!(outcome.duration < Duration::from_millis(1500), "{mode}: {:?}", outcome.duration);
        let [d] = &outcome.record.data[..] else { panic!("{:?}", outcome.record.data) };
        assert!(d.opened.is_some() && d.closed.is_some() && d.failure.is_none(), "abandoned mid-LIST: {d:?}");
        let verbs = server.verbs();
        assert_eq!(verbs.iter().filter(|v| *v == "QUIT").count(), quits + 1, "{mode}: {verbs:?}");
        assert_eq!(verbs.last().map(String::as_str), Some("QUIT"), "{mode}: {verbs:?}");
    }
}

#[tokio::test]
async fn cancelled_during_read_back_deletes_and_quits() {
    let server = FaultServer::start(
        Script::new().transfer(TransferFault::Slow { chunk: 64, delay: Duration::from_millis(50) }),
    )
    .await;
    for mode in [Mode::Passive, Mode::Active] {
        let mut p = store_plan(&server, mode);
        p.timeout = Duration::from_secs(10);
        let (outcome, after_cancel) = cancel_after(&p, Duration::from_millis(800)).await;
        let f = outcome.failure.as_ref().expect("cancelled");
        assert!(f.message.starts_with("cancelled"), "{mode}: {f:?}\n{}", outcome.transcript);
        assert!(after_cancel < Duration::from_millis(1500), "{mode}: {after_cancel:?}");
        assert_eq!(server.file(PROBE), None, "{mode}: deleted\n{}", outcome.transcript);
    }
    assert_eq!(cleanup_verbs(&server), [STORE_SESSION, STORE_SESSION].concat());
}
