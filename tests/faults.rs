//! Every failure reason of SPEC §3 that a misbehaving server can cause,
//! produced on demand by the scripted fault server and asserted as the exact
//! `(phase, reason, code)` the runner reports.
//!
//! Plans use 1–3 s timeouts so the whole file runs in a few seconds.

mod support;

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ftp_exporter::check::{
    run, CheckEnv, CheckPlan, Mode, Operation, Outcome, Phase, Reason, Resolver, RetrieveSpec, StoreSpec,
    Toggle,
};
use ftp_exporter::secret::Secret;
use sha2::{Digest, Sha256};

use support::fault_server::{
    ActiveFault, Banner, EpsvFault, FaultServer, Feat, PasvFault, Reaction, Script, TransferFault,
};

const CONTENT: &[u8] = b"the health file of the fault server\n";

fn plan(server: &FaultServer, mode: Mode) -> CheckPlan {
    let mut plan = CheckPlan::new(server.host(), server.port(), mode);
    plan.timeout = Duration::from_secs(2);
    plan
}

/// For faults that end in a timeout: the shortest deadline that still leaves
/// a loaded CI machine ample time for the steps before the fault.
fn waiting_plan(server: &FaultServer, mode: Mode) -> CheckPlan {
    CheckPlan { timeout: Duration::from_secs(1), ..plan(server, mode) }
}

/// A passive plan that uses PASV (not EPSV), for the 227 faults.
fn pasv_plan(server: &FaultServer) -> CheckPlan {
    let mut plan = plan(server, Mode::Passive);
    plan.passive.epsv = Toggle::Never;
    plan
}

fn retrieve(path: &str) -> RetrieveSpec {
    RetrieveSpec { path: path.into(), sha256: None, size: None, max_bytes: 1 << 20 }
}

async fn check(plan: &CheckPlan) -> Outcome {
    run(plan, &CheckEnv::default()).await
}

/// Asserts the one `(phase, reason, code)` of a failed check, showing the
/// transcript when it is not the expected one.
#[track_caller]
fn assert_failure(outcome: &Outcome, phase: Phase, reason: Reason, code: &str) {
    let got = outcome.failure.as_ref().map(|f| (f.phase, f.reason, f.code.as_str()));
    assert_eq!(
        got,
        Some((phase, reason, code)),
        "{:?}\ntranscript:\n{}",
        outcome.failure,
        outcome.transcript
    );
}

#[track_caller]
fn assert_success(outcome: &Outcome) {
    assert_eq!(outcome.failure, None, "transcript:\n{}", outcome.transcript);
}

/// The default script is a server the runner fully accepts, in both modes
/// and with every operation: the fault tests below differ from it by one fault.
#[tokio::test]
async fn default_script_passes_every_operation_in_both_modes() {
    let server = FaultServer::start(Script::new().file("/health/ok.txt", CONTENT)).await;
    for (mode, epsv) in
        [(Mode::Passive, Toggle::Auto), (Mode::Passive, Toggle::Never), (Mode::Active, Toggle::Auto)]
    {
        let mut plan = plan(&server, mode);
        plan.passive.epsv = epsv;
        plan.list = Some("/health".into());
        plan.retrieve = Some(RetrieveSpec {
            sha256: Some(hex::encode(Sha256::digest(CONTENT))),
            size: Some(CONTENT.len() as u64),
            ..retrieve("/health/ok.txt")
        });
        plan.store = Some(StoreSpec { path: "/probe.tmp".into(), bytes: 4096, verify: true, delete: true });
        let outcome = check(&plan).await;
        assert_success(&outcome);
        assert_eq!(outcome.bytes(Operation::Retrieve), Some(CONTENT.len() as u64));
        assert_eq!(outcome.bytes(Operation::Store), Some(4096));
        assert!(outcome.phase(Phase::Quit).is_some(), "{:?}", outcome.phases);
        if (mode, epsv) == (Mode::Passive, Toggle::Never) {
            assert_eq!(outcome.passive_address_mismatch, Some(false), "a truthful 227");
        }
    }
    assert_eq!(server.file("/probe.tmp"), None, "the probe file was deleted");
    let verbs = server.verbs();
    // EPRT only where PORT cannot say the address (IPv6): see eprt_against_an_ipv6_server.
    for verb in ["EPSV", "PASV", "PORT", "RETR", "STOR", "DELE"] {
        assert!(verbs.iter().any(|v| v == verb), "{verb} never sent: {verbs:?}");
    }
    assert_eq!(verbs.iter().filter(|v| *v == "QUIT").count(), 3, "every session ends with QUIT");
}

