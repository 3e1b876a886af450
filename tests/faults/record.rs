//! The structured session record (phase spans, data connections) that the
//! status page draws, checked against what the fault server did.

use super::*;
use ftp_exporter::check::{DataFailure, SessionRecord, SetupCommand};

/// Spans are in session order, never overlap, and cover the phases the
/// outcome reports, each summed time equal to its spans' total.
#[track_caller]
fn assert_spans_consistent(outcome: &Outcome) {
    let record = &outcome.record;
    for pair in record.spans.windows(2) {
        assert!(pair[0].end <= pair[1].start, "spans overlap or are out of order: {:?}", record.spans);
    }
    for (phase, total) in &outcome.phases {
        let sum: Duration = record.spans_of(*phase).map(|s| s.end - s.start).sum();
        assert_eq!(sum, *total, "{phase}: spans {:?}", record.spans);
    }
    assert!(record.spans.iter().all(|s| s.start <= s.end && s.end <= outcome.duration));
}

fn phases_in_order(record: &SessionRecord) -> Vec<Phase> {
    record.spans.iter().map(|s| s.phase).collect()
}

#[tokio::test]
async fn passive_check_records_each_data_connection() {
    let server = FaultServer::start(Script::new().file("/health/ok.txt", CONTENT)).await;
    let mut plan = plan(&server, Mode::Passive);
    plan.passive.epsv = Toggle::Never;
    plan.list = Some("/health".into());
    plan.store = Some(StoreSpec { path: "/probe.tmp".into(), bytes: 4096, verify: true, delete: true });
    let outcome = check(&plan).await;
    assert_success(&outcome);
    assert_spans_consistent(&outcome);
    use Phase::*;
    #[rustfmt::skip]
    let expected = [
        Connect, Banner, Login,
        DataSetup, DataConnect, Transfer, // TYPE I + PASV, LIST
        DataSetup, DataConnect, Transfer, // PASV, STOR
        DataSetup, DataConnect, Transfer, // PASV, read-back RETR, DELE
        Quit,
    ];
    assert_eq!(phases_in_order(&outcome.record), expected);
    let data = &outcome.record.data;
    let shape: Vec<(Operation, &str, bool)> =
        data.iter().map(|d| (d.operation, d.command, d.is_read_back())).collect();
    assert_eq!(
        shape,
        [
            (Operation::List, "LIST", false),
            (Operation::Store, "STOR", false),
            (Operation::Store, "RETR", true)
        ]
    );
    let peer = server.addr();
    for d in data {
        assert_eq!(d.setup, Some(SetupCommand::Pasv), "{d:?}");
        assert_eq!(d.announced_ip, Some(peer.ip()), "the fault server's 227 names its own address");
        assert_eq!(d.announced_differs, Some(false));
        let port = d.announced_port.expect("227 port");
        assert_eq!(
            d.peer,
            Some(SocketAddr::new(peer.ip(), port)),
            "connected to the control peer, 227's port"
        );
        assert_eq!(d.control_peer, Some(peer));
        let (opened, closed) = (d.opened.expect("opened"), d.closed.expect("closed"));
        assert!(opened <= closed, "{d:?}");
        assert_eq!(d.failure, None);
        assert_eq!(d.tls_resumed, None, "no TLS");
    }
    assert!(data.windows(2).all(|w| w[0].closed <= w[1].opened), "one data connection at a time: {data:?}");
    assert_eq!(outcome.control_peer, Some(peer));
    assert_eq!(outcome.ip_protocol(), Some(4));
}

#[tokio::test]
async fn active_check_records_the_announced_and_accepted_addresses() {
    let server = FaultServer::start(Script::new()).await;
    let outcome = check(&plan(&server, Mode::Active)).await;
    assert_success(&outcome);
    assert_spans_consistent(&outcome);
    let [d] = &outcome.record.data[..] else { panic!("one LIST: {:?}", outcome.record.data) };
    assert_eq!((d.operation, d.command, d.setup), (Operation::List, "LIST", Some(SetupCommand::Port)));
    let local = outcome.control_local.expect("control local address");
    assert_eq!(d.announced_ip, Some(local.ip()), "PORT announces the control connection's local address");
    assert!(d.announced_port.is_some_and(|p| p != 0));
    assert_eq!(d.announced_differs, None, "only a 227 can differ");
    assert_eq!(d.peer.map(|p| p.ip()), Some(server.addr().ip()), "the server connected back");
    assert!(d.opened.is_some() && d.closed.is_some() && d.failure.is_none(), "{d:?}");
}

