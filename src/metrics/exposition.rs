//! Writing the Prometheus text format (version 0.0.4) and OpenMetrics 1.0
//! straight into one buffer: no per-series allocation, so a scrape of ten
//! thousand targets costs one buffer and the time to fill it.
//!
//! The two formats differ only in a few places, all handled here: a
//! counter's family is named without `_total` in OpenMetrics, an info
//! metric has its own type there, and OpenMetrics ends with `# EOF`.

/// Which exposition format to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `text/plain; version=0.0.4`.
    Text,
    /// `application/openmetrics-text; version=1.0.0`.
    OpenMetrics,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// The type of a metric family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Gauge,
    Counter,
    Histogram,
    /// A gauge of value 1 carrying labels, named `…_info` (an OpenMetrics `info`).
    Info,
}

pub struct Writer {
    buf: Vec<u8>,
    format: Format,
    /// Whether the current series has written a label yet.
    open: bool,
}

impl Writer {
    /// `capacity`: the size of the previous scrape, so the buffer grows once.
    pub fn new(format: Format, capacity: usize) -> Self {
        Writer { buf: Vec::with_capacity(capacity), format, open: false }
    }

    pub fn format(&self) -> Format {
        self.format
    }

    /// `# HELP` and `# TYPE` of a family. `name` is the sample name as in
    /// the text format (`ftp_checks_total`, `ftp_target_info`).
    pub fn family(&mut self, name: &str, kind: Kind, help: &str) {
        let (family, kind_str) = match (self.format, kind) {
            (_, Kind::Gauge) => (name, "gauge"),
            (_, Kind::Histogram) => (name, "histogram"),
            (Format::Text, Kind::Counter) => (name, "counter"),
            (Format::Text, Kind::Info) => (name, "gauge"),
            (Format::OpenMetrics, Kind::Counter) => (name.strip_suffix("_total").unwrap_or(name), "counter"),
            (Format::OpenMetrics, Kind::Info) => (name.strip_suffix("_info").unwrap_or(name), "info"),
        };
        self.buf.extend_from_slice(b"# HELP ");
        self.buf.extend_from_slice(family.as_bytes());
        self.buf.push(b' ');
        for b in help.bytes() {
            match b {
                b'\\' => self.buf.extend_from_slice(b"\\\\"),
                b'\n' => self.buf.extend_from_slice(b"\\n"),
                b'"' if self.format == Format::OpenMetrics => self.buf.extend_from_slice(b"\\\""),
                b => self.buf.push(b),
            }
        }
        self.buf.extend_from_slice(b"\n# TYPE ");
        self.buf.extend_from_slice(family.as_bytes());
        self.buf.push(b' ');
        self.buf.extend_from_slice(kind_str.as_bytes());
        self.buf.push(b'\n');
    }

    /// Starts a sample of `name` (with `suffix`, e.g. `_bucket`).
    pub fn series(&mut self, name: &str, suffix: &str) -> &mut Self {
        self.buf.extend_from_slice(name.as_bytes());
        self.buf.extend_from_slice(suffix.as_bytes());
        self.open = false;
        self
    }

    /// Adds a label; label names are the exporter's own or validated at load.
    pub fn label(&mut self, name: &str, value: &str) -> &mut Self {
        self.buf.push(if self.open { b',' } else { b'{' });
        self.open = true;
        self.buf.extend_from_slice(name.as_bytes());
        self.buf.extend_from_slice(b"=\"");
        escape_value(&mut self.buf, value);
        self.buf.push(b'"');
        self
    }

    /// A label whose value is a number (`le="0.5"`).
    pub fn label_f64(&mut self, name: &str, value: f64) -> &mut Self {
        self.buf.push(if self.open { b',' } else { b'{' });
        self.open = true;
        self.buf.extend_from_slice(name.as_bytes());
        self.buf.extend_from_slice(b"=\"");
        write_f64(&mut self.buf, value);
        self.buf.push(b'"');
        self
    }

    /// Ends the sample with its value.
    pub fn value(&mut self, v: f64) {
        self.close_labels();
        write_f64(&mut self.buf, v);
        self.buf.push(b'\n');
    }

    /// Ends the sample with an integer value (counts, bytes).
    pub fn value_u64(&mut self, v: u64) {
        self.close_labels();
        let mut b = itoa::Buffer::new();
        self.buf.extend_from_slice(b.format(v).as_bytes());
        self.buf.push(b'\n');
    }

    fn close_labels(&mut self) {
        if self.open {
            self.buf.push(b'}');
            self.open = false;
        }
        self.buf.push(b' ');
    }

