//! `address:` as written: `host[:port]`, IPv6 in brackets.

use std::net::Ipv6Addr;

use super::fields::FromText;

/// `host[:port]` as written in `address:`; the default port depends on
/// `tls`, so it is filled in later.
#[derive(Debug, Clone, PartialEq)]
pub struct Address {
    pub written: String,
    /// Without brackets for IPv6.
    pub host: String,
    pub port: Option<u16>,
}

impl FromText for Address {
    const EXPECTING: &'static str = "host[:port]";
    /// IPv6 needs brackets (`[::1]:2121`), as in URLs (RFC 3986 §3.2.2):
    /// without them `::1:21` is ambiguous, so a bare `::1` is refused with a
    /// hint rather than guessed at.
    fn from_text(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let bad = |why: &str| format!("invalid address {s:?}: {why}");
        if s.contains("://") {
            return Err(bad("expected host[:port], not a URL"));
        }
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let (ip, after) = rest.split_once(']').ok_or_else(|| bad("missing ']'"))?;
            ip.parse::<Ipv6Addr>().map_err(|_| bad("not an IPv6 address inside [ ]"))?;
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':').ok_or_else(|| bad("expected ':port' after ']'"))?),
            };
            (ip, port)
        } else if s.matches(':').count() > 1 {
            return Err(bad("IPv6 addresses need brackets, e.g. [::1] or [::1]:2121"));
        } else {
            match s.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (s, None),
            }
        };
        if host.is_empty() {
            return Err(bad("empty host"));
        }
        if !host.chars().all(|c| c.is_ascii_alphanumeric() || ".-_:".contains(c)) {
            return Err(bad("a host name has only letters, digits, '-', '_' and '.'"));
        }
        let port = match port {
            None => None,
            Some(p) => match p.parse::<u16>() {
                Ok(n) if n > 0 => Some(n),
                _ => return Err(bad("port must be a number from 1 to 65535")),
            },
        };
        Ok(Address { written: s.to_string(), host: host.to_string(), port })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> Result<(String, Option<u16>), String> {
        Address::from_text(s).map(|a| (a.host, a.port))
    }

    #[test]
    fn addresses() {
        assert_eq!(addr("ftp.example.com"), Ok(("ftp.example.com".into(), None)));
        assert_eq!(addr("127.0.0.1:2121"), Ok(("127.0.0.1".into(), Some(2121))));
        assert_eq!(addr("[::1]:2121"), Ok(("::1".into(), Some(2121))));
        assert_eq!(addr("[::1]"), Ok(("::1".into(), None)));
        assert!(addr("::1").unwrap_err().contains("need brackets"));
        assert!(addr("host:0").unwrap_err().contains("1 to 65535"));
        assert!(addr("host:70000").is_err());
        assert!(addr("ftp://host").unwrap_err().contains("not a URL"));
        assert!(addr("[nothex]:21").is_err());
        assert!(addr("a b").is_err());
        assert!(addr(":21").is_err());
    }
}
