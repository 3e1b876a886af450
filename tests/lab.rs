//! The network-namespace lab: each FTP trouble of the seed note,
//! reproduced with namespaces, veths, nftables and a real vsftpd, and shown
//! to behave as claimed.
//!
//! Needs root; builds its own namespaces (`fxlab-<pid>-*`) and never touches
//! the host's network. Labs are built one at a time (see `lab::Lab`).

#[path = "lab/mod.rs"]
mod lab;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use lab::{DataMode, Lab, Netns, Scenario};

/// Scenario 1: the server sits behind NAT and vsftpd has no `pasv_address`,
/// so 227 advertises 172.31.0.10. A client that connects to the control
/// peer is fine; one that trusts the 227 address goes nowhere.
#[test]
fn server_nat_passive_advertises_private_address() {
    let lab = Lab::build(&Scenario::nat());

    let peer = lab.curl(DataMode::PassiveToControlPeer);
    assert!(peer.listed(lab::vsftpd::HELLO_NAME), "passive to the control peer: {peer:#?}");
    assert!(
        peer.replies().iter().any(|r| r.starts_with("227") && r.contains("(172,31,0,10,")),
        "227 should advertise the private address: {peer:#?}"
    );

    let trusted = lab.curl(DataMode::PassiveToAdvertised);
    assert_eq!(trusted.code, 7, "trusting 227 should fail to connect: {trusted:#?}");
    assert!(
        trusted.stderr.contains("connect to 172.31.0.10 port 4")
            && trusted.stderr.contains("Network is unreachable"),
        "the router has no route to the private address: {trusted:#?}"
    );
}

/// Scenario 1's fix: vsftpd `pasv_address` set to the public address.
#[test]
fn server_nat_fixed_by_pasv_address() {
    let lab = Lab::build(&Scenario::server_masquerade_address());
    let trusted = lab.curl(DataMode::PassiveToAdvertised);
    assert!(trusted.listed(lab::vsftpd::HELLO_NAME), "{trusted:#?}");
    assert!(
        trusted.replies().iter().any(|r| r.starts_with("227") && r.contains("(198,51,100,2,")),
        "227 should advertise the public address: {trusted:#?}"
    );
}

/// Scenario 2: the exporter is behind NAT; PORT carries its private address,
/// which is not the control connection's peer as vsftpd sees it, and vsftpd
/// refuses it (`port_promiscuous=NO`, its default).
#[test]
fn client_nat_active_port_is_refused() {
    let lab = Lab::build(&Scenario::nat());
    let active = lab.curl(DataMode::Active);
    assert_eq!(active.code, 30, "curl reports PORT failed: {active:#?}");
    assert!(active.stderr.contains("> PORT 192,168,10,2,"), "{active:#?}");
    assert!(active.replies().contains(&"500 Illegal PORT command."), "{active:#?}");
}

/// Scenario 2's fix on the network side: the router forwards the exporter's
/// active port range, so a connection from the server to the masquerade
/// address reaches the client. (curl cannot advertise an address it does not
/// own; the exporter's `advertise_address` does, see the probe tests.)
#[test]
fn client_nat_active_port_forward_reaches_client() {
    let lab = Lab::build(&Scenario::active_port_forward());
    let port = *lab::ACTIVE_PORTS.start();
    let listener = lab.client.run_inside(move || TcpListener::bind((lab::CLIENT, port)).unwrap());
    // The listener stays in the client's namespace; only the connecting
    // thread enters the server's.
    lab.server.run_inside(move || {
        let mut s =
            TcpStream::connect_timeout(&SocketAddr::from((lab::ROUTER_PUBLIC, port)), Duration::from_secs(2))
                .expect("server → router public address, forwarded port");
        s.write_all(b"data").unwrap();
    });
    let (mut conn, peer) = listener.accept().unwrap();
    let mut buf = [0u8; 4];
    conn.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"data");
    assert_eq!(peer.ip(), lab::SERVER_PUBLIC, "server-gw masquerades the server's outbound connection");

    // Without the forward the same connection dies at the router.
    drop(lab);
    let lab = Lab::build(&Scenario::nat());
    let refused = lab.server.run_inside(move || {
        TcpStream::connect_timeout(&SocketAddr::from((lab::ROUTER_PUBLIC, port)), Duration::from_secs(2))
    });
    assert_eq!(
        refused.map(|_| ()).unwrap_err().kind(),
        std::io::ErrorKind::ConnectionRefused,
        "without the forward the port is the router's own, where nothing listens"
    );
}

/// Scenario 3: an FTP ALG on the router rewrites PORT to the masquerade
/// address and lets the server's connection back in: active mode works
/// through NAT with nothing configured on the client.
#[test]
fn router_alg_makes_active_work_through_nat() {
    let lab = Lab::build(&Scenario::router_alg());
    let active = lab.curl(DataMode::Active);
    assert!(active.listed(lab::vsftpd::HELLO_NAME), "{active:#?}\n{}", lab.server_log());
    assert!(active.stderr.contains("> PORT 192,168,10,2,"), "the client sends its private address");
    assert!(
        lab.server_log().contains("PORT 198,51,100,1,"),
        "the server receives the rewritten address:\n{}",
        lab.server_log()
    );
    drop(lab);

    // The classic setup: vsftpd connects back from port 20. The ALG's
    // expectation does not pin the source port, so this works the same.
    let lab = Lab::build(&Scenario { connect_from_port_20: true, ..Scenario::router_alg() });
    let active = lab.curl(DataMode::Active);
    assert!(active.listed(lab::vsftpd::HELLO_NAME), "{active:#?}\n{}", lab.server_log());
}

