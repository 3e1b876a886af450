//! The lab's scenarios through the exporter service: the real
//! binary with a configuration file, run inside the client namespace, and
//! its `/metrics` scraped there. Each trouble must show up as the
//! `ftp_up`, `ftp_check_failure{phase,reason,code}` and
//! `ftp_passive_address_mismatch` series docs/metrics.md promises for it.

#[path = "lab/mod.rs"]
mod lab;

use std::time::Duration;

use lab::service::Service;
use lab::{Lab, Scenario};

/// First checks are spread over one interval, then both modes run one after
/// the other: interval + 2 timeouts, with margin.
const WITHIN: Duration = Duration::from_secs(15);

fn config(targets: &str) -> String {
    format!("defaults:\n  interval: 3s\n  timeout: 2s\ntargets:\n{targets}")
}

fn f(phase: &str, reason: &str, code: &str) -> Option<(String, String, String)> {
    Some((phase.to_string(), reason.to_string(), code.to_string()))
}

/// Scenarios 1 and 2: the server advertises its private address (passive up,
/// mismatch 1; a target trusting 227 fails at data_connect), and vsftpd
/// refuses the exporter's private PORT address.
#[test]
fn nat_on_both_sides() {
    let lab = Lab::build(&Scenario::nat());
    let svc = Service::start(
        &lab.client,
        &config(
            "  - name: nat\n    address: 198.51.100.2\n\
             \x20 - name: nat-trusting\n    address: 198.51.100.2\n    modes: [passive]\n\
             \x20   passive: { trust_advertised_address: true }\n",
        ),
    );
    let s = svc
        .scrape_when_checked(&[("nat", "passive"), ("nat", "active"), ("nat-trusting", "passive")], WITHIN);
    assert_eq!(s.value("ftp_up", &[("target", "nat"), ("mode", "passive")]), Some(1.0), "{}", s.text);
    assert_eq!(s.value("ftp_passive_address_mismatch", &[("target", "nat")]), Some(1.0), "{}", s.text);
    assert_eq!(s.value("ftp_up", &[("target", "nat"), ("mode", "active")]), Some(0.0), "{}", s.text);
    assert_eq!(s.failure("nat", "active"), f("data_setup", "rejected", "500"), "{}", s.text);
    assert_eq!(s.failure("nat", "passive"), None, "{}", s.text);
    assert_eq!(
        s.failure("nat-trusting", "passive"),
        f("data_connect", "network_unreachable", ""),
        "{}",
        s.text
    );
}

/// Scenario 2's fix, configured as an operator would: advertise_address and
/// port_range, with the router forwarding that range.
#[test]
fn client_nat_fixed_by_advertise_address() {
    let lab = Lab::build(&Scenario::active_port_forward());
    let svc = Service::start(
        &lab.client,
        &config(
            "  - name: forwarded\n    address: 198.51.100.2\n    modes: [active]\n\
             \x20   active: { advertise_address: 198.51.100.1, port_range: 50000-50009 }\n",
        ),
    );
    let s = svc.scrape_when_checked(&[("forwarded", "active")], WITHIN);
    assert_eq!(s.value("ftp_up", &[("target", "forwarded"), ("mode", "active")]), Some(1.0), "{}", s.text);
    assert_eq!(s.failure("forwarded", "active"), None, "{}", s.text);
}

/// Scenario 4: the client's firewall. The diagnosis is also served by
/// `/probe?debug=true`.
#[test]
fn client_firewall() {
    let lab = Lab::build(&Scenario::client_firewall());
    let svc = Service::start(&lab.client, &config("  - name: fw\n    address: 198.51.100.2\n"));
    let s = svc.scrape_when_checked(&[("fw", "passive"), ("fw", "active")], WITHIN);
    assert_eq!(s.value("ftp_up", &[("target", "fw"), ("mode", "passive")]), Some(1.0), "{}", s.text);
    assert_eq!(s.failure("fw", "active"), f("data_connect", "timeout", ""), "{}", s.text);
    let (code, body) = svc.get("/probe?target=fw&debug=true").expect("probe endpoint answers");
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("cannot open connections back to the exporter"), "{body}");

    // docs/diagnosis.md: the diagnosis is also on the status page and in the log line
    // of the state change.
    let (_, page) = svc.get("/").expect("status page");
    assert!(page.contains("cannot open connections back to the exporter"), "{page}");
    let logged = (0..40).any(|_| {
        let log = svc.stderr();
        let hit = log.lines().any(|l| {
            l.contains("target=fw")
                && l.contains("mode=active")
                && l.contains("phase=data_connect reason=timeout")
                && l.contains("cannot open connections back")
        });
        if !hit {
            std::thread::sleep(Duration::from_millis(50));
        }
        hit
    });
    assert!(logged, "no state-change log line with the diagnosis:\n{}", svc.stderr());
}

/// Scenario 5: the server-side ACL on the passive range.
#[test]
fn server_acl() {
    let lab = Lab::build(&Scenario::server_acl());
    let svc = Service::start(&lab.client, &config("  - name: acl\n    address: 198.51.100.2\n"));
    let s = svc.scrape_when_checked(&[("acl", "passive"), ("acl", "active")], WITHIN);
    assert_eq!(s.value("ftp_up", &[("target", "acl"), ("mode", "active")]), Some(1.0), "{}", s.text);
    assert_eq!(s.failure("acl", "passive"), f("data_connect", "timeout", ""), "{}", s.text);
}

/// Scenario 6b: a rejected control port, in both modes.
#[test]
fn control_port_rejected() {
    let lab = Lab::build(&Scenario::control_rejected());
    let svc = Service::start(&lab.client, &config("  - name: closed\n    address: 198.51.100.2\n"));
    let s = svc.scrape_when_checked(&[("closed", "passive"), ("closed", "active")], WITHIN);
    for mode in ["passive", "active"] {
        assert_eq!(s.failure("closed", mode), f("connect", "connection_refused", ""), "{}", s.text);
        assert_eq!(s.value("ftp_up", &[("target", "closed"), ("mode", mode)]), Some(0.0), "{}", s.text);
    }
}
