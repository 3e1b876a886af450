//! Values that are checked while serde reads them: addresses, modes, port
//! ranges, hashes, label names, FTP arguments, secrets.
//!
//! A check that needs only the value itself lives here, so its error gets
//! the exact line and key path from the parser for free. Checks that relate
//! two keys or the outside world (environment, files) live in `resolve`.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;
use std::net::{IpAddr, Ipv6Addr};
use std::ops::RangeInclusive;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::check::{Mode, TlsMode, Toggle};

/// A value written as a YAML string and parsed by `from_text`.
pub trait FromText: Sized {
    const EXPECTING: &'static str;
    fn from_text(s: &str) -> Result<Self, String>;
}

/// Deserializes any [`FromText`] from a string, reporting its message at the value.
#[derive(Debug, Clone, PartialEq)]
pub struct Text<T>(pub T);

impl<'de, T: FromText> Deserialize<'de> for Text<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<T: FromText> Visitor<'_> for V<T> {
            type Value = Text<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(T::EXPECTING)
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Text<T>, E> {
                T::from_text(s).map(Text).map_err(E::custom)
            }
        }
        d.deserialize_str(V(PhantomData))
    }
}

impl FromText for TlsMode {
    const EXPECTING: &'static str = "none, explicit or implicit";
    fn from_text(s: &str) -> Result<Self, String> {
        s.parse::<TlsMode>()
            .map_err(|_| format!("unknown tls mode {s:?}, expected none, explicit or implicit"))
    }
}

impl FromText for Toggle {
    const EXPECTING: &'static str = "auto, always or never";
    fn from_text(s: &str) -> Result<Self, String> {
        s.parse()
    }
}

impl FromText for IpAddr {
    const EXPECTING: &'static str = "an IP address";
    fn from_text(s: &str) -> Result<Self, String> {
        s.parse().map_err(|_| format!("invalid IP address {s:?}, expected e.g. 0.0.0.0, 192.0.2.7 or ::"))
    }
}

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

/// `50000-50100`, or one port `50000`: the ports the active-mode listener may
/// use, so a firewall in front of the exporter can open exactly those.
#[derive(Debug, Clone, PartialEq)]
pub struct PortRange(pub RangeInclusive<u16>);

impl FromText for PortRange {
    const EXPECTING: &'static str = "a port range such as 50000-50100";
    fn from_text(s: &str) -> Result<Self, String> {
        let bad = || format!("invalid port range {s:?}, expected START-END with 1 <= START <= END <= 65535");
        let (a, b) = s.split_once('-').unwrap_or((s, s));
        let start: u16 = a.trim().parse().map_err(|_| bad())?;
        let end: u16 = b.trim().parse().map_err(|_| bad())?;
        if start == 0 || start > end {
            return Err(bad());
        }
        Ok(PortRange(start..=end))
    }
}

/// A SHA-256 in hex, normalised to lowercase (what `sha2` + `hex` produce).
#[derive(Debug, Clone, PartialEq)]
pub struct Sha256Hex(pub String);

impl FromText for Sha256Hex {
    const EXPECTING: &'static str = "64 hex digits";
    fn from_text(s: &str) -> Result<Self, String> {
        if s.len() == 64 && s.chars().all(|c| c.is_ascii_hexdigit()) {
            Ok(Sha256Hex(s.to_ascii_lowercase()))
        } else {
            Err(format!("sha256 must be 64 hex digits, got {} characters", s.chars().count()))
        }
    }
}

/// A string that goes into an FTP command (user name, path). RFC 959 §4.1
/// ends a command at CRLF, so an embedded line break would smuggle in a
/// second command.
#[derive(Debug, Clone, PartialEq)]
pub struct FtpArg(pub String);

impl FromText for FtpArg {
    const EXPECTING: &'static str = "a string";
    fn from_text(s: &str) -> Result<Self, String> {
        if s.is_empty() {
            Err("must not be empty".into())
        } else if s.contains(['\r', '\n', '\0']) {
            Err("must not contain line breaks or NUL (it is sent in an FTP command)".into())
        } else {
            Ok(FtpArg(s.to_string()))
        }
    }
}

/// `tls_max_version: "1.2" | "1.3"`; YAML reads an unquoted `1.2` as a
/// number, so both forms are accepted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TlsVersion {
    pub tls12: bool,
}

impl<'de> Deserialize<'de> for TlsVersion {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = TlsVersion;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("\"1.2\" or \"1.3\"")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<TlsVersion, E> {
                match s {
                    "1.2" => Ok(TlsVersion { tls12: true }),
                    "1.3" => Ok(TlsVersion { tls12: false }),
                    _ => Err(E::custom(format!("unknown TLS version {s:?}, expected \"1.2\" or \"1.3\""))),
                }
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<TlsVersion, E> {
                self.visit_str(&v.to_string())
            }
        }
        d.deserialize_any(V)
    }
}

