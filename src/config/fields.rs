//! Values that are checked while serde reads them: addresses, modes, port
//! ranges, hashes, label names, FTP arguments, secrets.
//!
//! A check that needs only the value itself lives here, so its error gets
//! the exact line and key path from the parser for free. Checks that relate
//! two keys or the outside world (environment, files) live in `resolve`.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;
use std::net::IpAddr;
use std::ops::RangeInclusive;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::check::{IpProtocol, Mode, TlsMode, Toggle};

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

impl FromText for IpProtocol {
    const EXPECTING: &'static str = "auto, ipv4 or ipv6";
    fn from_text(s: &str) -> Result<Self, String> {
        s.parse::<IpProtocol>().map_err(|_| format!("unknown ip_protocol {s:?}, expected auto, ipv4 or ipv6"))
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

/// `50000-50100`, or one port `50000`: the ports the active-mode listener may
/// use, so a firewall in front of the exporter can open exactly those.
#[derive(Debug, Clone, PartialEq)]
pub struct PortRange(pub RangeInclusive<u16>);

impl FromText for PortRange {
    const EXPECTING: &'static str = "a port range such as 50000-50100";
    fn from_text(s: &str) -> Result<Self, String> {
        crate::check::plan::parse_port_range(s).map(PortRange)
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

/// A string that goes into an FTP command (user name, path); see
/// [`crate::ftp::command_safe`].
#[derive(Debug, Clone, PartialEq)]
pub struct FtpArg(pub String);

impl FromText for FtpArg {
    const EXPECTING: &'static str = "a string";
    fn from_text(s: &str) -> Result<Self, String> {
        if s.is_empty() {
            Err("must not be empty".into())
        } else if !crate::ftp::command_safe(s) {
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

/// `modes:` non-empty, without repeats. Reported at the list, as in docs/configuration.md's
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
    } else if crate::check::labels::EXPORTER_LABELS.contains(&name) {
        Err(format!("label {name:?} is set by the exporter itself; choose another name"))
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
                // Checked while the key is read, so the error points at its line.
                while let Some(Text(LabelName(name))) = map.next_key::<Text<LabelName>>()? {
                    let value: String = map.next_value()?;
                    if labels.insert(name.clone(), value).is_some() {
                        // Same wording as serde's, so both get the repeat's line (mod.rs).
                        return Err(de::Error::custom(format!("duplicate field `{name}`")));
                    }
                }
                Ok(Labels(labels))
            }
        }
        d.deserialize_map(V)
    }
}

/// A label name accepted by [`check_label_name`].
struct LabelName(String);

impl FromText for LabelName {
    const EXPECTING: &'static str = "a label name";
    fn from_text(s: &str) -> Result<Self, String> {
        check_label_name(s).map(|()| LabelName(s.to_string()))
    }
}

/// Histogram buckets: finite and strictly increasing, as Prometheus requires.
#[derive(Debug, Clone, PartialEq)]
pub struct Buckets(pub Vec<f64>);

impl<'de> Deserialize<'de> for Buckets {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Buckets;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of bucket bounds in seconds")
            }
            // Checked inside the visitor so the error carries the list's line.
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Buckets, A::Error> {
                let mut v: Vec<f64> = Vec::new();
                while let Some(b) = seq.next_element::<f64>()? {
                    if !b.is_finite() {
                        return Err(de::Error::custom(format!(
                            "bucket {b} is not finite (+Inf is always added)"
                        )));
                    }
                    if let Some(prev) = v.last().filter(|p| **p >= b) {
                        return Err(de::Error::custom(format!(
                            "buckets must be strictly increasing, but {prev} is followed by {b}"
                        )));
                    }
                    v.push(b);
                }
                Ok(Buckets(v))
            }
        }
        d.deserialize_seq(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
