//! The lab's scenarios through `ftp_exporter probe`, the real
//! binary run inside the client namespace: each trouble must come out as
//! the mode/phase/reason/code, mismatch flag and diagnosis of docs/failures.md, docs/flags.md, docs/diagnosis.md.

#[path = "lab/mod.rs"]
mod lab;

use lab::probe::{probe, probe_text};
use lab::{Lab, Scenario};

fn f(phase: &str, reason: &str, code: &str) -> Option<(String, String, String)> {
    Some((phase.to_string(), reason.to_string(), code.to_string()))
}

/// Scenarios 1 and 2 share the plain NAT lab: the server advertises its
/// private address (passive up, mismatch) and vsftpd refuses the exporter's
/// private PORT address (active data_setup/rejected/500).
#[test]
fn nat_on_both_sides() {
    let lab = Lab::build(&Scenario::nat());
    let r = probe(&lab.client, &["--mode", "both"]);
    assert_eq!(r.exit, 1, "{r:#?}");
    assert!(r.success("passive"), "{r:#?}");
    assert_eq!(r.mismatch("passive"), true, "{r:#?}");
    assert_eq!(
        r.mode("passive")["passive_advertised_address"].as_str().unwrap_or("").split(':').next(),
        Some("172.31.0.10")
    );
    assert_eq!(r.failure("active"), f("data_setup", "rejected", "500"), "{r:#?}");
    for words in ["pasv_address", "MasqueradeAddress", "refused the exporter's PORT", "advertise_address"] {
        assert!(r.diagnosis().contains(words), "diagnosis should mention {words:?}: {r:#?}");
    }

    let r = probe(&lab.client, &["--mode", "passive", "--trust-advertised-address"]);
    assert_eq!(r.exit, 1, "{r:#?}");
    assert_eq!(r.failure("passive"), f("data_connect", "network_unreachable", ""), "{r:#?}");
}

/// Scenario 2's fix: advertise the router's public address and listen on
/// the range it forwards.
#[test]
fn client_nat_fixed_by_advertise_address() {
    let lab = Lab::build(&Scenario::active_port_forward());
    let r = probe(
        &lab.client,
        &[
            "--mode",
            "active",
            "--active-advertise-address",
            "198.51.100.1",
            "--active-port-range",
            "50000-50009",
        ],
    );
    assert_eq!(r.exit, 0, "{r:#?}\n{}", lab.server_log());
    assert!(r.success("active"), "{r:#?}");
}

/// Scenario 3: the router's FTP ALG makes active mode work through NAT.
#[test]
fn router_alg() {
    let lab = Lab::build(&Scenario::router_alg());
    let r = probe(&lab.client, &["--mode", "both"]);
    assert_eq!(r.exit, 0, "{r:#?}\n{}", lab.server_log());
    assert!(r.success("active") && r.success("passive"), "{r:#?}");
}

/// Scenario 3 with explicit FTPS (`--tls explicit`): the ALG cannot rewrite
/// the encrypted PORT.
#[test]
fn router_alg_with_ftps() {
    let lab = Lab::build(&Scenario::ftps_through_alg());
    let ca = lab.server_certificate().expect("FTPS scenario has a certificate");
    let ca = ca.to_str().unwrap();
    let r = probe(&lab.client, &["--mode", "both", "--tls", "explicit", "--tls-ca-file", ca]);
    assert_eq!(r.exit, 1, "{r:#?}");
    assert!(r.success("passive"), "{r:#?}");
    assert!(!r.mode("passive")["tls"].is_null(), "encrypted: {r:#?}");
    assert_eq!(r.failure("active"), f("data_setup", "rejected", "500"), "{r:#?}");
}

/// Scenario 4, in the text output an operator reads: "login works but ls
/// hangs" is active data_connect/timeout while passive is ok.
#[test]
fn client_firewall() {
    let lab = Lab::build(&Scenario::client_firewall());
    let r = probe(&lab.client, &["--mode", "both"]);
    assert_eq!(r.exit, 1, "{r:#?}");
    assert!(r.success("passive"), "{r:#?}");
    assert_eq!(r.failure("active"), f("data_connect", "timeout", ""), "{r:#?}");
    assert!(r.diagnosis().contains("cannot open connections back to the exporter"), "{r:#?}");

    let (exit, text) = probe_text(&lab.client, &["--mode", "both"]);
    assert_eq!(exit, 1, "{text}");
    let tail: Vec<&str> = text.lines().rev().take(2).collect();
    assert!(tail[1].starts_with("passive: ok "), "{text}");
    assert!(tail[0].starts_with("active: FAILED phase=data_connect reason=timeout code= after 3."), "{text}");
    assert!(
        text.contains("diagnosis: Active mode fails at data_connect/timeout while passive mode works"),
        "{text}"
    );
}

/// Scenario 5: the server-side ACL drops the passive range.
#[test]
fn server_acl() {
    let lab = Lab::build(&Scenario::server_acl());
    let r = probe(&lab.client, &["--mode", "both"]);
    assert_eq!(r.exit, 1, "{r:#?}");
    assert!(r.success("active"), "{r:#?}");
    assert_eq!(r.failure("passive"), f("data_connect", "timeout", ""), "{r:#?}");
    assert!(r.diagnosis().contains("passive port range is not reachable"), "{r:#?}");
}

/// Scenario 6: filtered (timeout) versus rejected (connection_refused) at connect.
#[test]
fn control_port_filtered_versus_rejected() {
    let lab = Lab::build(&Scenario::control_filtered());
    let r = probe(&lab.client, &["--mode", "passive"]);
    assert_eq!(r.failure("passive"), f("connect", "timeout", ""), "{r:#?}");
    drop(lab);
    let lab = Lab::build(&Scenario::control_rejected());
    let r = probe(&lab.client, &["--mode", "both"]);
    assert_eq!(r.failure("passive"), f("connect", "connection_refused", ""), "{r:#?}");
    assert_eq!(r.failure("active"), f("connect", "connection_refused", ""), "{r:#?}");
    assert!(r.diagnosis().contains("Both modes fail at connect/connection_refused"), "{r:#?}");
}
