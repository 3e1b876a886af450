//! Every failure reason of docs/failures.md that a misbehaving server can cause,
//! produced on demand by the scripted fault server and asserted as the exact
//! `(phase, reason, code)` the runner reports.
//!
//! Plans use 1–3 s timeouts so the whole suite runs in a few seconds. One
//! file per part of the session: `session` (resolve, connect, banner, login,
//! quit), `data` (data_setup, data_connect), `transfer`.

#[path = "../support/mod.rs"]
mod support;

mod cleanup;
mod data;
mod record;
mod session;
mod timing;
mod transfer;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ftp_exporter::check::{
    run, CheckEnv, CheckPlan, IpProtocol, Lookup, LookupError, Mode, Operation, Outcome, Phase, Reason,
    Resolver, RetrieveSpec, StoreSpec, Toggle,
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
        [(Mode::Passive, Toggle::Auto), (Mode::Passive, Toggle::Always), (Mode::Active, Toggle::Auto)]
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
        if (mode, epsv) == (Mode::Passive, Toggle::Auto) {
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