/// Scenario 2 against a server that does not check PORT (vsftpd
/// `port_promiscuous=YES`): it accepts the private address, finds no route
/// to it, and answers 425 to the transfer command.
#[test]
fn client_nat_active_against_promiscuous_server_is_425() {
    let lab = Lab::build(&Scenario::server_accepts_foreign_port());
    let active = lab.curl(DataMode::Active);
    assert_ne!(active.code, 0, "{active:#?}");
    assert!(active.replies().iter().any(|r| r.starts_with("200 PORT")), "PORT accepted: {active:#?}");
    assert!(active.replies().contains(&"425 Failed to establish connection."), "{active:#?}");
}

/// Scenario 3 with explicit FTPS: after AUTH TLS the ALG sees ciphertext, so
/// the private PORT address reaches vsftpd unrewritten; passive still works.
#[test]
fn router_alg_cannot_rewrite_encrypted_port() {
    let lab = Lab::build(&Scenario::ftps_through_alg());
    let tls = ["--ssl-reqd", "-k"];
    let active = lab.curl_with(DataMode::Active, &tls);
    assert!(active.replies().contains(&"234 Proceed with negotiation."), "TLS was used: {active:#?}");
    assert!(active.replies().contains(&"500 Illegal PORT command."), "{active:#?}");
    let passive = lab.curl_with(DataMode::PassiveToControlPeer, &tls);
    assert!(passive.listed(lab::vsftpd::HELLO_NAME), "{passive:#?}");
}

/// Scenario 4: the client's firewall drops inbound new connections: login
/// works, active mode hangs until the timeout, passive mode works.
#[test]
fn client_firewall_breaks_active_only() {
    let lab = Lab::build(&Scenario::client_firewall());
    let active = lab.curl(DataMode::Active);
    assert_eq!(active.code, 28, "active should time out waiting for the server: {active:#?}");
    assert!(active.replies().iter().any(|r| r.starts_with("230")), "login works: {active:#?}");
    assert!(active.replies().iter().any(|r| r.starts_with("200 PORT")), "PORT accepted: {active:#?}");
    let passive = lab.curl(DataMode::PassiveToControlPeer);
    assert!(passive.listed(lab::vsftpd::HELLO_NAME), "{passive:#?}");
}

/// Scenario 5: an ACL in front of the server drops the passive port range:
/// passive mode times out at the data connection, active mode works.
#[test]
fn server_acl_breaks_passive_only() {
    let lab = Lab::build(&Scenario::server_acl());
    let passive = lab.curl(DataMode::PassiveToControlPeer);
    assert_eq!(passive.code, 28, "passive data connect should time out: {passive:#?}");
    assert!(passive.replies().iter().any(|r| r.starts_with("227")), "PASV answered: {passive:#?}");
    let active = lab.curl(DataMode::Active);
    assert!(active.listed(lab::vsftpd::HELLO_NAME), "{active:#?}");
}

/// Scenario 6: a filtered control port times out, a rejected one is refused.
#[test]
fn control_port_filtered_versus_rejected() {
    let lab = Lab::build(&Scenario::control_filtered());
    let filtered = lab.curl(DataMode::PassiveToControlPeer);
    assert_eq!(filtered.code, 28, "{filtered:#?}");
    assert!(filtered.replies().is_empty(), "no banner: {filtered:#?}");
    assert!(filtered.elapsed >= Duration::from_millis(1900), "waited for the connect timeout");
    drop(lab);

    let lab = Lab::build(&Scenario::control_rejected());
    let rejected = lab.curl(DataMode::PassiveToControlPeer);
    assert_eq!(rejected.code, 7, "{rejected:#?}");
    assert!(rejected.stderr.contains("Connection refused"), "{rejected:#?}");
    // Well under the 2 s connect timeout even on a loaded machine.
    assert!(rejected.elapsed < Duration::from_millis(1800), "a reset is immediate: {rejected:#?}");
}

/// The harness itself: what a dead run left (namespaces, vsftpd directory)
/// is removed, and a dropped lab leaves nothing behind.
#[test]
fn lab_cleans_stale_namespaces_and_tears_down() {
    let stale = Netns { name: format!("{}4000000000-0-client", lab::netns::PREFIX) };
    // Only `ip netns add` (atomic): another test's Lab::build may remove
    // this "stale" namespace at any moment, which is the point.
    let added = std::process::Command::new("ip").args(["netns", "add", &stale.name]).status().unwrap();
    assert!(added.success());
    let stale_dir = std::env::temp_dir().join("fxlab-vsftpd-4000000000-x");
    std::fs::create_dir_all(&stale_dir).unwrap();
    let lab = Lab::build(&Scenario::nat());
    assert!(!stale_dir.exists(), "a dead run's vsftpd directory is removed");
    let names: Vec<String> =
        [&lab.client, &lab.router, &lab.server_gw, &lab.server].iter().map(|n| n.name.clone()).collect();
    assert!(!netns_list().contains(&stale.name), "stale namespace removed");
    for n in &names {
        assert!(netns_list().contains(n), "{n} exists while the lab lives");
    }
    let pid = lab.vsftpd_pid().expect("vsftpd runs");
    assert!(lab.curl(DataMode::PassiveToControlPeer).listed(lab::vsftpd::HELLO_NAME));
    drop(lab);
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists(), "vsftpd {pid} killed and reaped");
    let after = netns_list();
    for n in &names {
        assert!(!after.contains(n), "{n} deleted on drop");
    }
}

fn netns_list() -> String {
    let out = std::process::Command::new("ip").args(["netns", "list"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}
