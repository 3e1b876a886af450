//! Faults of the control connection: resolve, connect, banner, login, quit.

use super::*;

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

/// Resolves every name to nothing, or fails as a resolver would: no DNS
/// query leaves the test.
enum FailingResolver {
    Empty,
    NoSuchName,
    Dead,
    /// Never answers (a resolver that drops every query).
    Silent,
    /// Counts the calls and fails them.
    Counting(std::sync::atomic::AtomicUsize),
}

impl Resolver for FailingResolver {
    fn resolve<'a>(&'a self, _host: &'a str, _port: u16) -> Lookup<'a> {
        let result = match self {
            FailingResolver::Empty => Ok(Vec::new()),
            FailingResolver::NoSuchName => Err(LookupError::NotFound("NXDOMAIN".into())),
            FailingResolver::Dead => Err(LookupError::Unavailable("request timed out".into())),
            FailingResolver::Silent => return Box::pin(std::future::pending()),
            FailingResolver::Counting(n) => {
                n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                Err(LookupError::Unavailable("asked".into()))
            }
        };
        Box::pin(async move { result })
    }
}

/// Resolves `ftp.fault.test` to fixed addresses.
struct FixedResolver(Vec<SocketAddr>);

impl Resolver for FixedResolver {
    fn resolve<'a>(&'a self, host: &'a str, _port: u16) -> Lookup<'a> {
        let found = if host == "ftp.fault.test" {
            Ok(self.0.clone())
        } else {
            Err(LookupError::NotFound("NXDOMAIN".into()))
        };
        Box::pin(async move { found })
    }
}

/// `dns_error` says which of the two it is: the name (fix the target) or
/// the resolver (fix DNS).
#[tokio::test]
async fn dns_error_tells_no_such_name_from_a_dead_resolver() {
    for (resolver, says) in [
        (FailingResolver::Empty, "cannot resolve ftp.fault.test: no such name (no addresses)"),
        (FailingResolver::NoSuchName, "cannot resolve ftp.fault.test: no such name (NXDOMAIN)"),
        (
            FailingResolver::Dead,
            "cannot resolve ftp.fault.test: resolver timed out or unreachable (request timed out)",
        ),
    ] {
        let env = CheckEnv::with_resolver(Arc::new(resolver));
        let mut plan = CheckPlan::new("ftp.fault.test", 21, Mode::Passive);
        plan.timeout = Duration::from_secs(2);
        let outcome = run(&plan, &env).await;
        assert_failure(&outcome, Phase::Resolve, Reason::DnsError, "");
        assert_eq!(outcome.failure.unwrap().message, says);
    }
}

/// A resolver that never answers is cut off by the check's deadline, at resolve.
#[tokio::test]
async fn a_silent_resolver_times_out_at_the_deadline() {
    let env = CheckEnv::with_resolver(Arc::new(FailingResolver::Silent));
    let mut plan = CheckPlan::new("ftp.fault.test", 21, Mode::Passive);
    plan.timeout = Duration::from_secs(1);
    let started = Instant::now();
    let outcome = run(&plan, &env).await;
    assert_failure(&outcome, Phase::Resolve, Reason::Timeout, "");
    assert!(started.elapsed() < plan.timeout + Duration::from_millis(500), "{:?}", started.elapsed());
}

