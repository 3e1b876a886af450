//! Faults of opening a data connection: data_setup and data_connect, both modes.

use super::*;

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

/// The PASV/EPSV/LIST verbs a server received, in order.
fn passive_verbs(server: &FaultServer) -> Vec<String> {
    server.verbs().into_iter().filter(|v| matches!(v.as_str(), "PASV" | "EPSV" | "LIST")).collect()
}

/// `epsv: auto` on IPv4 is one PASV per data connection: it carries the
/// advertised address, so no second exchange is needed to see a mismatch.
#[tokio::test]
async fn epsv_auto_on_ipv4_is_one_pasv() {
    let server =
        FaultServer::start(Script::new().pasv(PasvFault::Advertise(Ipv4Addr::new(127, 0, 0, 2)))).await;
    let outcome = check(&plan(&server, Mode::Passive)).await;
    assert_success(&outcome);
    assert_eq!(passive_verbs(&server), ["PASV", "LIST"]);
    assert!(!server.received("FEAT"), "no FEAT needed to choose: {:?}", server.verbs());
    assert_eq!(outcome.passive_address_mismatch, Some(true), "{}", outcome.transcript);
    assert_eq!(outcome.passive_advertised.map(|a| a.ip()), Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2))));
}

/// Old servers (and some firewalls) know no EPSV, some IPv6 servers no PASV:
/// `auto` falls back to the other on 500/502, and only then.
#[tokio::test]
async fn epsv_auto_falls_back_on_500_and_502() {
    for code in ["500 PASV not understood", "502 Command not implemented"] {
        let server = FaultServer::start(Script::new().on("PASV", Reaction::Reply(code.into()))).await;
        let outcome = check(&plan(&server, Mode::Passive)).await;
        assert_success(&outcome);
        assert_eq!(passive_verbs(&server), ["PASV", "EPSV", "LIST"], "{code}");
        assert_eq!(outcome.passive_address_mismatch, None, "no 227 seen");
    }
    let server = FaultServer::start(Script::new().on("PASV", Reaction::Reply("421 Going away".into()))).await;
    let outcome = check(&plan(&server, Mode::Passive)).await;
    assert_failure(&outcome, Phase::DataSetup, Reason::ServiceUnavailable, "421");
    assert_eq!(passive_verbs(&server), ["PASV"], "no fallback on other refusals");

    // IPv6: EPSV first; refused, PASV is tried, and this server refuses it on IPv6.
    let server = FaultServer::start_v6(
        Script::new().on("EPSV", Reaction::Reply("502 Command not implemented".into())),
    )
    .await;
    let outcome = check(&plan(&server, Mode::Passive)).await;
    assert_failure(&outcome, Phase::DataSetup, Reason::Rejected, "425");
    assert_eq!(passive_verbs(&server), ["EPSV", "PASV"]);
}

#[tokio::test]
async fn epsv_auto_on_ipv6_is_one_epsv() {
    let server = FaultServer::start_v6(Script::new()).await;
    let outcome = check(&plan(&server, Mode::Passive)).await;
    assert_success(&outcome);
    assert_eq!(passive_verbs(&server), ["EPSV", "LIST"]);
    assert_eq!(outcome.passive_address_mismatch, None);
    assert_eq!(outcome.ip_protocol(), Some(6));
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
