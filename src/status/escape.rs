//! The one escaper for everything people read: HTML pages and SVG
//! diagrams. Banners and reply texts are chosen by the FTP server, target
//! names, addresses and labels by whoever writes the config (docs/security.md).

/// Escapes text for element content and double- or single-quoted
/// attributes, in HTML and in XML (SVG). Control characters and the
/// noncharacters U+FFFE/U+FFFF become U+FFFD: XML 1.0 forbids them (an
/// SVG with one would not parse at all), and on a page they are a
/// terminal escape or a line break a server slipped into a reply.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// A query-string value, percent-encoded (and `&`-safe inside an attribute).
pub fn query_value(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// `text` cut to `max` characters, with `…` when cut.
pub fn fit(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut t: String = text.chars().take(max.saturating_sub(1)).collect();
    t.push('…');
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_quotes_and_control_characters() {
        assert_eq!(
            escape("<script>alert('x')</script>\"&\u{1b}[31m\u{7}\u{0}\u{FFFF}"),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&quot;&amp;\u{FFFD}[31m\u{FFFD}\u{FFFD}\u{FFFD}"
        );
        assert_eq!(escape("tab\tand\nnewline"), "tab\u{FFFD}and\u{FFFD}newline");
        assert_eq!(query_value("a b&c"), "a+b%26c");
    }

    #[test]
    fn fit_cuts_by_characters() {
        assert_eq!(fit("héllo", 5), "héllo");
        assert_eq!(fit("héllo wörld", 6), "héllo…");
    }
}
