//! The lab's addresses and the faults (and fixes) a scenario switches on.
//!
//! ```text
//!  client ──────────── router ─────────────── server-gw ───────────── server
//!  192.168.10.2   .1 | 198.51.100.1      198.51.100.2 | 172.31.0.1   172.31.0.10
//!  (the exporter)    masquerades the         DNAT of 21 and the       vsftpd
//!                    client LAN              passive range
//! ```
//! Only these namespace-internal addresses (RFC 1918 and the RFC 5737
//! documentation range) are ever targets; nothing is routed to the host.

use std::net::Ipv4Addr;
use std::ops::RangeInclusive;

/// The exporter's own address, private, behind the router's masquerade.
pub const CLIENT: Ipv4Addr = Ipv4Addr::new(192, 168, 10, 2);
pub const ROUTER_LAN: Ipv4Addr = Ipv4Addr::new(192, 168, 10, 1);
/// The address the client LAN is masqueraded to: what the server sees.
pub const ROUTER_PUBLIC: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
/// The FTP server's public address: the target the exporter is given.
pub const SERVER_PUBLIC: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);
pub const SERVER_GW_LAN: Ipv4Addr = Ipv4Addr::new(172, 31, 0, 1);
/// Where vsftpd really listens: what a 227 reply without `pasv_address` says.
pub const SERVER: Ipv4Addr = Ipv4Addr::new(172, 31, 0, 10);

/// vsftpd's `pasv_min_port`..`pasv_max_port`, DNATed by server-gw.
pub const PASSIVE_PORTS: RangeInclusive<u16> = 40000..=40009;
/// The exporter's active-mode listening ports when a scenario forwards them
/// through the router (`active.port_range` of docs/configuration.md).
pub const ACTIVE_PORTS: RangeInclusive<u16> = 50000..=50009;

/// What happens to a new connection to the control port at server-gw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlPort {
    Open,
    /// Dropped silently: the exporter's connect times out.
    Filtered,
    /// Answered with a TCP reset: connection refused.
    Rejected,
}

/// One arrangement of the lab. `Scenario::default()` is the plain NATed
/// topology: both NATs, no helper, no firewall, vsftpd without `pasv_address`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scenario {
    pub name: &'static str,
    /// vsftpd `pasv_address`: the fix for a server advertising its private address.
    pub pasv_address: Option<Ipv4Addr>,
    /// An FTP ALG on the router: nftables `ct helper` "ftp" on port 21, which
    /// rewrites PORT/EPRT to the masquerade address and lets the data connection in.
    pub router_ftp_helper: bool,
    /// The router DNATs [`ACTIVE_PORTS`] on its public side to the client: the
    /// port forward that `active.advertise_address` + `port_range` need.
    pub router_forwards_active_ports: bool,
    /// The client's own firewall drops inbound new connections (the seed's
    /// "login works but ls hangs" in active mode).
    pub client_drops_inbound: bool,
    /// server-gw drops new connections to the passive port range (an ACL that
    /// allows 21 only).
    pub server_drops_passive_ports: bool,
    pub control_port: ControlPort,
    /// vsftpd `connect_from_port_20`: active data connections leave from port 20.
    pub connect_from_port_20: bool,
    /// vsftpd `port_promiscuous=YES` (ProFTPD `AllowForeignAddress on`): the
    /// server accepts a PORT address other than the control peer's and tries
    /// to connect there.
    pub server_accepts_foreign_port: bool,
    /// Explicit FTPS required by vsftpd (AUTH TLS; certificate for
    /// 198.51.100.2, see `Lab::server_certificate`). An ALG cannot read the
    /// encrypted PORT.
    pub ftps: bool,
}

impl Default for Scenario {
    fn default() -> Self {
        Scenario {
            name: "nat",
            pasv_address: None,
            router_ftp_helper: false,
            router_forwards_active_ports: false,
            client_drops_inbound: false,
            server_drops_passive_ports: false,
            control_port: ControlPort::Open,
            connect_from_port_20: false,
            server_accepts_foreign_port: false,
            ftps: false,
        }
    }
}

impl Scenario {
    /// Issue scenario 1 and 2's fault: the server is NATed and vsftpd has no
    /// `pasv_address`; the exporter is NATed and nothing forwards active ports.
    pub fn nat() -> Scenario {
        Scenario::default()
    }

    /// Scenario 1's fix: vsftpd advertises server-gw's public address.
    pub fn server_masquerade_address() -> Scenario {
        Scenario { name: "pasv_address", pasv_address: Some(SERVER_PUBLIC), ..Scenario::default() }
    }

    /// Scenario 2's fix on the network side: a port forward for the
    /// exporter's active range (the exporter must advertise [`ROUTER_PUBLIC`]).
    pub fn active_port_forward() -> Scenario {
        Scenario { name: "active_port_forward", router_forwards_active_ports: true, ..Scenario::default() }
    }

    /// Scenario 3: an FTP ALG on the router makes active mode work through NAT.
    pub fn router_alg() -> Scenario {
        Scenario { name: "router_alg", router_ftp_helper: true, ..Scenario::default() }
    }

    /// Scenario 4: the client's firewall drops the server's connection back.
    /// The ALG is on so that active mode would work but for this firewall.
    pub fn client_firewall() -> Scenario {
        Scenario {
            name: "client_firewall",
            router_ftp_helper: true,
            client_drops_inbound: true,
            ..Scenario::default()
        }
    }

    /// Scenario 5: an ACL in front of the server drops the passive ports.
    /// The ALG is on so that active mode works.
    pub fn server_acl() -> Scenario {
        Scenario {
            name: "server_acl",
            router_ftp_helper: true,
            server_drops_passive_ports: true,
            ..Scenario::default()
        }
    }

    /// Scenario 2, a server that does not check PORT: it tries the private
    /// address, gets no route at server-gw, and answers 425.
    pub fn server_accepts_foreign_port() -> Scenario {
        Scenario { name: "port_promiscuous", server_accepts_foreign_port: true, ..Scenario::default() }
    }

    /// Scenario 3 with explicit FTPS: the ALG sees only ciphertext after
    /// AUTH TLS, so active mode fails as if there were no ALG.
    pub fn ftps_through_alg() -> Scenario {
        Scenario { name: "ftps_through_alg", ftps: true, ..Scenario::router_alg() }
    }

    /// Scenario 6a: the control port is silently dropped.
    pub fn control_filtered() -> Scenario {
        Scenario { name: "control_filtered", control_port: ControlPort::Filtered, ..Scenario::default() }
    }

    /// Scenario 6b: the control port is rejected with a reset.
    pub fn control_rejected() -> Scenario {
        Scenario { name: "control_rejected", control_port: ControlPort::Rejected, ..Scenario::default() }
    }
}

/// `a-b` for nftables.
pub fn nft_range(r: &RangeInclusive<u16>) -> String {
    format!("{}-{}", r.start(), r.end())
}