#[tokio::test]
async fn active_connection_that_never_arrives_is_a_timeout_in_the_record() {
    let server = FaultServer::start(Script::new().active(ActiveFault::NeverConnect)).await;
    let outcome = check(&waiting_plan(&server, Mode::Active)).await;
    assert_failure(&outcome, Phase::DataConnect, Reason::Timeout, "");
    assert_spans_consistent(&outcome);
    let [d] = &outcome.record.data[..] else { panic!("{:?}", outcome.record.data) };
    assert_eq!(d.setup, Some(SetupCommand::Port));
    assert_eq!((d.peer, d.opened, d.closed), (None, None, None), "nothing arrived: {d:?}");
    assert_eq!(d.failure, Some(DataFailure::Timeout));
    let last = outcome.record.spans.last().expect("spans");
    assert_eq!(last.phase, Phase::DataConnect, "the check ended waiting in data_connect");
    assert!(last.end - last.start >= Duration::from_millis(500), "{last:?}");
}

#[tokio::test]
async fn passive_mismatch_is_recorded_with_the_advertised_address() {
    let advertised = Ipv4Addr::new(127, 0, 0, 2);
    let server = FaultServer::start(Script::new().pasv(PasvFault::Advertise(advertised))).await;
    let outcome = check(&pasv_plan(&server)).await;
    assert_success(&outcome);
    let [d] = &outcome.record.data[..] else { panic!("{:?}", outcome.record.data) };
    assert_eq!(d.setup, Some(SetupCommand::Pasv));
    assert_eq!(d.announced_ip, Some(IpAddr::V4(advertised)));
    assert_eq!(d.announced_differs, Some(true));
    assert_eq!(d.peer.map(|p| p.ip()), Some(server.addr().ip()), "went to the control peer instead");

    // Trusting the 227 address: the record shows where it went and how it failed.
    let mut trusting = pasv_plan(&server);
    trusting.passive.trust_advertised_address = true;
    let outcome = check(&trusting).await;
    assert_failure(&outcome, Phase::DataConnect, Reason::ConnectionRefused, "");
    let [d] = &outcome.record.data[..] else { panic!("{:?}", outcome.record.data) };
    assert_eq!(d.peer.map(|p| p.ip()), Some(IpAddr::V4(advertised)));
    assert_eq!((d.opened, d.failure), (None, Some(DataFailure::Refused)));
}

#[tokio::test]
async fn active_stranger_is_recorded_as_unexpected_peer() {
    let stranger = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3));
    let server = FaultServer::start(Script::new().active(ActiveFault::FromSource(stranger))).await;
    let outcome = check(&plan(&server, Mode::Active)).await;
    assert_failure(&outcome, Phase::DataConnect, Reason::UnexpectedPeer, "");
    let [d] = &outcome.record.data[..] else { panic!("{:?}", outcome.record.data) };
    assert_eq!(d.peer.map(|p| p.ip()), Some(stranger));
    assert_eq!(d.failure, Some(DataFailure::UnexpectedPeer));
}

#[tokio::test]
async fn setup_refused_is_not_connected_and_details_can_be_dropped() {
    let server =
        FaultServer::start(Script::new().on("PASV", Reaction::Reply("500 PASV not understood".into()))).await;
    let mut outcome = check(&pasv_plan(&server)).await;
    assert_failure(&outcome, Phase::DataSetup, Reason::Rejected, "500");
    let [d] = &outcome.record.data[..] else { panic!("{:?}", outcome.record.data) };
    assert_eq!(
        (d.setup, d.announced_port, d.failure),
        (Some(SetupCommand::Pasv), None, Some(DataFailure::NotConnected))
    );
    outcome.forget_details();
    assert!(outcome.record.spans.is_empty() && outcome.transcript.lines().is_empty());
    assert!(outcome.failure.is_some() && !outcome.phases.is_empty(), "the figures stay");
}
