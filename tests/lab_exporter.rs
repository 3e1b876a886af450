//! The lab's scenarios through ftp_exporter's check runner, run
//! from inside the client namespace: each trouble must come out as the
//! `(mode, phase, reason, code)`, mismatch flag and diagnosis docs/failures.md, docs/diagnosis.md
//! promise for it.

#[path = "lab/mod.rs"]
mod lab;

use std::net::IpAddr;

use ftp_exporter::check::{TlsMode, Toggle};
use lab::exporter::{explain, failure, run_both};
use lab::{Lab, Scenario};

/// Scenario 1: 227 advertises 172.31.0.10. By default the exporter connects
/// to the control peer: passive up, mismatch flagged, diagnosis names the
/// server-side settings.
#[test]
fn server_nat_is_flagged_as_passive_address_mismatch() {
    let lab = Lab::build(&Scenario::nat());
    // Default options: `epsv: auto` sends PASV on IPv4, so the 227 address is seen.
    let r = run_both(&lab.client, |_| {});
    assert!(r.passive.success(), "{r:?}");
    assert_eq!(r.passive.passive_address_mismatch, Some(true), "{r:?}");
    assert_eq!(r.passive.passive_advertised.map(|a| a.ip()), Some(IpAddr::V4(lab::SERVER)), "{r:?}");
    for words in ["172.31.0.10", "227", "pasv_address", "MasqueradeAddress", "-P in Pure-FTPd"] {
        assert!(r.summary().contains(words), "diagnosis should mention {words:?}: {r:?}");
    }
}

/// Scenario 1 with `trust_advertised_address: true`: the exporter follows
/// the private address and the router answers that it has no route.
#[test]
fn server_nat_trusting_227_fails_at_data_connect() {
    let lab = Lab::build(&Scenario::nat());
    let r = run_both(&lab.client, |p| p.passive.trust_advertised_address = true);
    assert_eq!(failure(&r.passive), Some(("data_connect", "network_unreachable", String::new())), "{r:?}");
    assert_eq!(r.passive.passive_address_mismatch, Some(true), "{r:?}");
    assert!(r.summary().contains("pasv_address"), "{r:?}");
}

/// Scenario 1's fix: with vsftpd's `pasv_address` there is no mismatch, and
/// even a client that trusts 227 gets through.
#[test]
fn server_nat_fixed_by_pasv_address_has_no_mismatch() {
    let lab = Lab::build(&Scenario::server_masquerade_address());
    let r = run_both(&lab.client, |p| p.passive.trust_advertised_address = true);
    assert!(r.passive.success(), "{r:?}");
    assert_eq!(r.passive.passive_address_mismatch, Some(false), "{r:?}");
    // And the same with EPSV only (`epsv: always`): no 227, nothing to compare.
    let r = run_both(&lab.client, |p| p.passive.epsv = Toggle::Always);
    assert!(r.passive.success(), "{r:?}");
    assert_eq!(r.passive.passive_address_mismatch, None, "{r:?}");
}

/// Scenario 2: the exporter is behind NAT; PORT carries 192.168.10.2 and
/// vsftpd answers `500 Illegal PORT command.`.
#[test]
fn client_nat_active_is_rejected_at_data_setup() {
    let lab = Lab::build(&Scenario::nat());
    let r = run_both(&lab.client, |_| {});
    assert!(r.passive.success(), "{r:?}");
    assert_eq!(failure(&r.active), Some(("data_setup", "rejected", "500".to_string())), "{r:?}");
    assert!(r.active.transcript.to_string().contains("PORT 192,168,10,2,"), "{}", explain(&r.active));
    for words in ["PORT", "NAT", "advertise_address", "ALG", "passive mode"] {
        assert!(r.summary().contains(words), "diagnosis should mention {words:?}: {r:?}");
    }
}

/// Scenario 2's fix: advertise the router's public address, listen on the
/// forwarded range: active mode works through NAT.
#[test]
fn client_nat_fixed_by_advertise_address_and_port_forward() {
    let lab = Lab::build(&Scenario::active_port_forward());
    let r = run_both(&lab.client, |p| {
        p.active.advertise_address = Some(IpAddr::V4(lab::ROUTER_PUBLIC));
        p.active.port_range = Some(lab::ACTIVE_PORTS);
    });
    assert!(r.active.success(), "{r:?}\n{}", lab.server_log());
    assert!(r.active.transcript.to_string().contains("PORT 198,51,100,1,195,"), "{}", explain(&r.active));
    assert!(r.passive.success(), "{r:?}");
}

