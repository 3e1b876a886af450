//! A network-namespace lab that reproduces the FTP troubles of the seed note
//! (NAT on either side, an FTP ALG, firewalls on either side, a filtered or
//! rejected control port) with real namespaces, veth pairs, nftables and a
//! real vsftpd, so that tests can show the exporter names each one.
//!
//! [`Lab::build`] returns a guard; dropping it (also when a test panics)
//! kills vsftpd and deletes the namespaces, which deletes their veths. Labs
//! are built one at a time per process (a lock), and namespaces are named
//! after the process id so that concurrent runs on one machine never meet.
//! Needs root, iproute2, nftables, curl and the kernel's nf_conntrack_ftp.

#![allow(dead_code)] // each test binary uses a different part of the harness

pub mod curl;
pub mod exporter;
pub mod firewall;
pub mod netns;
pub mod probe;
pub mod scenario;
pub mod service;
pub mod vsftpd;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

pub use curl::{CurlRun, DataMode};
pub use netns::Netns;
pub use scenario::*;
pub use vsftpd::Vsftpd;

static LOCK: Mutex<()> = Mutex::new(());
static BUILT: AtomicU32 = AtomicU32::new(0);

/// A built lab; everything is torn down on drop.
pub struct Lab {
    pub scenario: Scenario,
    /// Where the exporter (or curl) runs: 192.168.10.2.
    pub client: Netns,
    pub router: Netns,
    pub server_gw: Netns,
    /// Where vsftpd runs: 172.31.0.10.
    pub server: Netns,
    vsftpd: Option<Vsftpd>,
    // Last field: released after Drop::drop has torn the lab down.
    _lock: MutexGuard<'static, ()>,
}

impl Lab {
    pub fn build(s: &Scenario) -> Lab {
        require_tools();
        let lock = LOCK.lock().unwrap_or_else(PoisonError::into_inner);
        netns::remove_stale();
        vsftpd::remove_stale_dirs();
        // The guard exists before anything is created, so a failure halfway
        // still tears down what was built.
        let n = BUILT.fetch_add(1, Ordering::Relaxed);
        let mut lab = Lab {
            scenario: s.clone(),
            client: Netns::for_role(n, "client"),
            router: Netns::for_role(n, "router"),
            server_gw: Netns::for_role(n, "sgw"),
            server: Netns::for_role(n, "server"),
            vsftpd: None,
            _lock: lock,
        };
        lab.wire();
        if s.router_ftp_helper {
            load_ftp_helper();
        }
        lab.router.nft(&firewall::router(s));
        lab.server_gw.nft(&firewall::server_gw(s));
        if let Some(rules) = firewall::client(s) {
            lab.client.nft(&rules);
        }
        lab.vsftpd = Some(Vsftpd::start(&lab.server, s));
        lab
    }

    fn namespaces(&self) -> [&Netns; 4] {
        [&self.client, &self.router, &self.server_gw, &self.server]
    }

    /// Namespaces, veths (created inside the namespaces, never on the
    /// host), addresses, routes and forwarding.
    fn wire(&self) {
        for ns in self.namespaces() {
            ns.create();
        }
        // One veth pair per link: `<a> in ns1` ⇄ `<b> in ns2`.
        let links = [
            (&self.client, "c0", &self.router, "r0"),
            (&self.router, "r1", &self.server_gw, "g0"),
            (&self.server_gw, "g1", &self.server, "s0"),
        ];
        for (a, ia, b, ib) in links {
            a.ip(&["link", "add", ia, "type", "veth", "peer", "name", ib, "netns", &b.name]);
        }
        let addrs = [
            (&self.client, "c0", format!("{CLIENT}/24")),
            (&self.router, "r0", format!("{ROUTER_LAN}/24")),
            (&self.router, "r1", format!("{ROUTER_PUBLIC}/24")),
            (&self.server_gw, "g0", format!("{SERVER_PUBLIC}/24")),
            (&self.server_gw, "g1", format!("{SERVER_GW_LAN}/24")),
            (&self.server, "s0", format!("{SERVER}/24")),
        ];
        for (ns, dev, addr) in &addrs {
            ns.ip(&["addr", "add", addr, "dev", dev]);
            ns.ip(&["link", "set", dev, "up"]);
        }
        // The router and server-gw know only their two networks: a packet
        // for the server's private address dies at the router (unreachable),
        // as it would on the Internet.
        self.client.ip(&["route", "add", "default", "via", &ROUTER_LAN.to_string()]);
        self.server.ip(&["route", "add", "default", "via", &SERVER_GW_LAN.to_string()]);
        self.router.sysctl("net/ipv4/ip_forward", "1");
        self.server_gw.sysctl("net/ipv4/ip_forward", "1");
    }

    /// curl in the client namespace, listing the server's login directory.
    pub fn curl(&self, mode: DataMode) -> CurlRun {
        curl::list(&self.client, mode)
    }

    /// The FTPS server's certificate (PEM) for `tls_ca_file`; `None` without FTPS.
    pub fn server_certificate(&self) -> Option<std::path::PathBuf> {
        self.vsftpd.as_ref().and_then(Vsftpd::certificate)
    }

    /// curl in the client namespace with extra arguments (e.g. `--ssl-reqd`).
    pub fn curl_with(&self, mode: DataMode, extra: &[&str]) -> CurlRun {
        curl::list_with(&self.client, mode, extra)
    }

    /// The vsftpd listener's process id.
    pub fn vsftpd_pid(&self) -> Option<u32> {
        self.vsftpd.as_ref().map(Vsftpd::pid)
    }

    /// vsftpd's protocol log so far.
    pub fn server_log(&self) -> String {
        self.vsftpd.as_ref().map(Vsftpd::log).unwrap_or_default()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        drop(self.vsftpd.take());
        for ns in self.namespaces() {
            ns.destroy();
        }
    }
}

/// Where the FTP conntrack helper is a module rather than built in, load it
/// (and its NAT half) so that `ct helper "ftp"` exists; nft fails loudly
/// otherwise. Loading a module changes no network configuration.
fn load_ftp_helper() {
    if std::path::Path::new("/sys/module/nf_conntrack_ftp").exists() {
        return;
    }
    for module in ["nf_conntrack_ftp", "nf_nat_ftp"] {
        let _ = std::process::Command::new("modprobe").arg(module).status();
    }
}

/// Fails loudly (never skips) when the machine lacks what the lab needs.
fn require_tools() {
    // SAFETY: geteuid has no preconditions.
    assert_eq!(unsafe { libc::geteuid() }, 0, "the namespace lab needs root");
    for tool in ["ip", "nft", "curl"] {
        let found = std::process::Command::new(tool)
            .arg(if tool == "ip" { "-V" } else { "--version" })
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(
            found,
            "`{tool}` is missing: run ci/install-deps.sh (apt-get install iproute2 nftables curl)"
        );
    }
}