// ---- connect and resolve -------------------------------------------------

#[tokio::test]
async fn refused_control_connection() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let outcome = check(&CheckPlan {
        timeout: Duration::from_secs(2),
        ..CheckPlan::new("127.0.0.1", port, Mode::Passive)
    })
    .await;
    assert_failure(&outcome, Phase::Connect, Reason::ConnectionRefused, "");
}

/// Resolves every name to nothing, or to an error: no DNS query leaves the test.
struct FailingResolver {
    empty: bool,
}

impl Resolver for FailingResolver {
    fn resolve<'a>(
        &'a self,
        host: &'a str,
        _port: u16,
    ) -> Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'a>> {
        let empty = self.empty;
        Box::pin(async move {
            if empty {
                Ok(Vec::new())
            } else {
                Err(io::Error::other(format!(
                    "failed to lookup address information: {host}: Name or service not known"
                )))
            }
        })
    }
}

/// Resolves `ftp.fault.test` to one fixed loopback address.
struct FixedResolver(SocketAddr);

impl Resolver for FixedResolver {
    fn resolve<'a>(
        &'a self,
        host: &'a str,
        _port: u16,
    ) -> Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'a>> {
        let found =
            if host == "ftp.fault.test" { Ok(vec![self.0]) } else { Err(io::Error::other("unknown host")) };
        Box::pin(async move { found })
    }
}

#[tokio::test]
async fn dns_error_from_the_resolver() {
    for empty in [false, true] {
        let env = CheckEnv::with_resolver(Arc::new(FailingResolver { empty }));
        let mut plan = CheckPlan::new("ftp.fault.test", 21, Mode::Passive);
        plan.timeout = Duration::from_secs(2);
        let outcome = run(&plan, &env).await;
        assert_failure(&outcome, Phase::Resolve, Reason::DnsError, "");
    }
}

#[tokio::test]
async fn a_name_is_resolved_through_the_resolver() {
    let server = FaultServer::start(Script::new()).await;
    let env = CheckEnv::with_resolver(Arc::new(FixedResolver(server.addr())));
    let mut plan = CheckPlan::new("ftp.fault.test", server.port(), Mode::Passive);
    plan.timeout = Duration::from_secs(2);
    let outcome = run(&plan, &env).await;
    assert_success(&outcome);
    assert!(outcome.phase(Phase::Resolve).is_some(), "{:?}", outcome.phases);
}

// ---- banner ----------------------------------------------------------------

#[tokio::test]
async fn silent_banner_times_out_within_the_deadline() {
    let server = FaultServer::start(Script::new().banner(Banner::Silent)).await;
    let plan = waiting_plan(&server, Mode::Passive);
    let started = Instant::now();
    let outcome = check(&plan).await;
    let took = started.elapsed();
    assert_failure(&outcome, Phase::Banner, Reason::Timeout, "");
    assert!(took <= plan.timeout + Duration::from_millis(500), "took {took:?} for a 1 s timeout");
    assert!(took >= plan.timeout - Duration::from_millis(50), "gave up early, after {took:?}");
}

#[tokio::test]
async fn http_server_on_the_ftp_port() {
    let server = FaultServer::start(Script::new().banner(Banner::Http)).await;
    let outcome = check(&plan(&server, Mode::Passive)).await;
    assert_failure(&outcome, Phase::Banner, Reason::ProtocolError, "");
}

#[tokio::test]
async fn too_many_users_at_the_banner() {
    let server =
        FaultServer::start(Script::new().banner(Banner::ReplyAndClose("421 Too many users".into()))).await;
    let outcome = check(&plan(&server, Mode::Passive)).await;
    assert_failure(&outcome, Phase::Banner, Reason::ServiceUnavailable, "421");
}

#[tokio::test]
async fn byte_at_a_time_banner_is_slow_but_valid() {
    let server =
        FaultServer::start(Script::new().banner(Banner::ByteByByte(Duration::from_millis(10)))).await;
    let outcome = check(&plan(&server, Mode::Passive)).await;
    assert_success(&outcome);
    let banner = outcome.phase(Phase::Banner).unwrap();
    assert!(banner >= Duration::from_millis(200), "24 bytes at 10 ms each, measured {banner:?}");
}

