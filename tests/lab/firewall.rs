//! The nftables rulesets of each namespace for a scenario. Each ruleset is
//! one `table ip fxlab` loaded inside its own namespace, so the host's
//! ruleset is never read or changed.

use super::scenario::{
    nft_range, ControlPort, Scenario, ACTIVE_PORTS, CLIENT, PASSIVE_PORTS, SERVER, SERVER_PUBLIC,
};

/// The router: masquerades the client LAN; optionally the FTP ALG and the
/// active-port forward.
pub fn router(s: &Scenario) -> String {
    let mut out = String::from("table ip fxlab {\n");
    if s.router_ftp_helper {
        // Since Linux 4.7 conntrack no longer attaches helpers by port on its
        // own (nf_conntrack_helper=0): the ruleset must assign it. With NAT in
        // place nf_nat_ftp then rewrites PORT/EPRT to the masquerade address
        // and expects the server's connection back.
        out.push_str(
            "  ct helper ftp-std { type \"ftp\" protocol tcp; }\n\
             \x20 chain helpers { type filter hook prerouting priority filter; policy accept;\n\
             \x20   iifname \"r0\" tcp dport 21 ct helper set \"ftp-std\"\n  }\n",
        );
    }
    out.push_str("  chain prerouting { type nat hook prerouting priority dstnat; policy accept;\n");
    if s.router_forwards_active_ports {
        out.push_str(&format!(
            "    iifname \"r1\" tcp dport {} dnat to {CLIENT}\n",
            nft_range(&ACTIVE_PORTS)
        ));
    }
    out.push_str("  }\n");
    out.push_str(
        "  chain postrouting { type nat hook postrouting priority srcnat; policy accept;\n\
         \x20   oifname \"r1\" ip saddr 192.168.10.0/24 masquerade\n  }\n}\n",
    );
    out
}

/// server-gw: publishes port 21 and the passive range of the server on its
/// public address, masquerades the server's own outbound connections
/// (active-mode data), and applies the control/passive ACLs.
pub fn server_gw(s: &Scenario) -> String {
    let passive = nft_range(&PASSIVE_PORTS);
    let mut forward = String::new();
    match s.control_port {
        ControlPort::Open => {}
        ControlPort::Filtered => forward.push_str(&format!("    ip daddr {SERVER} tcp dport 21 drop\n")),
        ControlPort::Rejected => {
            forward.push_str(&format!("    ip daddr {SERVER} tcp dport 21 reject with tcp reset\n"))
        }
    }
    if s.server_drops_passive_ports {
        forward.push_str(&format!("    ip daddr {SERVER} tcp dport {passive} ct state new drop\n"));
    }
    format!(
        "table ip fxlab {{\n\
         \x20 chain prerouting {{ type nat hook prerouting priority dstnat; policy accept;\n\
         \x20   iifname \"g0\" ip daddr {SERVER_PUBLIC} tcp dport {{ 21, {passive} }} dnat to {SERVER}\n  }}\n\
         \x20 chain postrouting {{ type nat hook postrouting priority srcnat; policy accept;\n\
         \x20   oifname \"g0\" ip saddr 172.31.0.0/24 masquerade\n  }}\n\
         \x20 chain forward {{ type filter hook forward priority filter; policy accept;\n{forward}  }}\n}}\n"
    )
}

/// The client (where the exporter runs): a host firewall that lets replies in
/// and drops every new inbound connection, or nothing.
pub fn client(s: &Scenario) -> Option<String> {
    s.client_drops_inbound.then(|| {
        "table ip fxlab {\n\
         \x20 chain input { type filter hook input priority filter; policy accept;\n\
         \x20   iifname \"lo\" accept\n\
         \x20   ct state established,related accept\n\
         \x20   ct state new drop\n  }\n}\n"
            .to_string()
    })
}