/// Scenario 2 against a server that does not check PORT: it tries the
/// private address and answers 425 instead of connecting back.
#[test]
fn client_nat_against_promiscuous_server_is_data_connect_rejected_425() {
    let lab = Lab::build(&Scenario::server_accepts_foreign_port());
    let r = run_both(&lab.client, |_| {});
    assert!(r.passive.success(), "{r:?}");
    assert_eq!(failure(&r.active), Some(("data_connect", "rejected", "425".to_string())), "{r:?}");
    assert!(r.summary().contains("answered 425 instead of connecting back"), "{r:?}");
}

/// Scenario 3 with explicit FTPS: the ALG cannot read the encrypted PORT,
/// so active mode is refused exactly as without an ALG; passive works.
#[test]
fn router_alg_does_not_help_ftps_active() {
    let lab = Lab::build(&Scenario::ftps_through_alg());
    let ca = lab.server_certificate().expect("FTPS scenario has a certificate");
    let r = run_both(&lab.client, move |p| {
        p.tls.mode = TlsMode::Explicit;
        p.tls.ca_file = Some(ca.clone());
    });
    assert!(r.passive.success(), "{r:?}");
    assert!(r.passive.tls.is_some(), "the session was encrypted: {r:?}");
    assert_eq!(failure(&r.active), Some(("data_setup", "rejected", "500".to_string())), "{r:?}");
    assert!(r.active.transcript.to_string().contains("PORT 192,168,10,2,"), "{}", explain(&r.active));
}

/// Scenario 3: an FTP ALG on the router: active mode works through NAT
/// with nothing configured on the exporter. The only thing left to
/// diagnose is the server side's missing masquerade address; with
/// `pasv_address` set too there is nothing at all.
#[test]
fn router_alg_lets_active_through_nat() {
    let lab = Lab::build(&Scenario::router_alg());
    let r = run_both(&lab.client, |_| {});
    assert!(r.active.success(), "{r:?}\n{}", lab.server_log());
    assert!(r.passive.success(), "{r:?}");
    assert!(r.summary().starts_with("The server advertises 172.31.0.10 in its 227 reply"), "{r:?}");
    assert!(!r.summary().contains("mode fails"), "{r:?}");
    drop(lab);

    let lab = Lab::build(&Scenario { pasv_address: Some(lab::SERVER_PUBLIC), ..Scenario::router_alg() });
    let r = run_both(&lab.client, |_| {});
    assert!(r.active.success() && r.passive.success(), "{r:?}");
    assert_eq!(r.passive.passive_address_mismatch, Some(false), "{r:?}");
    assert!(r.diagnosis.is_none(), "nothing to diagnose: {r:?}");
}

/// Scenario 4: the client's firewall drops the server's connection back:
/// login works, active times out at data_connect, passive is up.
#[test]
fn client_firewall_is_active_data_connect_timeout() {
    let lab = Lab::build(&Scenario::client_firewall());
    let r = run_both(&lab.client, |_| {});
    assert!(r.passive.success(), "{r:?}");
    assert_eq!(failure(&r.active), Some(("data_connect", "timeout", String::new())), "{r:?}");
    assert!(r.active.phase(ftp_exporter::check::Phase::Login).is_some(), "login ran: {r:?}");
    for words in ["cannot open connections back", "firewall", "passive mode"] {
        assert!(r.summary().contains(words), "diagnosis should mention {words:?}: {r:?}");
    }
}

/// Scenario 5: an ACL in front of the server drops the passive range:
/// passive times out at data_connect, active is up.
#[test]
fn server_acl_is_passive_data_connect_timeout() {
    let lab = Lab::build(&Scenario::server_acl());
    let r = run_both(&lab.client, |_| {});
    assert!(r.active.success(), "{r:?}");
    assert_eq!(failure(&r.passive), Some(("data_connect", "timeout", String::new())), "{r:?}");
    for words in ["passive port range", "while active mode works"] {
        assert!(r.summary().contains(words), "diagnosis should mention {words:?}: {r:?}");
    }
}

/// Scenario 6: a filtered control port times out at connect, a rejected
/// one is refused at connect, in both modes, with no reply code.
#[test]
fn control_port_filtered_versus_rejected() {
    let lab = Lab::build(&Scenario::control_filtered());
    let r = run_both(&lab.client, |_| {});
    for o in [&r.passive, &r.active] {
        assert_eq!(failure(o), Some(("connect", "timeout", String::new())), "{r:?}");
    }
    assert!(r.summary().contains("does not answer"), "{r:?}");
    drop(lab);

    let lab = Lab::build(&Scenario::control_rejected());
    let r = run_both(&lab.client, |_| {});
    for o in [&r.passive, &r.active] {
        assert_eq!(failure(o), Some(("connect", "connection_refused", String::new())), "{r:?}");
    }
    assert!(r.summary().contains("nothing listens"), "{r:?}");
}
