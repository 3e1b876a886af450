//! `allowed_targets:` of a module: which `host[:port]` a
//! `/probe?module=M&target=…` may reach (docs/configuration.md, docs/http.md).
//!
//! An entry is a host name or a network, with an optional port:
//! `ftp.example.com`, `ftp.example.com:2121`, `198.51.100.7`,
//! `198.51.100.0/24`, `198.51.100.0/24:2121`, `[2001:db8::21]:2121`,
//! `[2001:db8::]/32:2121`. A host name matches that name (case-insensitive,
//! a trailing dot ignored), never a name under it; a network matches IP
//! addresses inside it, whether the target was given as an address or as a
//! name that resolves there. An entry without a port allows the module's
//! default port only (21, or 990 with `tls: implicit`): a monitor's allow
//! list must not make the exporter a port scanner of the networks in it.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use super::fields::FromText;
use crate::ftp::data::canonical;

/// One entry of `allowed_targets`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowEntry {
    /// As written, for messages.
    pub written: String,
    pub host: AllowedHost,
    /// `None`: the module's default port only.
    pub port: Option<u16>,
}

/// What an entry allows, apart from the port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedHost {
    /// A host name, lowercase, without a trailing dot.
    Name(String),
    /// A network: the addresses whose first `prefix` bits are `base`'s.
    Net { base: IpAddr, prefix: u8 },
}

impl AllowEntry {
    /// Whether the entry names host `name` (already normalised by
    /// [`normalise_name`]) on `port`.
    pub fn allows_name(&self, name: &str, port: u16, default_port: u16) -> bool {
        matches!(&self.host, AllowedHost::Name(n) if n == name) && self.allows_port(port, default_port)
    }

    /// Whether `addr` lies in the entry's network, on its port.
    pub fn allows_addr(&self, addr: SocketAddr, default_port: u16) -> bool {
        let AllowedHost::Net { base, prefix } = &self.host else { return false };
        in_net(canonical(addr.ip()), *base, *prefix) && self.allows_port(addr.port(), default_port)
    }

    /// Whether some address on `port` could match (a network entry for it).
    pub fn is_net_for_port(&self, port: u16, default_port: u16) -> bool {
        matches!(self.host, AllowedHost::Net { .. }) && self.allows_port(port, default_port)
    }

    fn allows_port(&self, port: u16, default_port: u16) -> bool {
        self.port.unwrap_or(default_port) == port
    }
}

impl fmt::Display for AllowEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.written)
    }
}

