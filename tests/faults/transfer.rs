//! Faults while data moves, and content checks.

use super::*;

// ---- transfer --------------------------------------------------------------

#[tokio::test]
async fn silence_after_150() {
    let server = FaultServer::start(Script::new().transfer(TransferFault::SilentAfter150)).await;
    for mode in [Mode::Passive, Mode::Active] {
        let outcome = check(&waiting_plan(&server, mode)).await;
        assert_failure(&outcome, Phase::Transfer, Reason::Timeout, "");
    }
}

#[tokio::test]
async fn transfer_aborted_with_426() {
    let server = FaultServer::start(
        Script::new().file("/health/ok.txt", CONTENT).transfer(TransferFault::AbortAfter(5)),
    )
    .await;
    for mode in [Mode::Passive, Mode::Active] {
        let mut plan = plan(&server, mode);
        plan.retrieve = Some(retrieve("/health/ok.txt"));
        let outcome = check(&plan).await;
        assert_failure(&outcome, Phase::Transfer, Reason::Rejected, "426");
    }
}

#[tokio::test]
async fn retrieve_of_a_missing_file() {
    let server = FaultServer::start(Script::new()).await;
    for mode in [Mode::Passive, Mode::Active] {
        let mut plan = plan(&server, mode);
        plan.retrieve = Some(retrieve("/health/missing.txt"));
        let outcome = check(&plan).await;
        assert_failure(&outcome, Phase::Transfer, Reason::FileUnavailable, "550");
    }
}

#[tokio::test]
async fn list_of_a_missing_directory() {
    let server = FaultServer::start(Script::new()).await;
    let mut plan = plan(&server, Mode::Passive);
    plan.list = Some("/no/such/dir".into());
    let outcome = check(&plan).await;
    assert_failure(&outcome, Phase::Transfer, Reason::FileUnavailable, "550");
}

#[tokio::test]
async fn control_connection_closed_at_the_transfer_command() {
    let server = FaultServer::start(Script::new().on("LIST", Reaction::Close)).await;
    let outcome = check(&plan(&server, Mode::Passive)).await;
    assert_failure(&outcome, Phase::Transfer, Reason::ConnectionClosed, "");
}

#[tokio::test]
async fn slow_data_past_the_deadline() {
    let server = FaultServer::start(
        Script::new()
            .file("/health/ok.txt", CONTENT)
            .transfer(TransferFault::Slow { chunk: 1, delay: Duration::from_millis(100) }),
    )
    .await;
    let mut plan = waiting_plan(&server, Mode::Passive);
    plan.retrieve = Some(retrieve("/health/ok.txt"));
    let started = Instant::now();
    let outcome = check(&plan).await;
    assert_failure(&outcome, Phase::Transfer, Reason::Timeout, "");
    assert!(started.elapsed() <= plan.timeout + Duration::from_millis(500), "{:?}", started.elapsed());
}

#[tokio::test]
async fn store_refused_with_550() {
    let server =
        FaultServer::start(Script::new().on("STOR", Reaction::Reply("550 Permission denied".into()))).await;
    for mode in [Mode::Passive, Mode::Active] {
        let mut plan = plan(&server, mode);
        plan.store = Some(StoreSpec { path: "/probe.tmp".into(), bytes: 4096, verify: false, delete: false });
        let outcome = check(&plan).await;
        // In active mode too: the command failed before any connection was due.
        assert_failure(&outcome, Phase::Transfer, Reason::FileUnavailable, "550");
    }
}

#[tokio::test]
async fn listing_refused_with_450() {
    let server =
        FaultServer::start(Script::new().on("LIST", Reaction::Reply("450 Directory busy".into()))).await;
    let outcome = check(&plan(&server, Mode::Passive)).await;
    assert_failure(&outcome, Phase::Transfer, Reason::FileUnavailable, "450");
}

#[tokio::test]
async fn retrieved_size_differs_from_the_expected_size() {
    let server = FaultServer::start(Script::new().file("/health/ok.txt", CONTENT)).await;
    let mut plan = plan(&server, Mode::Passive);
    plan.retrieve = Some(RetrieveSpec { size: Some(CONTENT.len() as u64 + 1), ..retrieve("/health/ok.txt") });
    let outcome = check(&plan).await;
    assert_failure(&outcome, Phase::Transfer, Reason::ContentMismatch, "");
}

