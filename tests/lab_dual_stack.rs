//! Dual stack: a name whose IPv6 address is blackholed and whose
//! IPv4 address works, as `/etc/hosts` says inside the exporter's own
//! network namespace (`/etc/netns/<ns>/hosts`, which `ip netns exec`
//! mounts over `/etc/hosts`). The IPv6 host drops SYNs to port 21
//! (nftables); a real vsftpd answers on IPv4.
//!
//! ```text
//!  client (the exporter)            server (vsftpd on 172.31.0.10:21)
//!  172.31.0.2, 2001:db8:31::2  ───  172.31.0.10, 2001:db8:31::10 (tcp/21 dropped on IPv6)
//! ```
//! Needs root, iproute2 and nftables; builds its own namespaces
//! (`fxlab-<pid>-*`) and never touches the host's network or /etc/hosts.

#[path = "lab/mod.rs"]
mod lab;

use std::sync::Mutex;
use std::time::Duration;

use lab::netns::{self, Netns};
use lab::service::Service;
use lab::vsftpd::{self, Vsftpd};
use lab::Scenario;
use serde_json::Value;

const NAME: &str = "ftp.dual.test";
const SERVER_V6: &str = "2001:db8:31::10";

/// One dual-stack lab at a time in this process.
static LOCK: Mutex<u32> = Mutex::new(0);

struct DualStack {
    client: Netns,
    server: Netns,
    vsftpd: Option<Vsftpd>,
}

impl DualStack {
    fn build() -> (DualStack, std::sync::MutexGuard<'static, u32>) {
        let mut n = LOCK.lock().unwrap_or_else(|e| e.into_inner());
        netns::remove_stale();
        vsftpd::remove_stale_dirs();
        *n += 1;
        // The guard exists before anything is created: a failure halfway tears down what was built.
        let mut lab = DualStack {
            client: Netns::for_role(*n, "dsclient"),
            server: Netns::for_role(*n, "dsserver"),
            vsftpd: None,
        };
        lab.client.create();
        lab.server.create();
        lab.client.ip(&[
            "link",
            "add",
            "c0",
            "type",
            "veth",
            "peer",
            "name",
            "s0",
            "netns",
            &lab.server.name,
        ]);
        for (ns, dev, v4, v6) in [
            (&lab.client, "c0", "172.31.0.2/24", "2001:db8:31::2/64"),
            (&lab.server, "s0", "172.31.0.10/24", "2001:db8:31::10/64"),
        ] {
            ns.ip(&["addr", "add", v4, "dev", dev]);
            // nodad: usable at once, not "tentative" for the duplicate address detection.
            ns.ip(&["addr", "add", v6, "dev", dev, "nodad"]);
            ns.ip(&["link", "set", dev, "up"]);
        }
        lab.server.nft(
            "table ip6 fxlab {\n  chain input { type filter hook input priority filter; policy accept;\n\
             \x20   tcp dport 21 drop\n  }\n}\n",
        );
        // IPv6 first, as a resolver answering AAAA and A would order them (RFC 6724).
        lab.client.etc_file(
            "hosts",
            &format!("{SERVER_V6} {NAME}\n172.31.0.10 {NAME}\n127.0.0.1 localhost\n::1 localhost\n"),
        );
        // Any lookup /etc/hosts cannot answer stays inside the namespace (nothing listens there).
        lab.client.etc_file("resolv.conf", "nameserver 127.0.0.1\n");
        lab.vsftpd = Some(Vsftpd::start(&lab.server, &Scenario::default()));
        (lab, n)
    }

