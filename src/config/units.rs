//! Durations (`500ms`, `10s`, `1m30s`, `1h`) and sizes (`4096`, `64KiB`,
//! `1MiB`, `1MB`) as they are written in the file.
//!
//! Both are checked while serde reads them, so a bad value is reported with
//! its line and key by the parser itself.

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserialize, Deserializer, Visitor};

/// A duration greater than zero: a zero interval would spin and a zero
/// timeout would fail every check, so neither is ever what was meant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PositiveDuration(pub Duration);

/// Longest duration accepted: a week is already more than any check
/// interval makes sense for, and bounding it keeps clock arithmetic safe.
pub const MAX_DURATION: Duration = Duration::from_secs(7 * 24 * 3600);

/// Parses `500ms`, `10s`, `1m30s`, `1h` (humantime syntax). A bare number
/// is refused: `60` could mean seconds or milliseconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let hint = "expected a number with a unit, e.g. 500ms, 10s, 1m30s, 1h";
    let d = humantime::parse_duration(s.trim()).map_err(|_| format!("invalid duration {s:?}, {hint}"))?;
    if d.is_zero() {
        return Err(format!("duration {s:?} must be greater than 0"));
    }
    if d > MAX_DURATION {
        return Err(format!("duration {s:?} is longer than a week"));
    }
    Ok(d)
}

impl<'de> Deserialize<'de> for PositiveDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = PositiveDuration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as 10s")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<PositiveDuration, E> {
                parse_duration(s).map(PositiveDuration).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<PositiveDuration, E> {
                Err(E::custom(format!("duration {n} has no unit, write e.g. {n}s or {n}ms")))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<PositiveDuration, E> {
                Err(E::custom(format!("duration {n} has no unit, write e.g. {n}s or {n}ms")))
            }
        }
        d.deserialize_any(V)
    }
}

/// A byte count: a plain integer, or a number with a unit. Binary units
/// (`KiB`, `MiB`, `GiB`) are powers of 1024, decimal ones (`KB`, `MB`, `GB`)
/// powers of 1000, as in Kubernetes quantities and most storage tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub u64);

pub fn parse_size(s: &str) -> Result<u64, String> {
    let bad = || format!("invalid size {s:?}, expected bytes such as 4096, 64KiB, 1MiB or 1MB");
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().map_err(|_| bad())?;
    let mult: u64 = match unit.trim() {
        "" | "B" => 1,
        "KB" | "kB" => 1000,
        "MB" => 1000 * 1000,
        "GB" => 1000 * 1000 * 1000,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => return Err(bad()),
    };
    n.checked_mul(mult).ok_or_else(|| format!("size {s:?} is too large"))
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ByteSize;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a size such as 4096 or 1MiB")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<ByteSize, E> {
                parse_size(s).map(ByteSize).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<ByteSize, E> {
                Ok(ByteSize(n))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<ByteSize, E> {
                u64::try_from(n).map(ByteSize).map_err(|_| E::custom(format!("size {n} is negative")))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_spec_syntax() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert!(parse_duration("0s").unwrap_err().contains("greater than 0"));
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("ten seconds").is_err());
    }

    #[test]
    fn sizes_binary_and_decimal() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64KiB"), Ok(65536));
        assert_eq!(parse_size("1MiB"), Ok(1_048_576));
        assert_eq!(parse_size("1MB"), Ok(1_000_000));
        assert_eq!(parse_size("2 GiB"), Ok(2 << 30));
        assert!(parse_size("1.5MiB").is_err());
        assert!(parse_size("1TB").is_err());
        assert!(parse_size("-1").is_err());
        assert!(parse_size("99999999999999999999GiB").is_err());
        assert!(parse_size("18446744073709551615GiB").unwrap_err().contains("too large"));
    }
}