/// A password written in the file. Its value never appears in an error: a
/// type mismatch reports the type only, unlike serde's default message.
#[derive(Clone, PartialEq)]
pub struct RawSecret(pub String);

impl fmt::Debug for RawSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RawSecret(****)")
    }
}

impl<'de> Deserialize<'de> for RawSecret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = RawSecret;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a quoted string")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<RawSecret, E> {
                Ok(RawSecret(s.to_string()))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<RawSecret, E> {
                Err(E::custom("password must be a string; quote it"))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<RawSecret, E> {
                Err(E::custom("password must be a string; quote it"))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<RawSecret, E> {
                Err(E::custom("password must be a string; quote it"))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<RawSecret, E> {
                Err(E::custom("password must be a string; quote it"))
            }
        }
        d.deserialize_any(V)
    }
}

/// `modes:` non-empty, without repeats. Reported at the list, as in SPEC §4's
/// example (`targets[2].modes: unknown mode "pasive", ...`).
#[derive(Debug, Clone, PartialEq)]
pub struct ModeList(pub Vec<Mode>);

impl<'de> Deserialize<'de> for ModeList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ModeList;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of modes, e.g. [passive, active]")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ModeList, A::Error> {
                let mut modes = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    let mode: Mode = s.parse().map_err(de::Error::custom)?;
                    if modes.contains(&mode) {
                        return Err(de::Error::custom(format!("mode {mode} is listed twice")));
                    }
                    modes.push(mode);
                }
                if modes.is_empty() {
                    return Err(de::Error::custom("at least one mode is required (passive, active)"));
                }
                Ok(ModeList(modes))
            }
        }
        d.deserialize_seq(V)
    }
}

/// Label names the exporter itself puts on `ftp_target_info` (SPEC §5).
pub const RESERVED_LABELS: &[&str] = &["target", "address", "tls"];

/// `labels:` with Prometheus-valid names that do not clash with ours.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Labels(pub BTreeMap<String, String>);

pub fn check_label_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        Err(format!("invalid label name {name:?}, expected [a-zA-Z_][a-zA-Z0-9_]*"))
    } else if name.starts_with("__") {
        Err(format!("label name {name:?} starts with \"__\", which Prometheus reserves"))
    } else if RESERVED_LABELS.contains(&name) {
        Err(format!("label {name:?} is set by the exporter on ftp_target_info; choose another name"))
    } else {
        Ok(())
    }
}

impl<'de> Deserialize<'de> for Labels {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Labels;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping of label names to values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Labels, A::Error> {
                let mut labels = BTreeMap::new();
                while let Some(name) = map.next_key::<String>()? {
                    check_label_name(&name).map_err(de::Error::custom)?;
                    let value: String = map.next_value()?;
                    if labels.insert(name.clone(), value).is_some() {
                        return Err(de::Error::custom(format!("label {name:?} is set twice")));
                    }
                }
                Ok(Labels(labels))
            }
        }
        d.deserialize_map(V)
    }
}

/// Histogram buckets: finite and strictly increasing, as Prometheus requires.
#[derive(Debug, Clone, PartialEq)]
pub struct Buckets(pub Vec<f64>);

impl<'de> Deserialize<'de> for Buckets {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Vec::<f64>::deserialize(d)?;
        if let Some(bad) = v.iter().find(|b| !b.is_finite()) {
            return Err(de::Error::custom(format!("bucket {bad} is not finite (+Inf is always added)")));
        }
        if let Some(w) = v.windows(2).find(|w| w[0] >= w[1]) {
            return Err(de::Error::custom(format!(
                "buckets must be strictly increasing, but {} is followed by {}",
                w[0], w[1]
            )));
        }
        Ok(Buckets(v))
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

    #[test]
    fn port_ranges() {
        assert_eq!(PortRange::from_text("50000-50100"), Ok(PortRange(50000..=50100)));
        assert_eq!(PortRange::from_text("50000"), Ok(PortRange(50000..=50000)));
        assert!(PortRange::from_text("50100-50000").is_err());
        assert!(PortRange::from_text("0-10").is_err());
        assert!(PortRange::from_text("1-70000").is_err());
    }

    #[test]
    fn label_names() {
        assert!(check_label_name("env").is_ok());
        assert!(check_label_name("_x9").is_ok());
        assert!(check_label_name("9x").is_err());
        assert!(check_label_name("__meta").is_err());
        assert!(check_label_name("target").is_err());
        assert!(check_label_name("a-b").is_err());
    }
}