#[tokio::test]
async fn twenty_megabyte_banner_line_fails_fast() {
    let server = FaultServer::start(Script::new().banner(Banner::HugeLine(20 * 1024 * 1024))).await;
    let mut plan = plan(&server, Mode::Passive);
    plan.timeout = Duration::from_secs(3);
    let started = Instant::now();
    let outcome = check(&plan).await;
    assert_failure(&outcome, Phase::Banner, Reason::ProtocolError, "");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "bounded by size, not by the timeout: {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn endless_multiline_greeting_fails_fast() {
    let server = FaultServer::start(Script::new().banner(Banner::EndlessMultiline)).await;
    let mut plan = plan(&server, Mode::Passive);
    plan.timeout = Duration::from_secs(3);
    let started = Instant::now();
    let outcome = check(&plan).await;
    assert_failure(&outcome, Phase::Banner, Reason::ProtocolError, "");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "bounded by size, not by the timeout: {:?}",
        started.elapsed()
    );
}

// ---- login -----------------------------------------------------------------

#[tokio::test]
async fn wrong_password() {
    let server = FaultServer::start(Script::new().credentials("monitor", "right-password")).await;
    let mut plan = plan(&server, Mode::Passive);
    plan.username = "monitor".into();
    plan.password = Secret::new("wrong-hunter2");
    let outcome = check(&plan).await;
    assert_failure(&outcome, Phase::Login, Reason::AuthFailed, "530");
    let failure = outcome.failure.as_ref().unwrap();
    let shown = format!("{failure:?} {} {}", failure.message, outcome.transcript);
    assert!(!shown.contains("wrong-hunter2"), "password leaked: {shown}");
    assert!(server.commands().contains(&"PASS ****".to_string()));
    assert!(!server.received("LIST"), "no data operation after a failed login");
}

/// A failure just before the deadline leaves no time for a polite QUIT: the
/// check still ends at its deadline (SPEC §4 `timeout`: one whole check),
/// even when the server never answers that QUIT.
#[tokio::test]
async fn late_failure_does_not_stretch_the_deadline() {
    let server = FaultServer::start(
        Script::new()
            .on("PASS", Reaction::ReplyAfter(Duration::from_millis(850), "530 Login incorrect".into()))
            .on("QUIT", Reaction::Never),
    )
    .await;
    let plan = waiting_plan(&server, Mode::Passive);
    let started = Instant::now();
    let outcome = check(&plan).await;
    let took = started.elapsed();
    assert_failure(&outcome, Phase::Login, Reason::AuthFailed, "530");
    assert!(took <= plan.timeout + Duration::from_millis(250), "a 1 s check took {took:?}");
}

#[tokio::test]
async fn account_asked_for_and_given() {
    let server =
        FaultServer::start(Script::new().on("PASS", Reaction::Reply("332 Need account".into()))).await;
    let mut plan = plan(&server, Mode::Passive);
    plan.account = Some(Secret::new("billing-hunter2"));
    let outcome = check(&plan).await;
    assert_success(&outcome);
    assert!(server.commands().contains(&"ACCT ****".to_string()), "{:?}", server.commands());
    assert!(!outcome.transcript.to_string().contains("billing-hunter2"), "{}", outcome.transcript);
}

#[tokio::test]
async fn account_asked_for_but_not_configured() {
    let server =
        FaultServer::start(Script::new().on("PASS", Reaction::Reply("332 Need account".into()))).await;
    let outcome = check(&plan(&server, Mode::Passive)).await;
    assert_failure(&outcome, Phase::Login, Reason::AuthFailed, "332");
}

#[tokio::test]
async fn login_refused_with_430() {
    let server = FaultServer::start(
        Script::new().on("PASS", Reaction::Reply("430 Invalid username or password".into())),
    )
    .await;
    let outcome = check(&plan(&server, Mode::Passive)).await;
    assert_failure(&outcome, Phase::Login, Reason::AuthFailed, "430");
}

