//! Query strings are checked before any handler reads them: a query that is
//! huge, badly encoded or names a parameter twice is refused with 400
//! instead of being guessed at (`target=a&target=b`: which one to probe?).

/// Longest query string accepted. `/probe?target=…&module=…` needs a few
/// hundred bytes; 8 KiB is the common limit of proxies in front of exporters.
pub const MAX_QUERY_BYTES: usize = 8 * 1024;

/// The parameters handlers read; each may appear once. Others are ignored
/// (Prometheus and browsers add their own, e.g. cache-busting `_=…`).
const PARAMETERS: [&str; 4] = ["target", "mode", "debug", "module"];

/// `Err` is the message for the 400 answer.
pub fn check(query: &str) -> Result<(), String> {
    if query.len() > MAX_QUERY_BYTES {
        return Err(format!("query string longer than {MAX_QUERY_BYTES} bytes"));
    }
    let mut seen = [false; PARAMETERS.len()];
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = decode(key)?;
        decode(value)?;
        if let Some(i) = PARAMETERS.iter().position(|p| *p == key) {
            if std::mem::replace(&mut seen[i], true) {
                return Err(format!("parameter {key:?} given more than once"));
            }
        }
    }
    Ok(())
}

/// `application/x-www-form-urlencoded` decoding that refuses what
/// `form_urlencoded` would silently repair: `%` without two hex digits, and
/// bytes that are not UTF-8.
fn decode(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                // from_str_radix alone would take "+1".
                let hex = b.get(i + 1..i + 3).filter(|h| h.iter().all(u8::is_ascii_hexdigit));
                let byte = hex.and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok());
                out.push(byte.ok_or_else(|| format!("invalid percent-encoding in {:?}", snippet(s)))?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| format!("query parameter {:?} is not UTF-8", snippet(s)))
}

fn snippet(s: &str) -> String {
    s.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_prometheus_and_the_status_page_send() {
        for q in [
            "",
            "target=good",
            "target=good&mode=active&debug=true",
            "target=a%20b&_=1&_=2",
            "module=m&target=%5B%3A%3A1%5D%3A21",
            "target=x+y&",
        ] {
            assert_eq!(check(q), Ok(()), "{q}");
        }
    }

    #[test]
    fn refuses_huge_badly_encoded_and_repeated() {
        assert!(check(&format!("target={}", "a".repeat(MAX_QUERY_BYTES)))
            .unwrap_err()
            .contains("longer than"));
        for (q, wanted) in [
            ("target=%zz", "percent-encoding"),
            ("target=%4", "percent-encoding"),
            ("target=abc%", "percent-encoding"),
            ("target=%+1", "percent-encoding"),
            ("target=%ff", "not UTF-8"),
            ("target=a&target=b", "more than once"),
            ("mode=active&target=a&mode=passive", "more than once"),
            ("%74arget=a&target=b", "more than once"),
        ] {
            assert!(check(q).unwrap_err().contains(wanted), "{q}");
        }
    }
}
