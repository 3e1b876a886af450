//! `--log.level` and `--log.format=logfmt|json`, the flags every Prometheus
//! exporter has, so log pipelines built for them parse this one too:
//! `ts=… level=warn msg="check failing" target=partner-drop mode=active …`.

use std::fmt;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::EnvFilter;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Logfmt,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogLevel {
    Debug,
    Info,
    Warn,
    Error,
}

impl LogLevel {
    fn as_str(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        }
    }
}

/// Installs the global subscriber, writing to stderr. Dependencies log at
/// `warn` at most, whatever the level: their debug output is not ours to promise.
pub fn init(level: LogLevel, format: LogFormat) {
    // libunftp (the demo's server) logs every refused login at warn: the demo
    // fails one on purpose every interval, so only its errors are shown.
    let filter = EnvFilter::new(format!("warn,libunftp=error,ftp_exporter={}", level.as_str()));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match format {
        // No `target` (module path) key: events carry a `target` field (the FTP
        // target's name) and JSON objects must not repeat a key. A check's
        // span (target, mode) comes as the `span` object.
        LogFormat::Json => {
            builder.json().flatten_event(true).with_target(false).with_current_span(true).try_init()
        }
        LogFormat::Logfmt => builder.fmt_fields(LogfmtFields).event_format(Logfmt).try_init(),
    };
}

/// Formats a span's fields as logfmt (` key=value`), so an event inside a
/// check's span is written with that check's `target` and `mode`: every
/// line the engine logs says which check it belongs to.
pub struct LogfmtFields;

impl<'writer> FormatFields<'writer> for LogfmtFields {
    fn format_fields<R: RecordFields>(&self, mut writer: Writer<'writer>, fields: R) -> fmt::Result {
        let mut f = Fields { msg: String::new(), rest: String::new() };
        fields.record(&mut f);
        writer.write_str(&f.rest)
    }
}

/// One logfmt line per event.
pub struct Logfmt;

/// Quotes a value when logfmt needs it (spaces, quotes, `=`, empty).
fn value(out: &mut String, v: &str) {
    if !v.is_empty() && v.chars().all(|c| c.is_ascii_graphic() && c != '"' && c != '=' && c != '\\') {
        out.push_str(v);
        return;
    }
    out.push('"');
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out.push('"');
}

struct Fields {
    msg: String,
    rest: String,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, v: &str) {
        if field.name() == "message" {
            self.msg = v.to_string();
        } else {
            self.rest.push(' ');
            self.rest.push_str(field.name());
            self.rest.push('=');
            value(&mut self.rest, v);
        }
    }

    fn record_debug(&mut self, field: &Field, v: &dyn fmt::Debug) {
        self.record_str(field, &format!("{v:?}"));
    }
}

impl<S, N> FormatEvent<S, N> for Logfmt
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut w: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let mut fields = Fields { msg: String::new(), rest: String::new() };
        event.record(&mut fields);
        let level = match *event.metadata().level() {
            Level::ERROR => "error",
            Level::WARN => "warn",
            Level::INFO => "info",
            Level::DEBUG => "debug",
            Level::TRACE => "trace",
        };
        let mut line = format!(
            "ts={} level={level} msg=",
            humantime::format_rfc3339_millis(std::time::SystemTime::now())
        );
        value(&mut line, &fields.msg);
        line.push_str(&fields.rest);
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                if let Some(f) = span.extensions().get::<FormattedFields<N>>() {
                    line.push_str(f);
                }
            }
        }
        writeln!(w, "{line}")
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn events_inside_a_check_carry_its_target_and_mode() {
        let buf = Buf::default();
        let out = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || out.clone())
            .fmt_fields(LogfmtFields)
            .event_format(Logfmt)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("check", target = "partner drop", mode = "active");
            let _in = span.enter();
            tracing::warn!(phase = "data_connect", "data connection not opened");
        });
        let line = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert!(
            line.contains(
                r#"msg="data connection not opened" phase=data_connect target="partner drop" mode=active"#
            ),
            "{line}"
        );
    }

    #[test]
    fn values_are_quoted_only_when_needed() {
        let q = |v: &str| {
            let mut s = String::new();
            value(&mut s, v);
            s
        };
        assert_eq!(q("auth_failed"), "auth_failed");
        assert_eq!(q(""), r#""""#);
        assert_eq!(q("530 Login incorrect"), r#""530 Login incorrect""#);
        assert_eq!(q("a\"b\nc"), r#""a\"b\nc""#);
    }
}