/// A host name as compared with entries: lowercase, no trailing dot.
pub fn normalise_name(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

fn in_net(ip: IpAddr, base: IpAddr, prefix: u8) -> bool {
    match (ip, base) {
        (IpAddr::V4(ip), IpAddr::V4(base)) => {
            masked(u32::from(ip).into(), prefix, 32) == u32::from(base).into()
        }
        (IpAddr::V6(ip), IpAddr::V6(base)) => masked(u128::from(ip), prefix, 128) == u128::from(base),
        _ => false,
    }
}

/// `bits` (an address of `width` bits) with everything past `prefix` cleared.
fn masked(bits: u128, prefix: u8, width: u8) -> u128 {
    let host_bits = u32::from(width - prefix.min(width));
    if host_bits >= 128 {
        0
    } else {
        bits >> host_bits << host_bits
    }
}

impl FromText for AllowEntry {
    const EXPECTING: &'static str = "a host name or CIDR, optionally with :port";

    fn from_text(s: &str) -> Result<Self, String> {
        let written = s.trim();
        let bad = |why: &str| {
            format!(
                "invalid allowed target {written:?}: {why} (expected a host name or CIDR with an optional \
                 :port, e.g. ftp.example.com:21, 198.51.100.0/24, [2001:db8::]/32:2121)"
            )
        };
        if written.contains("://") {
            return Err(bad("a URL"));
        }
        // `[v6]`, `[v6]/len`, each optionally followed by `:port`.
        let (host, prefix, port) = if let Some(rest) = written.strip_prefix('[') {
            let (ip, after) = rest.split_once(']').ok_or_else(|| bad("missing ']'"))?;
            let (prefix, port) = match after.strip_prefix('/') {
                Some(p) => match p.split_once(':') {
                    Some((len, port)) => (Some(len), Some(port)),
                    None => (Some(p), None),
                },
                None if after.is_empty() => (None, None),
                None => {
                    (None, Some(after.strip_prefix(':').ok_or_else(|| bad("expected ':port' after ']'"))?))
                }
            };
            ip.parse::<Ipv6Addr>().map_err(|_| bad("not an IPv6 address inside [ ]"))?;
            (ip, prefix, port)
        } else if written.matches(':').count() > 1 {
            return Err(bad("IPv6 addresses need brackets, e.g. [2001:db8::]/32 or [::1]:2121"));
        } else {
            let (host, port) = match written.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (written, None),
            };
            match host.split_once('/') {
                Some((h, len)) => (h, Some(len), port),
                None => (host, None, port),
            }
        };
        let port = match port {
            None => None,
            Some(p) => match p.parse::<u16>() {
                Ok(n) if n > 0 => Some(n),
                _ => return Err(bad(&format!("port {p:?} is not a number from 1 to 65535"))),
            },
        };
        let host = match (host.parse::<IpAddr>(), prefix) {
            (Ok(ip), prefix) => {
                let ip = canonical(ip);
                let width = if ip.is_ipv4() { 32 } else { 128 };
                let prefix = match prefix {
                    None => width,
                    Some(len) => match len.parse::<u8>() {
                        Ok(n) if n <= width => n,
                        _ => {
                            return Err(bad(&format!(
                                "prefix length {len:?} is not a number from 0 to {width}"
                            )))
                        }
                    },
                };
                let base = net_base(ip, prefix);
                if base != ip {
                    return Err(bad(&format!(
                        "{ip} has bits set past /{prefix}; the network is {base}/{prefix}"
                    )));
                }
                AllowedHost::Net { base, prefix }
            }
            (Err(_), Some(_)) => return Err(bad("a prefix length needs an IP address, not a host name")),
            (Err(_), None) => AllowedHost::Name(host_name(host).map_err(|why| bad(&why))?),
        };
        Ok(AllowEntry { written: written.to_string(), host, port })
    }
}

fn net_base(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4((masked(u32::from(v4).into(), prefix, 32) as u32).into()),
        IpAddr::V6(v6) => IpAddr::V6(masked(u128::from(v6), prefix, 128).into()),
    }
}

