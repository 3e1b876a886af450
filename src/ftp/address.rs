//! Codecs for the addresses FTP puts in text: `PORT`/`227` (RFC 959 §4.1.2,
//! h1,h2,h3,h4,p1,p2 with port = p1*256 + p2) and `EPRT`/`229` (RFC 2428).

use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum CodecError {
    #[error("no h1,h2,h3,h4,p1,p2 address in {0:?}")]
    Missing(String),
    #[error("number out of range (0-255) in {0:?}")]
    OutOfRange(String),
    #[error("malformed extended address in {0:?}")]
    Extended(String),
}

/// The argument of `PORT` for `addr`: `192,168,0,203,199,239` for 192.168.0.203:51183.
pub fn format_port(addr: SocketAddrV4) -> String {
    let [a, b, c, d] = addr.ip().octets();
    let port = addr.port();
    format!("{a},{b},{c},{d},{},{}", port >> 8, port & 0xff)
}

/// Parses the six numbers of a `PORT` argument or a `227` reply text.
///
/// RFC 1123 §4.1.2.6: the parentheses of RFC 959's example are not reliably
/// sent, so scan for the first digit rather than for `(`.
pub fn parse_host_port(text: &str) -> Result<SocketAddrV4, CodecError> {
    let start = text.find(|c: char| c.is_ascii_digit()).ok_or_else(|| CodecError::Missing(text.into()))?;
    let nums: Vec<&str> = text[start..]
        .split(|c: char| !(c.is_ascii_digit() || c == ','))
        .next()
        .unwrap_or("")
        .split(',')
        .collect();
    if nums.len() < 6 || nums[..6].iter().any(|n| n.is_empty()) {
        return Err(CodecError::Missing(text.into()));
    }
    let mut v = [0u8; 6];
    for (slot, n) in v.iter_mut().zip(&nums[..6]) {
        *slot = n.parse::<u8>().map_err(|_| CodecError::OutOfRange(text.into()))?;
    }
    Ok(SocketAddrV4::new(Ipv4Addr::new(v[0], v[1], v[2], v[3]), u16::from(v[4]) << 8 | u16::from(v[5])))
}

/// The argument of `EPRT`: `|1|192.168.0.203|51183|` or `|2|::1|5282|`.
pub fn format_eprt(addr: SocketAddr) -> String {
    let proto = if addr.is_ipv4() { 1 } else { 2 };
    format!("|{proto}|{}|{}|", addr.ip(), addr.port())
}

/// Parses an `EPRT` argument (used by the test servers, and to check our own output).
pub fn parse_eprt(arg: &str) -> Result<SocketAddr, CodecError> {
    let err = || CodecError::Extended(arg.into());
    let d = arg.chars().next().ok_or_else(err)?;
    let parts: Vec<&str> = arg.split(d).collect();
    // "" proto addr port ""
    if parts.len() != 5 || !parts[0].is_empty() || !parts[4].is_empty() {
        return Err(err());
    }
    let ip: IpAddr = parts[2].parse().map_err(|_| err())?;
    match (parts[1], ip) {
        ("1", IpAddr::V4(_)) | ("2", IpAddr::V6(_)) => {}
        _ => return Err(err()),
    }
    let port: u16 = parts[3].parse().map_err(|_| err())?;
    Ok(SocketAddr::new(ip, port))
}

/// Parses the port of a `229 Entering Extended Passive Mode (|||6446|)` reply.
///
/// RFC 2428 §3: the text holds `(<d><d><d><port><d>)` where `<d>` is any
/// printable delimiter, normally `|`; the address is always the control peer's.
pub fn parse_229(text: &str) -> Result<u16, CodecError> {
    let err = || CodecError::Extended(text.into());
    let open = text.find('(').ok_or_else(err)?;
    let inner = &text[open + 1..];
    let close = inner.find(')').ok_or_else(err)?;
    let inner = &inner[..close];
    let d = inner.chars().next().ok_or_else(err)?;
    if d.is_ascii_digit() || d.is_whitespace() {
        return Err(err());
    }
    let parts: Vec<&str> = inner.split(d).collect();
    if parts.len() != 5 || parts.iter().enumerate().any(|(i, p)| i != 3 && !p.is_empty()) {
        return Err(err());
    }
    match parts[3].parse::<u16>() {
        Ok(0) | Err(_) => Err(err()),
        Ok(port) => Ok(port),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_port_example() {
        // The seed note: PORT 192,168,0,203,199,239 → 192.168.0.203, 199*256+239 = 51183.
        let a = parse_host_port("192,168,0,203,199,239").unwrap();
        assert_eq!(a, "192.168.0.203:51183".parse().unwrap());
        assert_eq!(format_port(a), "192,168,0,203,199,239");
    }

    #[test]
    fn seed_pasv_example() {
        // The seed note: 227 Entering Passive Mode(192,168,0,101,79,42) → port 79*256+42 = 20266.
        for text in [
            "Entering Passive Mode (192,168,0,101,79,42)",
            "Entering Passive Mode(192,168,0,101,79,42)",
            "Entering Passive Mode 192,168,0,101,79,42",
            "=192,168,0,101,79,42",
        ] {
            assert_eq!(parse_host_port(text).unwrap(), "192.168.0.101:20266".parse().unwrap(), "{text}");
        }
    }

    #[test]
    fn malformed_227_rejected() {
        assert!(matches!(
            parse_host_port("Entering Passive Mode (192,168,0,256,79,42)"),
            Err(CodecError::OutOfRange(_))
        ));
        assert!(matches!(
            parse_host_port("Entering Passive Mode (192,168,0,101,79)"),
            Err(CodecError::Missing(_))
        ));
        assert!(matches!(parse_host_port("Entering Passive Mode"), Err(CodecError::Missing(_))));
        assert!(matches!(
            parse_host_port("Entering Passive Mode (192,168,,101,79,42)"),
            Err(CodecError::Missing(_))
        ));
        assert!(matches!(parse_host_port("(1,2,3,4,5,99999)"), Err(CodecError::OutOfRange(_))));
    }

    #[test]
    fn eprt_round_trip() {
        let v6: SocketAddr = "[::1]:5282".parse().unwrap();
        assert_eq!(format_eprt(v6), "|2|::1|5282|");
        assert_eq!(parse_eprt("|2|::1|5282|").unwrap(), v6);
        let v4: SocketAddr = "192.168.0.203:51183".parse().unwrap();
        assert_eq!(parse_eprt(&format_eprt(v4)).unwrap(), v4);
        for bad in ["|1|::1|5282|", "|3|1.2.3.4|1|", "|2|::1|", "|2|::1|70000|", ""] {
            assert!(parse_eprt(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn epsv_reply() {
        assert_eq!(parse_229("Entering Extended Passive Mode (|||6446|)").unwrap(), 6446);
        assert_eq!(parse_229("Entering Extended Passive Mode (!!!6446!)").unwrap(), 6446);
        for bad in
            ["Entering Extended Passive Mode", "(|||0|)", "(||1|6446|)", "(|||6446)", "(|||x|)", "(1116446)"]
        {
            assert!(parse_229(bad).is_err(), "{bad}");
        }
    }
}