#[tokio::test]
async fn user_needs_no_password() {
    let server = FaultServer::start(Script::new().on("USER", Reaction::Reply("230 Welcome".into()))).await;
    let outcome = check(&plan(&server, Mode::Passive)).await;
    assert_success(&outcome);
    assert!(!server.received("PASS"), "{:?}", server.verbs());
}

#[tokio::test]
async fn garbage_instead_of_a_reply() {
    let server = FaultServer::start(Script::new().on("USER", Reaction::Reply("hello there".into()))).await;
    let outcome = check(&plan(&server, Mode::Passive)).await;
    assert_failure(&outcome, Phase::Login, Reason::ProtocolError, "");
}

#[tokio::test]
async fn reset_after_user() {
    let server = FaultServer::start(Script::new().on("USER", Reaction::Reset)).await;
    let outcome = check(&plan(&server, Mode::Passive)).await;
    assert_failure(&outcome, Phase::Login, Reason::ConnectionClosed, "");
}

#[tokio::test]
async fn close_after_pass() {
    let server = FaultServer::start(Script::new().on("PASS", Reaction::Close)).await;
    let outcome = check(&plan(&server, Mode::Passive)).await;
    assert_failure(&outcome, Phase::Login, Reason::ConnectionClosed, "");
}

#[tokio::test]
async fn login_never_answered() {
    let server = FaultServer::start(Script::new().on("PASS", Reaction::Never)).await;
    let outcome = check(&waiting_plan(&server, Mode::Passive)).await;
    assert_failure(&outcome, Phase::Login, Reason::Timeout, "");
}

// ---- data_setup ------------------------------------------------------------

#[tokio::test]
async fn malformed_227() {
    let server = FaultServer::start(
        Script::new().pasv(PasvFault::Malformed("227 Entering Passive Mode (127,0,0,1,300,12)".into())),
    )
    .await;
    let outcome = check(&pasv_plan(&server)).await;
    assert_failure(&outcome, Phase::DataSetup, Reason::ProtocolError, "227");
}

#[tokio::test]
async fn malformed_229() {
    let server = FaultServer::start(
        Script::new().epsv(EpsvFault::Malformed("229 Entering Extended Passive Mode (|||seventy|)".into())),
    )
    .await;
    let mut plan = plan(&server, Mode::Passive);
    plan.passive.epsv = Toggle::Always;
    let outcome = check(&plan).await;
    assert_failure(&outcome, Phase::DataSetup, Reason::ProtocolError, "229");
}

#[tokio::test]
async fn pasv_refused() {
    let server =
        FaultServer::start(Script::new().on("PASV", Reaction::Reply("500 PASV not understood".into()))).await;
    let outcome = check(&pasv_plan(&server)).await;
    assert_failure(&outcome, Phase::DataSetup, Reason::Rejected, "500");
}

#[tokio::test]
async fn epsv_refused_falls_back_to_pasv() {
    let server =
        FaultServer::start(Script::new().on("EPSV", Reaction::Reply("502 Command not implemented".into())))
            .await;
    let outcome = check(&plan(&server, Mode::Passive)).await;
    assert_success(&outcome);
    let verbs = server.verbs();
    let epsv = verbs.iter().position(|v| v == "EPSV").expect("EPSV tried first");
    let pasv = verbs.iter().position(|v| v == "PASV").expect("then PASV");
    assert!(epsv < pasv, "{verbs:?}");
}

#[tokio::test]
async fn shutting_down_in_the_middle_of_a_session() {
    // 421 on any command is service_unavailable, whatever the phase.
    let server =
        FaultServer::start(Script::new().on("PASV", Reaction::Reply("421 Shutting down".into()))).await;
    let outcome = check(&pasv_plan(&server)).await;
    assert_failure(&outcome, Phase::DataSetup, Reason::ServiceUnavailable, "421");
}

#[tokio::test]
async fn feat_without_epsv_means_pasv() {
    let server = FaultServer::start(Script::new().feat(Feat::WithoutEpsv)).await;
    let outcome = check(&plan(&server, Mode::Passive)).await;
    assert_success(&outcome);
    assert!(server.received("PASV") && !server.received("EPSV"), "{:?}", server.verbs());
}

#[tokio::test]
async fn feat_unknown_to_an_old_server_is_no_failure() {
    let server = FaultServer::start(Script::new().feat(Feat::Rejected)).await;
    for mode in [Mode::Passive, Mode::Active] {
        assert_success(&check(&plan(&server, mode)).await);
    }
}