/// A runaway transfer is cut off by size, long before the deadline; like
/// any other unexpected amount of data it is a content mismatch.
#[tokio::test]
async fn endless_listing_is_cut_off() {
    let server = FaultServer::start(Script::new().transfer(TransferFault::Endless)).await;
    let mut plan = plan(&server, Mode::Passive);
    plan.timeout = Duration::from_secs(3);
    let started = Instant::now();
    let outcome = check(&plan).await;
    assert_failure(&outcome, Phase::Transfer, Reason::ContentMismatch, "");
    assert!(started.elapsed() < Duration::from_secs(2), "bounded by size: {:?}", started.elapsed());
}

#[tokio::test]
async fn retrieve_larger_than_max_bytes() {
    let server = FaultServer::start(Script::new().file("/big.bin", vec![7u8; 300_000])).await;
    let mut plan = plan(&server, Mode::Passive);
    plan.retrieve = Some(RetrieveSpec { max_bytes: 100_000, ..retrieve("/big.bin") });
    let outcome = check(&plan).await;
    assert_failure(&outcome, Phase::Transfer, Reason::ContentMismatch, "");
}

#[tokio::test]
async fn corrupt_read_back_after_store() {
    let server = FaultServer::start(Script::new().transfer(TransferFault::Corrupt)).await;
    let mut plan = plan(&server, Mode::Passive);
    plan.store = Some(StoreSpec { path: "/probe.tmp".into(), bytes: 4096, verify: true, delete: true });
    let outcome = check(&plan).await;
    assert_failure(&outcome, Phase::Transfer, Reason::ContentMismatch, "");
}

#[tokio::test]
async fn retrieved_content_differs_from_its_checksum() {
    let server = FaultServer::start(Script::new().file("/health/ok.txt", CONTENT)).await;
    let mut plan = plan(&server, Mode::Passive);
    plan.retrieve = Some(RetrieveSpec {
        sha256: Some(hex::encode(Sha256::digest(b"other"))),
        ..retrieve("/health/ok.txt")
    });
    let outcome = check(&plan).await;
    assert_failure(&outcome, Phase::Transfer, Reason::ContentMismatch, "");
}

#[tokio::test]
async fn slow_data_within_the_deadline_succeeds() {
    let server = FaultServer::start(
        Script::new()
            .file("/health/ok.txt", CONTENT)
            .transfer(TransferFault::Slow { chunk: 8, delay: Duration::from_millis(20) }),
    )
    .await;
    let mut plan = plan(&server, Mode::Passive);
    plan.retrieve = Some(retrieve("/health/ok.txt"));
    let outcome = check(&plan).await;
    assert_success(&outcome);
    assert!(outcome.phase(Phase::Transfer).unwrap() >= Duration::from_millis(80), "{:?}", outcome.phases);
}

/// 425 means the data connection could not be opened, whichever side opens it.
#[tokio::test]
async fn passive_425_is_a_data_connect_failure_too() {
    let server = FaultServer::start(
        Script::new().on("LIST", Reaction::Reply("425 Can't open data connection".into())),
    )
    .await;
    let outcome = check(&plan(&server, Mode::Passive)).await;
    assert_failure(&outcome, Phase::DataConnect, Reason::Rejected, "425");
}

/// Reply text is the server's: control characters (terminal escapes) must not
/// reach the failure message, which is logged and printed by `probe`.
#[tokio::test]
async fn control_characters_in_a_reply_do_not_reach_the_failure_message() {
    let server = FaultServer::start(
        Script::new().on("PASS", Reaction::Reply("530 \u{1b}[2J\u{1b}[31mgo away\u{7}".into())),
    )
    .await;
    let outcome = check(&plan(&server, Mode::Passive)).await;
    assert_failure(&outcome, Phase::Login, Reason::AuthFailed, "530");
    let message = &outcome.failure.as_ref().unwrap().message;
    assert!(!message.chars().any(char::is_control), "{message:?}");
    assert!(message.contains("go away"), "{message:?}");
}

/// A server that stops an upload midway says why on the control connection
/// (426 here; 552 for a quota): the check reports that code, not the reset
/// the data connection got.
#[tokio::test]
async fn upload_stopped_by_the_server_reports_its_reply() {
    let server = FaultServer::start(Script::new().transfer(TransferFault::AbortAfter(1000))).await;
    for mode in [Mode::Passive, Mode::Active] {
        let mut p = plan(&server, mode);
        p.store =
            Some(StoreSpec { path: "/probe.tmp".into(), bytes: 16 << 20, verify: false, delete: false });
        let outcome = check(&p).await;
        assert_failure(&outcome, Phase::Transfer, Reason::Rejected, "426");
    }
}