    /// The finished exposition.
    pub fn finish(mut self) -> Vec<u8> {
        if self.format == Format::OpenMetrics {
            self.buf.extend_from_slice(b"# EOF\n");
        }
        self.buf
    }
}

/// Label value escaping of both formats: backslash, double quote, line feed.
fn escape_value(buf: &mut Vec<u8>, value: &str) {
    let bytes = value.as_bytes();
    if !bytes.iter().any(|b| matches!(b, b'\\' | b'"' | b'\n')) {
        buf.extend_from_slice(bytes);
        return;
    }
    for &b in bytes {
        match b {
            b'\\' => buf.extend_from_slice(b"\\\\"),
            b'"' => buf.extend_from_slice(b"\\\""),
            b'\n' => buf.extend_from_slice(b"\\n"),
            b => buf.push(b),
        }
    }
}

/// Integers without a fraction (`1`, `1800000000`), others in the shortest
/// form that reads back exactly, `NaN`, `+Inf`, `-Inf` — what both formats
/// and Prometheus' parser accept.
pub fn write_f64(buf: &mut Vec<u8>, v: f64) {
    if v.is_nan() {
        buf.extend_from_slice(b"NaN");
    } else if v.is_infinite() {
        buf.extend_from_slice(if v > 0.0 { b"+Inf" } else { b"-Inf" });
    } else if v == v.trunc() && v.abs() < 1e15 {
        let mut b = itoa::Buffer::new();
        buf.extend_from_slice(b.format(v as i64).as_bytes());
    } else {
        // The shortest representation that reads back exactly (Ryū), what
        // Prometheus' own Go client writes too (strconv 'g', -1).
        let mut b = ryu::Buffer::new();
        buf.extend_from_slice(b.format_finite(v).as_bytes());
    }
}

/// [`write_f64`] into a `String` (for values formatted once and reused).
pub fn format_f64(v: f64) -> String {
    let mut b = Vec::new();
    write_f64(&mut b, v);
    String::from_utf8(b).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(v: f64) -> String {
        format_f64(v)
    }

    #[test]
    fn numbers() {
        assert_eq!(num(1.0), "1");
        assert_eq!(num(0.0), "0");
        assert_eq!(num(-0.0), "0");
        assert_eq!(num(1_800_000_000.0), "1800000000");
        assert_eq!(num(0.05), "0.05");
        assert_eq!(num(0.123456789), "0.123456789");
        assert_eq!(num(f64::INFINITY), "+Inf");
        assert_eq!(num(f64::NEG_INFINITY), "-Inf");
        assert_eq!(num(f64::NAN), "NaN");
        assert_eq!(num(1e300).parse::<f64>().unwrap(), 1e300);
    }

    #[test]
    fn families_and_series_in_both_formats() {
        for format in [Format::Text, Format::OpenMetrics] {
            let mut w = Writer::new(format, 0);
            w.family("ftp_checks_total", Kind::Counter, "Checks \"done\".\nSecond line \\.");
            w.series("ftp_checks_total", "")
                .label("mode", "passive")
                .label("target", "a\"b\\c\nd")
                .value_u64(3);
            w.family("ftp_target_info", Kind::Info, "Facts.");
            w.series("ftp_target_info", "").label("target", "a").value(1.0);
            w.family("ftp_exporter_targets", Kind::Gauge, "Targets.");
            w.series("ftp_exporter_targets", "").value(2.0);
            let text = String::from_utf8(w.finish()).unwrap();
            assert!(
                text.contains("ftp_checks_total{mode=\"passive\",target=\"a\\\"b\\\\c\\nd\"} 3\n"),
                "{text}"
            );
            assert!(text.contains("ftp_exporter_targets 2\n"));
            match format {
                Format::Text => {
                    assert!(text.contains("# TYPE ftp_checks_total counter\n"));
                    assert!(text.contains("# HELP ftp_checks_total Checks \"done\".\\nSecond line \\\\.\n"));
                    assert!(text.contains("# TYPE ftp_target_info gauge\n"));
                    assert!(!text.contains("# EOF"));
                }
                Format::OpenMetrics => {
                    assert!(text.contains("# TYPE ftp_checks counter\n"));
                    assert!(text.contains("# HELP ftp_checks Checks \\\"done\\\".\\nSecond line \\\\.\n"));
                    assert!(text.contains("# TYPE ftp_target info\n"));
                    assert!(text.ends_with("# EOF\n"));
                }
            }
        }
    }
}
