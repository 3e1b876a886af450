//! From one target's latest outcomes (one per mode), the likely cause in
//! words an infrastructure engineer acts on (docs/diagnosis.md).
//!
//! The point of checking both modes is that their difference localises the
//! fault: active mode needs the server to reach the exporter, passive mode
//! needs the exporter to reach the server's passive port range.

use serde::Serialize;

use super::labels::{Mode, Phase, Reason};
use super::outcome::{Failure, Outcome};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnosis {
    /// One or two sentences: the cause and what to do.
    pub summary: String,
}

/// `None` when every mode is up and nothing looks wrong.
pub fn diagnose(outcomes: &[&Outcome]) -> Option<Diagnosis> {
    let passive = outcomes.iter().find(|o| o.mode == Mode::Passive).copied();
    let active = outcomes.iter().find(|o| o.mode == Mode::Active).copied();
    let pf = passive.and_then(|o| o.failure.as_ref());
    let af = active.and_then(|o| o.failure.as_ref());
    let mut parts = Vec::new();

    let both = |f: &dyn Fn(&Failure) -> bool| pf.is_some_and(f) && af.is_some_and(f);
    if let (Some(p), Some(a)) = (pf, af) {
        // The same failure while opening a data connection can have a
        // different cause per direction; anywhere else it is one cause.
        if p.phase == a.phase && p.reason == a.reason && !opens_data(p.phase)
            || both(&|f| f.phase == Phase::Login)
        {
            parts.push(format!("Both modes fail at {}/{}: {}.", p.phase, p.reason, hint(p)));
        }
    }
    if parts.is_empty() {
        if let Some(a) = af {
            let encrypted = active.is_some_and(|o| o.tls.is_some());
            parts.push(active_sentence(a, passive.map(Outcome::success), encrypted));
        }
        if let Some(p) = pf {
            parts.push(passive_sentence(p, active.map(Outcome::success)));
        }
    }
    if let Some(o) = passive.filter(|o| o.passive_address_mismatch == Some(true)) {
        let adv =
            o.passive_advertised.map(|a| a.ip().to_string()).unwrap_or_else(|| "another address".into());
        parts.push(format!(
            "The server advertises {adv} in its 227 reply, not the address the exporter reached it at \
             (NAT in front of the server without a masquerade address): set its public address \
             (pasv_address in vsftpd, MasqueradeAddress in ProFTPD, -P in Pure-FTPd); clients that \
             trust the 227 address cannot open passive data connections."
        ));
    }
    if parts.is_empty() {
        None
    } else {
        Some(Diagnosis { summary: parts.join(" ") })
    }
}

fn opens_data(phase: Phase) -> bool {
    matches!(phase, Phase::DataSetup | Phase::DataConnect)
}

/// `encrypted`: the session used FTPS, so no middlebox can read or rewrite PORT.
fn active_sentence(f: &Failure, passive_up: Option<bool>, encrypted: bool) -> String {
    let other = if passive_up == Some(true) { " while passive mode works" } else { "" };
    match (f.phase, f.reason) {
        (Phase::DataConnect, Reason::Timeout) => format!(
            "Active mode fails at data_connect/timeout{other}: the server cannot open connections back to \
             the exporter (an inbound firewall or NAT on the exporter's side drops them, the seed's \
             \"login works but ls hangs\"); use passive mode or allow the data connection in \
             (active.advertise_address, active.port_range and a port forward)."
        ),
        (Phase::DataConnect, Reason::Rejected) => format!(
            "Active mode fails: the server answered {} instead of connecting back{other}; the path from \
             the server to the exporter's active port is blocked, or the server refuses outbound data \
             connections.",
            f.code
        ),
        (Phase::DataSetup, Reason::Rejected) => {
            let alg = if encrypted {
                "an FTP ALG cannot help here: FTPS encrypts PORT, so the NAT device cannot rewrite it"
            } else {
                "or enable an FTP ALG on the NAT device"
            };
            format!(
                "Active mode fails: the server refused the exporter's PORT/EPRT ({}){other}; typically the \
                 exporter is behind NAT and advertises its private address, which the server rejects; set \
                 active.advertise_address to the public address with active.port_range forwarded to the \
                 exporter, or use passive mode; {alg}.",
                f.code
            )
        }
        (Phase::DataConnect, Reason::UnexpectedPeer) => format!(
            "Active mode fails: a data connection came from an address other than the server's{other} \
             (server-side NAT or proxy sending from another address, or someone racing the server); \
             it was refused."
        ),
        _ => format!("Active mode fails at {}/{}{other}: {}.", f.phase, f.reason, hint(f)),
    }
}