/// IP literals, v4 and v6, never reach the resolver.
#[tokio::test]
async fn ip_literals_are_never_resolved() {
    let resolver = Arc::new(FailingResolver::Counting(Default::default()));
    let env = CheckEnv::with_resolver(resolver.clone());
    for server in [FaultServer::start(Script::new()).await, FaultServer::start_v6(Script::new()).await] {
        let outcome = run(&plan(&server, Mode::Passive), &env).await;
        assert_success(&outcome);
        assert_eq!(outcome.phase(Phase::Resolve), None, "{:?}", outcome.phases);
    }
    let FailingResolver::Counting(calls) = resolver.as_ref() else { unreachable!() };
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_name_is_resolved_through_the_resolver() {
    let server = FaultServer::start(Script::new()).await;
    let env = CheckEnv::with_resolver(Arc::new(FixedResolver(vec![server.addr()])));
    let mut plan = CheckPlan::new("ftp.fault.test", server.port(), Mode::Passive);
    plan.timeout = Duration::from_secs(2);
    let outcome = run(&plan, &env).await;
    assert_success(&outcome);
    assert!(outcome.phase(Phase::Resolve).is_some(), "{:?}", outcome.phases);
}

/// A name with an IPv6 address where nothing listens and an IPv4 one that
/// works: `auto` tries both (IPv6 first) and is up; `ipv6` is refused;
/// `ipv4` never tries IPv6; a family the name lacks is a dns_error.
#[tokio::test]
async fn ip_protocol_chooses_the_addresses_tried() {
    let server = FaultServer::start(Script::new()).await;
    let closed = std::net::TcpListener::bind("[::1]:0").unwrap();
    let v6 = closed.local_addr().unwrap();
    drop(closed);
    let env = CheckEnv::with_resolver(Arc::new(FixedResolver(vec![server.addr(), v6])));
    let mut plan = CheckPlan::new("ftp.fault.test", server.port(), Mode::Passive);
    plan.timeout = Duration::from_secs(2);
    let outcome = run(&plan, &env).await;
    assert_success(&outcome);
    let t = outcome.transcript.to_string();
    assert!(t.contains(&format!("connecting to {v6} (address 1 of 2)")), "{t}");
    assert!(t.contains(&format!("connect to {v6}: ")), "{t}");
    assert!(t.contains(&format!("connected to {}", server.addr())), "{t}");
    assert_eq!(outcome.ip_protocol(), Some(4));

    plan.ip_protocol = IpProtocol::Ipv6;
    assert_failure(&run(&plan, &env).await, Phase::Connect, Reason::ConnectionRefused, "");
    plan.ip_protocol = IpProtocol::Ipv4;
    let outcome = run(&plan, &env).await;
    assert_success(&outcome);
    assert!(!outcome.transcript.to_string().contains("[::1]"), "{}", outcome.transcript);

    let env = CheckEnv::with_resolver(Arc::new(FixedResolver(vec![server.addr()])));
    plan.ip_protocol = IpProtocol::Ipv6;
    let outcome = run(&plan, &env).await;
    assert_failure(&outcome, Phase::Resolve, Reason::DnsError, "");
    assert!(outcome.failure.unwrap().message.contains("no IPv6 address (ip_protocol: ipv6)"));
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

/// A 20 MB line and an endless multi-line greeting are refused by the
/// reply parser's bounds, quickly, not when the deadline ends them.
#[tokio::test]
async fn oversized_banners_fail_fast() {
    for banner in [Banner::HugeLine(20 * 1024 * 1024), Banner::EndlessMultiline] {
        let server = FaultServer::start(Script::new().banner(banner)).await;
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
/// check still ends at its deadline (docs/configuration.md `timeout`: one whole check),
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

/// The exporter has no account to send with ACCT (no config key sets one).
#[tokio::test]
async fn an_account_asked_for_is_an_auth_failure() {
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

/// A server that echoes the password in its refusal: the secret must not
/// reach the transcript or the failure message (both are shown to people).
#[tokio::test]
async fn password_echoed_by_the_server_is_masked() {
    let server = FaultServer::start(
        Script::new().on("PASS", Reaction::Reply("530 Password Hunter2-Secret is wrong".into())),
    )
    .await;
    let mut p = plan(&server, Mode::Passive);
    p.username = "bob".into();
    p.password = Secret::new("Hunter2-Secret");
    let outcome = check(&p).await;
    assert_failure(&outcome, Phase::Login, Reason::AuthFailed, "530");
    let message = &outcome.failure.as_ref().unwrap().message;
    let transcript = outcome.transcript.to_string();
    assert!(transcript.contains("530 Password **** is wrong"), "{transcript}");
    assert!(
        !transcript.contains("Hunter2-Secret") && !message.contains("Hunter2-Secret"),
        "{message}\n{transcript}"
    );
    assert!(message.contains("****"), "{message}");
}

/// RFC 4217 §4 / the STARTTLS command-injection class: bytes a server (or
/// a man in the middle) sends after its `234` and before the handshake
/// would be read as if they came through TLS. The check refuses them.
#[tokio::test]
async fn plaintext_after_the_reply_to_auth_tls_is_refused() {
    let server = FaultServer::start(
        Script::new().on("AUTH", Reaction::Reply("234 Go ahead\r\n230 injected login".into())),
    )
    .await;
    let mut plan = plan(&server, Mode::Passive);
    plan.tls.mode = ftp_exporter::check::TlsMode::Explicit;
    plan.tls.insecure_skip_verify = true;
    let outcome = check(&plan).await;
    assert_failure(&outcome, Phase::Tls, Reason::TlsHandshakeFailed, "");
    let f = outcome.failure.as_ref().unwrap();
    assert!(f.message.contains("after its reply to AUTH"), "{}", f.message);
    assert!(!server.received("USER"), "nothing was sent after the injected bytes: {:?}", server.commands());
}