    /// `ftp_exporter probe ftp://anonymous@ftp.dual.test/ <extra>` in the client namespace.
    fn probe(&self, extra: &[&str]) -> (i32, String) {
        let url = format!("ftp://anonymous@{NAME}/");
        let out = self.client.exec(env!("CARGO_BIN_EXE_ftp_exporter"), &[&["probe", &url], extra].concat());
        (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn probe_json(&self, extra: &[&str]) -> (i32, Vec<Value>) {
        let (exit, stdout) = self.probe(&[&["--output", "json"], extra].concat());
        let modes = serde_json::Deserializer::from_str(&stdout)
            .into_iter::<Value>()
            .collect::<Result<Vec<_>, _>>()
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{stdout}"));
        (exit, modes)
    }
}

impl Drop for DualStack {
    fn drop(&mut self) {
        drop(self.vsftpd.take());
        self.client.destroy();
        self.server.destroy();
    }
}

fn failure(mode: &Value) -> Option<(String, String)> {
    let f = &mode["failure"];
    (!f.is_null())
        .then(|| (f["phase"].as_str().unwrap().to_string(), f["reason"].as_str().unwrap().to_string()))
}

#[test]
fn blackholed_ipv6_first_is_up_in_both_modes_over_ipv4() {
    let (lab, _lock) = DualStack::build();
    let (exit, modes) = lab.probe_json(&["--mode", "both", "--timeout", "5s"]);
    assert_eq!(exit, 0, "{modes:#?}");
    for m in &modes {
        assert_eq!(failure(m), None, "{m:#}");
        assert_eq!(m["ip_protocol"], 4, "{m:#}");
        assert_eq!(m["control_peer"], "172.31.0.10:21", "{m:#}");
        let took = m["duration_seconds"].as_f64().unwrap();
        let connect = m["phases"]["connect"].as_f64().unwrap();
        eprintln!(
            "{}: up in {took:.3}s, connect {connect:.3}s (IPv6 blackholed, IPv4 250 ms later)",
            m["mode"]
        );
        // The IPv4 attempt starts 250 ms after the blackholed one: up well inside the 5 s timeout.
        assert!((0.25..1.0).contains(&connect), "connect took {connect}s: {m:#}");
        assert!(took < 2.0, "{m:#}");
    }

    // The transcript names every address tried and the winner.
    let (exit, text) = lab.probe(&["--mode", "passive", "--timeout", "5s"]);
    assert_eq!(exit, 0, "{text}");
    for line in [
        format!("connecting to [{SERVER_V6}]:21 (address 1 of 2)"),
        "connecting to 172.31.0.10:21 (address 2 of 2)".to_string(),
        "connected to 172.31.0.10:21 from 172.31.0.2:".to_string(),
    ] {
        assert!(text.contains(&line), "{line:?} missing:\n{text}");
    }
}

#[test]
fn ip_protocol_ipv6_times_out_and_ipv4_is_up() {
    let (lab, _lock) = DualStack::build();
    let (exit, modes) = lab.probe_json(&["--mode", "passive", "--timeout", "2s", "--ip-protocol", "ipv6"]);
    assert_eq!(exit, 1, "{modes:#?}");
    assert_eq!(failure(&modes[0]), Some(("connect".into(), "timeout".into())), "{modes:#?}");
    assert!(modes[0]["ip_protocol"].is_null(), "never connected: {modes:#?}");

    let (exit, text) = lab.probe(&["--mode", "both", "--timeout", "5s", "--ip-protocol", "ipv4"]);
    assert_eq!(exit, 0, "{text}");
    assert!(text.contains("connected to 172.31.0.10:21"), "{text}");
    assert!(!text.contains(&format!("to [{SERVER_V6}]")), "ipv4 never tries the IPv6 address:\n{text}");
}

/// The same through the service: `ftp_ip_protocol` says which family the
/// checks used, and an IPv6-only target fails at connect/timeout.
#[test]
fn the_service_exports_the_family_it_used() {
    let (lab, _lock) = DualStack::build();
    let yaml = format!(
        "defaults:\n  interval: 5s\n  timeout: 3s\ntargets:\n  - name: dual\n    address: {NAME}\n  \
         - name: dual-v6\n    address: {NAME}\n    ip_protocol: ipv6\n    modes: [passive]\n"
    );
    let svc = Service::start(&lab.client, &yaml);
    let s = svc.scrape_when_checked(
        &[("dual", "passive"), ("dual", "active"), ("dual-v6", "passive")],
        Duration::from_secs(20),
    );
    for mode in ["passive", "active"] {
        assert_eq!(s.value("ftp_up", &[("target", "dual"), ("mode", mode)]), Some(1.0), "{}", s.text);
        assert_eq!(
            s.value("ftp_ip_protocol", &[("target", "dual"), ("mode", mode)]),
            Some(4.0),
            "{}",
            s.text
        );
    }
    assert_eq!(s.failure("dual-v6", "passive"), Some(("connect".into(), "timeout".into(), String::new())));
    assert!(s.find("ftp_ip_protocol", &[("target", "dual-v6")]).is_empty(), "{}", s.text);
}