fn passive_sentence(f: &Failure, active_up: Option<bool>) -> String {
    let other = if active_up == Some(true) { " while active mode works" } else { "" };
    match (f.phase, f.reason) {
        (Phase::DataConnect, Reason::Timeout | Reason::ConnectionRefused | Reason::NetworkUnreachable) => {
            format!(
                "Passive mode fails at data_connect/{}{other}: the server's passive port range is not \
             reachable from the exporter (firewall/ACL on the server's side, or the DNAT of the range is \
             missing); open the passive ports (vsftpd pasv_min_port to pasv_max_port, ProFTPD PassivePorts) or use active mode.",
                f.reason
            )
        }
        (Phase::DataSetup, Reason::ProtocolError) => {
            format!("Passive mode fails: the server's reply to PASV/EPSV is malformed ({}){other}.", f.code)
        }
        _ => format!("Passive mode fails at {}/{}{other}: {}.", f.phase, f.reason, hint(f)),
    }
}

/// What a failure usually means, independent of mode.
fn hint(f: &Failure) -> String {
    let s = match (f.phase, f.reason) {
        (_, Reason::DnsError) => "the host name does not resolve; check the address and DNS",
        (Phase::Connect, Reason::Timeout) => {
            "the control port does not answer (a firewall drops the packets, or the host is down)"
        }
        (Phase::Connect, Reason::ConnectionRefused) => {
            "nothing listens on the control port, or a firewall rejects the connection"
        }
        (_, Reason::NetworkUnreachable) => "there is no route to the server",
        (Phase::Banner, Reason::Timeout) => "the server accepts connections but sends no greeting (overloaded or hung)",
        (_, Reason::AuthFailed) => "the server refuses the credentials; check username and password",
        (_, Reason::ServiceUnavailable) => "the server refuses service (421: too many connections or shutting down)",
        (_, Reason::TlsCertificateInvalid) => {
            "the server's certificate does not verify (expired, wrong name or unknown CA); renew it or set tls_ca_file"
        }
        (_, Reason::TlsHandshakeFailed) => "TLS cannot be negotiated (FTPS not enabled, or incompatible settings)",
        (_, Reason::FileUnavailable) => "the path is missing or not permitted for this user",
        (_, Reason::ContentMismatch) => "the data moved differs from what was expected",
        (_, Reason::ProtocolError) => "the server does not speak FTP as expected (wrong port or a broken server)",
        (_, Reason::ConnectionClosed) => "the server closed the connection (a crash, a limit, or a middlebox)",
        (_, Reason::Timeout) => "the server stopped answering in time",
        (_, Reason::Rejected) => "the server refused a command; see the code and the transcript",
        (_, Reason::UnexpectedPeer) => "a data connection came from an unexpected address",
        // EMFILE / ENFILE: the descriptor table is full, whatever the server does.
        (_, Reason::IoError) if f.message.contains("(os error 24)") || f.message.contains("(os error 23)") => {
            "the exporter has run out of file descriptors; raise its limit (ulimit -n, LimitNOFILE) or lower \
             --checks.max-concurrency"
        }
        (_, Reason::IoError) => "a local failure on the exporter's side (e.g. no free port in active.port_range)",
        (_, Reason::ConnectionRefused) => "a connection was refused",
    };
    s.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn outcome(mode: Mode, failure: Option<(Phase, Reason, &str)>) -> Outcome {
        let failure = failure.map(|(p, r, c)| Failure::new(p, r, c, "x"));
        Outcome::for_test(mode, Duration::from_millis(10), failure)
    }

    fn summary(p: &Outcome, a: &Outcome) -> String {
        let s = diagnose(&[p, a]).expect("a diagnosis").summary;
        assert!(s.ends_with('.') && !s.contains(".."), "sentences end once: {s}");
        s
    }

    #[test]
    fn out_of_file_descriptors_says_so() {
        let mut p = outcome(Mode::Passive, Some((Phase::Connect, Reason::IoError, "")));
        p.failure.as_mut().unwrap().message = "Too many open files (os error 24)".into();
        let s = diagnose(&[&p]).unwrap().summary;
        assert!(s.contains("run out of file descriptors"), "{s}");
        let other = outcome(Mode::Passive, Some((Phase::Connect, Reason::IoError, "")));
        assert!(!diagnose(&[&other]).unwrap().summary.contains("file descriptors"));
    }

    #[test]
    fn healthy_needs_no_diagnosis() {
        assert_eq!(diagnose(&[&outcome(Mode::Passive, None), &outcome(Mode::Active, None)]), None);
    }

    #[test]
    fn active_only_data_connect_timeout_is_the_exporters_inbound_path() {
        let s = summary(
            &outcome(Mode::Passive, None),
            &outcome(Mode::Active, Some((Phase::DataConnect, Reason::Timeout, ""))),
        );
        assert!(s.contains("cannot open connections back to the exporter"), "{s}");
        assert!(s.contains("while passive mode works") && s.contains("use passive mode"), "{s}");
    }

    #[test]
    fn passive_only_data_connect_is_the_servers_port_range() {
        let s = summary(
            &outcome(Mode::Passive, Some((Phase::DataConnect, Reason::Timeout, ""))),
            &outcome(Mode::Active, None),
        );
        assert!(s.contains("passive port range") && s.contains("server's side"), "{s}");
    }

    #[test]
    fn port_refused_names_nat_on_the_exporters_side() {
        let s = summary(
            &outcome(Mode::Passive, None),
            &outcome(Mode::Active, Some((Phase::DataSetup, Reason::Rejected, "500"))),
        );
        assert!(s.contains("behind NAT") && s.contains("advertise_address"), "{s}");
    }

    #[test]
    fn an_alg_is_suggested_only_when_it_can_read_port() {
        let refused = Some((Phase::DataSetup, Reason::Rejected, "500"));
        let plain = summary(&outcome(Mode::Passive, None), &outcome(Mode::Active, refused));
        assert!(plain.contains("or enable an FTP ALG"), "{plain}");
        let mut tls = outcome(Mode::Active, refused);
        tls.tls = Some(crate::check::TlsInfo::default());
        let s = summary(&outcome(Mode::Passive, None), &tls);
        assert!(
            s.contains("an FTP ALG cannot help here: FTPS encrypts PORT") && !s.contains("or enable"),
            "{s}"
        );
    }

    #[test]
    fn mismatch_names_each_servers_setting() {
        let mut p = outcome(Mode::Passive, None);
        p.passive_address_mismatch = Some(true);
        p.passive_advertised = Some("172.31.0.10:30000".parse().unwrap());
        let s = summary(&p, &outcome(Mode::Active, None));
        for needle in ["172.31.0.10", "pasv_address", "MasqueradeAddress", "-P in Pure-FTPd"] {
            assert!(s.contains(needle), "{needle}: {s}");
        }
    }

    #[test]
    fn same_failure_in_both_modes_is_one_cause() {
        let login = Some((Phase::Login, Reason::AuthFailed, "530"));
        let s = summary(&outcome(Mode::Passive, login), &outcome(Mode::Active, login));
        assert!(s.starts_with("Both modes fail at login/auth_failed") && s.contains("credentials"), "{s}");
        let missing = Some((Phase::Transfer, Reason::FileUnavailable, "550"));
        let s = summary(&outcome(Mode::Passive, missing), &outcome(Mode::Active, missing));
        assert!(s.starts_with("Both modes fail at transfer/file_unavailable"), "{s}");
        let filtered = Some((Phase::Connect, Reason::Timeout, ""));
        let s = summary(&outcome(Mode::Passive, filtered), &outcome(Mode::Active, filtered));
        assert!(s.contains("control port does not answer"), "{s}");
    }

    #[test]
    fn one_mode_target() {
        let s = diagnose(&[&outcome(Mode::Active, Some((Phase::Banner, Reason::ServiceUnavailable, "421")))])
            .unwrap()
            .summary;
        assert!(s.starts_with("Active mode fails at banner/service_unavailable") && s.contains("421"), "{s}");
    }
}