// ---- data_connect ----------------------------------------------------------

#[tokio::test]
async fn pasv_advertising_another_address_is_noticed_and_ignored() {
    let advertised = Ipv4Addr::new(127, 0, 0, 2);
    let server = FaultServer::start(Script::new().pasv(PasvFault::Advertise(advertised))).await;
    let outcome = check(&pasv_plan(&server)).await;
    assert_success(&outcome);
    assert_eq!(outcome.passive_address_mismatch, Some(true));
    assert_eq!(outcome.passive_advertised.map(|a| a.ip()), Some(IpAddr::V4(advertised)));
}

#[tokio::test]
async fn pasv_advertising_another_address_fails_when_trusted() {
    let server =
        FaultServer::start(Script::new().pasv(PasvFault::Advertise(Ipv4Addr::new(127, 0, 0, 2)))).await;
    let mut plan = pasv_plan(&server);
    plan.passive.trust_advertised_address = true;
    let outcome = check(&plan).await;
    assert_failure(&outcome, Phase::DataConnect, Reason::ConnectionRefused, "");
    assert_eq!(outcome.passive_address_mismatch, Some(true));
}

#[tokio::test]
async fn passive_port_closed() {
    let server = FaultServer::start(Script::new().pasv(PasvFault::ClosedPort)).await;
    let outcome = check(&pasv_plan(&server)).await;
    assert_failure(&outcome, Phase::DataConnect, Reason::ConnectionRefused, "");

    let server = FaultServer::start(Script::new().epsv(EpsvFault::ClosedPort)).await;
    let mut plan = plan(&server, Mode::Passive);
    plan.passive.epsv = Toggle::Always;
    let outcome = check(&plan).await;
    assert_failure(&outcome, Phase::DataConnect, Reason::ConnectionRefused, "");
}

#[tokio::test]
async fn active_server_never_connects_back() {
    let server = FaultServer::start(Script::new().active(ActiveFault::NeverConnect)).await;
    let plan = waiting_plan(&server, Mode::Active);
    let started = Instant::now();
    let outcome = check(&plan).await;
    assert_failure(&outcome, Phase::DataConnect, Reason::Timeout, "");
    assert!(started.elapsed() <= plan.timeout + Duration::from_millis(500), "{:?}", started.elapsed());
}

#[tokio::test]
async fn active_server_cannot_open_the_data_connection() {
    let server = FaultServer::start(Script::new().active(ActiveFault::Refuse)).await;
    let outcome = check(&plan(&server, Mode::Active)).await;
    assert_failure(&outcome, Phase::DataConnect, Reason::Rejected, "425");
}

#[tokio::test]
async fn active_data_connection_from_a_stranger() {
    let stranger = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3));
    let server = FaultServer::start(Script::new().active(ActiveFault::FromSource(stranger))).await;
    let outcome = check(&plan(&server, Mode::Active)).await;
    assert_failure(&outcome, Phase::DataConnect, Reason::UnexpectedPeer, "");
}

#[tokio::test]
async fn eprt_against_an_ipv6_server() {
    let server = FaultServer::start_v6(Script::new().file("/six.txt", CONTENT)).await;
    let mut plan = plan(&server, Mode::Active);
    plan.retrieve = Some(retrieve("/six.txt"));
    let outcome = check(&plan).await;
    assert_success(&outcome);
    assert_eq!(outcome.bytes(Operation::Retrieve), Some(CONTENT.len() as u64));
    let eprt = server.commands().into_iter().find(|c| c.starts_with("EPRT")).expect("EPRT sent");
    assert!(eprt.starts_with("EPRT |2|::1|"), "{eprt}");
}

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

// ---- quit ------------------------------------------------------------------

#[tokio::test]
async fn quit_never_answered() {
    let server = FaultServer::start(Script::new().on("QUIT", Reaction::Never)).await;
    let mut plan = waiting_plan(&server, Mode::Passive);
    plan.login_only = true;
    let started = Instant::now();
    let outcome = check(&plan).await;
    assert_failure(&outcome, Phase::Quit, Reason::Timeout, "");
    assert!(started.elapsed() <= plan.timeout + Duration::from_millis(500), "{:?}", started.elapsed());
}
