//! Properties of the wire codecs and the reply reader (proptest): encode →
//! decode round trips over every address and port, no panic on arbitrary
//! text, and a reply reader that reads well-formed replies back whatever
//! the read boundaries and keeps its bounds on anything.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4};

use ftp_exporter::ftp::address::{format_eprt, format_port, parse_229, parse_eprt, parse_host_port};
use ftp_exporter::ftp::reply::{MAX_LINE, MAX_LINES, MAX_REPLY_BYTES};
use ftp_exporter::fuzzing::{read_replies, reply_reader};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn port_and_227_round_trip(ip in any::<u32>(), port in any::<u16>()) {
        let addr = SocketAddrV4::new(Ipv4Addr::from(ip), port);
        let arg = format_port(addr);
        prop_assert_eq!(parse_host_port(&arg), Ok(addr));
        // As the server writes it in a 227 reply, with and without the parentheses.
        prop_assert_eq!(parse_host_port(&format!("Entering Passive Mode ({arg})")), Ok(addr));
        prop_assert_eq!(parse_host_port(&format!("Entering Passive Mode {arg}.")), Ok(addr));
    }

    #[test]
    fn eprt_round_trips_v4_and_v6(v4 in any::<u32>(), v6 in any::<u128>(), port in any::<u16>()) {
        for addr in [SocketAddr::from((Ipv4Addr::from(v4), port)), SocketAddr::from((Ipv6Addr::from(v6), port))] {
            prop_assert_eq!(parse_eprt(&format_eprt(addr)), Ok(addr));
        }
    }

    #[test]
    fn epsv_229_round_trips(port in 1u16.., d in "[!-~]") {
        // RFC 2428 §3: any printable delimiter; digits would be ambiguous.
        prop_assume!(!d.chars().all(|c| c.is_ascii_digit()) && d != "(" && d != ")");
        let text = format!("Entering Extended Passive Mode ({d}{d}{d}{port}{d})");
        prop_assert_eq!(parse_229(&text), Ok(port));
    }

    #[test]
    fn decoders_never_panic(text in "\\PC{0,80}", noise in proptest::collection::vec(any::<u8>(), 0..80)) {
        for t in [text.clone(), String::from_utf8_lossy(&noise).into_owned()] {
            let _ = (parse_host_port(&t), parse_eprt(&t), parse_229(&t));
        }
    }
}

/// One well-formed reply: single line, or multi-line with inner lines that
/// may start with digits (RFC 959 §4.2), and how it was written.
fn reply() -> impl Strategy<Value = (u16, Vec<String>)> {
    let text = "[ -~]{0,30}";
    let inner = prop_oneof!["[ -~]{0,30}", "[0-9]{3}[ -][ -~]{0,10}"];
    (100u16..600, proptest::collection::vec(inner, 0..6), text).prop_map(|(code, inner, last)| {
        if inner.is_empty() {
            (code, vec![format!("{code} {last}")])
        } else {
            // An inner line must not end the reply: not "<code>" nor "<code> …".
            let mut lines: Vec<String> = vec![format!("{code}-first")];
            let ends = |l: &String| *l == code.to_string() || l.starts_with(&format!("{code} "));
            lines.extend(inner.into_iter().filter(|l| !ends(l)));
            lines.push(format!("{code} {last}"));
            (code, lines)
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn replies_read_back_whatever_the_splits(
        replies in proptest::collection::vec(reply(), 1..8),
        sizes in proptest::collection::vec(1usize..64, 0..16),
        crlf in any::<bool>(),
    ) {
        let eol = if crlf { "\r\n" } else { "\n" };
        let wire: String = replies.iter().flat_map(|(_, lines)| lines.iter().map(move |l| format!("{l}{eol}"))).collect();
        let (read, end) = read_replies(wire.as_bytes(), sizes);
        let read: Vec<(u16, Vec<String>)> = read.into_iter().map(|r| (r.code, r.lines)).collect();
        prop_assert_eq!(read, replies);
        prop_assert_eq!(end, "server closed the connection");
    }

    /// Arbitrary bytes in arbitrary splits: the bounds hold, the result does
    /// not depend on the splits (the fuzz target's property, here on stable).
    #[test]
    fn arbitrary_bytes_keep_the_bounds(bytes in proptest::collection::vec(any::<u8>(), 0..2048), sizes in proptest::collection::vec(any::<u8>(), 0..8)) {
        let mut input = vec![sizes.len() as u8];
        input.extend(&sizes);
        input.extend(&bytes);
        reply_reader(&input);
    }
}

/// The bounds at their edges, from the generator's side: the longest line
/// accepted, one byte more, the most lines, one line more.
#[test]
fn bounds_at_their_edges() {
    let line = |n: usize| format!("220 {}\r\n", "x".repeat(n - 4));
    let (ok, _) = read_replies(line(MAX_LINE).as_bytes(), vec![1000]);
    assert_eq!(ok.len(), 1);
    let (none, end) = read_replies(line(MAX_LINE + 1).as_bytes(), vec![1000]);
    assert!(none.is_empty() && end.contains("longer than"), "{end}");

    let many = |n: usize| {
        let mut s = String::from("211-start\r\n");
        s.push_str(&" x\r\n".repeat(n - 2));
        s.push_str("211 end\r\n");
        s
    };
    let (ok, _) = read_replies(many(MAX_LINES).as_bytes(), vec![]);
    assert_eq!(ok[0].lines.len(), MAX_LINES);
    let (none, end) = read_replies(many(MAX_LINES + 1).as_bytes(), vec![]);
    assert!(none.is_empty() && end.contains("longer than"), "{end}");

    let big = format!("211-start\r\n{}211 end\r\n", format!(" {}\r\n", "y".repeat(8000)).repeat(9));
    assert!(big.len() > MAX_REPLY_BYTES);
    let (none, end) = read_replies(big.as_bytes(), vec![]);
    assert!(none.is_empty() && end.contains("longer than"), "{end}");
}