/// A DNS name (RFC 1123 §2.1 labels, `_` tolerated as in `address:`), normalised.
fn host_name(host: &str) -> Result<String, String> {
    let name = normalise_name(host);
    if name.is_empty() {
        return Err("empty host".into());
    }
    if name.contains('*') {
        return Err("wildcards are not supported; list each host name, or its network as a CIDR".into());
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if name.len() > 253 || !name.split('.').all(label_ok) {
        return Err("not a host name (letters, digits, '-' and '_' in dot-separated labels)".into());
    }
    if name.split('.').all(|l| l.chars().all(|c| c.is_ascii_digit())) {
        return Err("not an IP address (four numbers 0-255) nor a host name".into());
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(s: &str) -> AllowEntry {
        AllowEntry::from_text(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_spec_examples_parse() {
        let e = entry("198.51.100.0/24");
        assert_eq!(e.host, AllowedHost::Net { base: "198.51.100.0".parse().unwrap(), prefix: 24 });
        assert_eq!(e.port, None);
        let e = entry("ftp.example.com:21");
        assert_eq!((e.host, e.port), (AllowedHost::Name("ftp.example.com".into()), Some(21)));
        let e = entry("[2001:db8::]/32:2121");
        assert_eq!(e.host, AllowedHost::Net { base: "2001:db8::".parse().unwrap(), prefix: 32 });
        assert_eq!(e.port, Some(2121));
        let e = entry("[::1]:2121");
        assert_eq!(
            (e.host, e.port),
            (AllowedHost::Net { base: "::1".parse().unwrap(), prefix: 128 }, Some(2121))
        );
        let e = entry("127.0.0.1");
        assert_eq!(e.host, AllowedHost::Net { base: "127.0.0.1".parse().unwrap(), prefix: 32 });
        assert_eq!(entry("[2001:db8::]/32").port, None);
        assert_eq!(entry("FTP.Example.COM.").host, AllowedHost::Name("ftp.example.com".into()));
    }

    #[test]
    fn networks_match_addresses_inside_them_on_the_port() {
        let net = entry("198.51.100.0/24");
        assert!(net.allows_addr(addr("198.51.100.7:21"), 21));
        assert!(net.allows_addr(addr("198.51.100.255:21"), 21));
        assert!(!net.allows_addr(addr("198.51.101.7:21"), 21), "other network");
        assert!(!net.allows_addr(addr("198.51.100.7:2121"), 21), "no port: the default port only");
        assert!(net.allows_addr(addr("198.51.100.7:990"), 990), "implicit TLS's default");
        assert!(net.allows_addr(addr("[::ffff:198.51.100.7]:21"), 21), "IPv4-mapped IPv6 is IPv4");
        assert!(!net.allows_name("198.51.100.7", 21, 21), "networks match addresses, not names");
        let v6 = entry("[2001:db8::]/32:2121");
        assert!(v6.allows_addr(addr("[2001:db8:ffff::1]:2121"), 21));
        assert!(!v6.allows_addr(addr("[2001:db9::1]:2121"), 21));
        assert!(!v6.allows_addr(addr("[2001:db8::1]:21"), 21));
        assert!(!v6.allows_addr(addr("198.51.100.7:2121"), 21), "families never match");
        let all = entry("0.0.0.0/0:21");
        assert!(all.allows_addr(addr("203.0.113.9:21"), 21));
        assert!(entry("[::]/0").allows_addr(addr("[2001:db8::1]:21"), 21));
    }

    #[test]
    fn names_match_themselves_only() {
        let e = entry("ftp.example.com");
        assert!(e.allows_name("ftp.example.com", 21, 21));
        assert!(!e.allows_name("ftp.example.com", 2121, 21));
        assert!(!e.allows_name("evil.ftp.example.com", 21, 21));
        assert!(!e.allows_name("ftp.example.com.evil", 21, 21));
        assert!(!e.allows_addr(addr("198.51.100.7:21"), 21));
        assert_eq!(normalise_name("FTP.example.com."), "ftp.example.com");
    }

    #[test]
    fn mistakes_are_refused_with_the_reason() {
        for (s, why) in [
            ("198.51.100.7/24", "the network is 198.51.100.0/24"),
            ("198.51.100.0/33", "prefix length \"33\""),
            ("[2001:db8::]/129", "prefix length \"129\""),
            ("198.51.100.0/24:0", "port \"0\""),
            ("host:70000", "port \"70000\""),
            ("host:", "port \"\""),
            ("2001:db8::/32", "need brackets"),
            ("[2001:db8::", "missing ']'"),
            ("[nothex]:21", "not an IPv6 address"),
            ("ftp.example.com/24", "needs an IP address"),
            ("*.example.com", "wildcards"),
            ("ftp://host", "a URL"),
            ("a b", "not a host name"),
            ("", "empty host"),
            ("1.2.3", "not an IP address"),
            ("-bad-.example", "not a host name"),
        ] {
            let e = AllowEntry::from_text(s).unwrap_err();
            assert!(e.contains(why), "{s}: {e}");
            assert!(e.contains("expected a host name or CIDR"), "{s}: {e}");
        }
    }
}
