//! `ftp_exporter probe URL`: one check per mode, now, with a transcript,
//! per-phase timings and a diagnosis — the 3 a.m. tool (docs/flags.md).

use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use serde_json::json;

use crate::check::{self, CheckEnv, CheckPlan, IpProtocol, Mode, Outcome, RetrieveSpec, TlsMode, Toggle};
use crate::secret::Secret;

/// Exit codes of `probe` (docs/flags.md).
pub const EXIT_OK: i32 = 0;
pub const EXIT_FAILED: i32 = 1;
pub const EXIT_USAGE: i32 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModeArg {
    Passive,
    Active,
    Both,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TlsArg {
    Explicit,
    Implicit,
}

/// What `probe` prints (`--output text|json|svg FILE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    Text,
    Json,
    /// The sequence diagram of each mode, side by side, written to this file.
    Svg(PathBuf),
}

#[derive(Debug, Clone, Args)]
pub struct ProbeArgs {
    /// `ftp://user@host[:port][/path]`: a path ending in `/` (or none) is listed, any other is retrieved.
    /// The password comes from the FTP_PASSWORD environment variable.
    pub url: Option<String>,
    #[arg(long, value_enum, default_value = "both")]
    pub mode: ModeArg,
    #[arg(long, value_enum)]
    pub tls: Option<TlsArg>,
    /// Deadline of each check, e.g. 10s, 1m30s.
    #[arg(long, default_value = "15s", value_parser = crate::config::parse_duration)]
    pub timeout: Duration,
    /// `text`, `json`, or `svg FILE`: the sequence diagram of each mode (side by side) written to
    /// FILE, the summary lines on stdout.
    #[arg(long, num_args = 1..=2, value_names = ["FORMAT", "FILE"], default_value = "text")]
    pub output: Vec<String>,
    /// Only connect, log in and quit: no data connection.
    #[arg(long)]
    pub login_only: bool,
    /// Passive: connect to the address in the 227 reply instead of the control peer.
    #[arg(long)]
    pub trust_advertised_address: bool,
    /// Address families to connect over: auto (Happy Eyeballs, IPv6 first), ipv4 or ipv6.
    #[arg(long, default_value = "auto", value_parser = parse_ip_protocol)]
    pub ip_protocol: IpProtocol,
    #[arg(long, default_value = "auto", value_parser = parse_toggle)]
    pub epsv: Toggle,
    #[arg(long, default_value = "auto", value_parser = parse_toggle)]
    pub eprt: Toggle,
    /// Active: where to listen for the server's data connection.
    #[arg(long)]
    pub active_listen_address: Option<IpAddr>,
    /// Active: the address to put in PORT/EPRT (exporter behind NAT).
    #[arg(long)]
    pub active_advertise_address: Option<IpAddr>,
    /// Active: listen on a port of this range, e.g. 50000-50100.
    #[arg(long, value_parser = crate::check::plan::parse_port_range)]
    pub active_port_range: Option<std::ops::RangeInclusive<u16>>,
    #[arg(long)]
    pub tls_ca_file: Option<PathBuf>,
    #[arg(long)]
    pub tls_server_name: Option<String>,
    #[arg(long)]
    pub tls_insecure_skip_verify: bool,
    /// Cap TLS at version 1.2.
    #[arg(long)]
    pub tls12: bool,
}

fn parse_toggle(s: &str) -> Result<Toggle, String> {
    s.parse()
}

fn parse_ip_protocol(s: &str) -> Result<IpProtocol, String> {
    s.parse()
}

impl ProbeArgs {
    /// The output asked for, or a usage error. `--output` takes one or two
    /// values, so in `--output json ftp://…` the URL lands in the second:
    /// it is taken back as the URL.
    pub fn output(&mut self) -> Result<Output, String> {
        let (format, file) = match self.output.as_slice() {
            [f] => (f.as_str(), None),
            [f, file] => (f.as_str(), Some(file.clone())),
            _ => ("text", None),
        };
        match (format, file) {
            ("svg", Some(file)) => Ok(Output::Svg(PathBuf::from(file))),
            ("svg", None) => Err("--output svg needs a file: --output svg diagram.svg".into()),
            ("text" | "json", Some(url)) if self.url.is_none() => {
                self.url = Some(url);
                self.output.truncate(1);
                self.output()
            }
            ("text" | "json", Some(_)) => Err(format!("--output {format} takes no file (only svg does)")),
            ("text", None) => Ok(Output::Text),
            ("json", None) => Ok(Output::Json),
            (other, _) => Err(format!("--output {other:?}: expected text, json or svg FILE")),
        }
    }

    /// The plan for `mode`, or a usage error.
    pub fn plan(&self, mode: Mode, password: Option<String>) -> Result<CheckPlan, String> {
        let url = self.url.as_deref().ok_or("the URL is missing: ftp_exporter probe ftp://user@host/")?;
        // The URL is not echoed: it may carry a password after all.
        let url = url::Url::parse(url).map_err(|e| format!("invalid URL: {e}"))?;
        let implicit_scheme = match url.scheme() {
            "ftp" => false,
            "ftps" => true,
            other => {
                return Err(format!("unsupported scheme {other:?}: use ftp:// (or ftps:// for implicit TLS)"))
            }
        };
        if url.password().is_some() {
            return Err("do not put the password in the URL (it lands in shell history and process lists): \
                        set FTP_PASSWORD"
                .into());
        }
        let host = url.host_str().ok_or("the URL has no host")?;
        let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
        let tls = match (self.tls, implicit_scheme) {
            (Some(TlsArg::Explicit), false) => TlsMode::Explicit,
            (Some(TlsArg::Implicit), _) | (None, true) => TlsMode::Implicit,
            (Some(TlsArg::Explicit), true) => {
                return Err("ftps:// means implicit TLS; use ftp:// with --tls explicit".into())
            }
            (None, false) => TlsMode::None,
        };
        let port = url.port().unwrap_or(tls.default_port());
        let mut plan = CheckPlan::new(host, port, mode);
        if !url.username().is_empty() {
            plan.username = command_safe("user name", percent_decode(url.username()))?;
        }
        if let Some(pw) = password {
            // Not echoed: only that it is unusable.
            command_safe("x", pw.clone()).map_err(|_| "FTP_PASSWORD contains a line break or NUL")?;
            plan.password = Secret::new(pw);
        }
        plan.timeout = self.timeout;
        plan.login_only = self.login_only;
        let path = command_safe("path", percent_decode(url.path()))?;
        if !self.login_only && !path.is_empty() && path != "/" {
            if path.ends_with('/') {
                plan.list = Some(path);
            } else {
                plan.retrieve = Some(RetrieveSpec { path, sha256: None, size: None, max_bytes: 64 << 20 });
            }
        }
        plan.tls.mode = tls;
        plan.tls.ca_file = self.tls_ca_file.clone();
        plan.tls.server_name = self.tls_server_name.clone();
        plan.tls.insecure_skip_verify = self.tls_insecure_skip_verify;
        plan.tls.max_version_tls12 = self.tls12;
        plan.passive.trust_advertised_address = self.trust_advertised_address;
        plan.passive.epsv = self.epsv;
        plan.ip_protocol = self.ip_protocol;
        plan.active.eprt = self.eprt;
        plan.active.listen_address = self.active_listen_address;
        plan.active.advertise_address = self.active_advertise_address;
        plan.active.port_range = self.active_port_range.clone();
        Ok(plan)
    }

    fn modes(&self) -> Vec<Mode> {
        match self.mode {
            ModeArg::Passive => vec![Mode::Passive],
            ModeArg::Active => vec![Mode::Active],
            ModeArg::Both => vec![Mode::Passive, Mode::Active],
        }
    }
}

/// Values sent as FTP command arguments ([`crate::ftp::command_safe`]):
/// `%0d%0a` in a URL would put a second command on the wire.
fn command_safe(what: &str, value: String) -> Result<String, String> {
    if !crate::ftp::command_safe(&value) {
        return Err(format!("the {what} contains a line break or NUL"));
    }
    Ok(value)
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| s.to_string())
}

/// Runs the probe and prints to stdout; returns the exit code.
pub async fn run(mut args: ProbeArgs) -> i32 {
    let output = match args.output() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("ftp_exporter probe: {e}");
            return EXIT_USAGE;
        }
    };
    let password = std::env::var("FTP_PASSWORD").ok();
    let mut plans = Vec::new();
    for mode in args.modes() {
        match args.plan(mode, password.clone()) {
            Ok(p) => plans.push(p),
            Err(e) => {
                eprintln!("ftp_exporter probe: {e}");
                return EXIT_USAGE;
            }
        }
    }
    let env = CheckEnv::default();
    let mut outcomes = Vec::new();
    // One mode after the other: servers cap connections per client address.
    for plan in &plans {
        outcomes.push(check::run(plan, &env).await);
    }
    let refs: Vec<&Outcome> = outcomes.iter().collect();
    let diagnosis = check::diagnose(&refs).map(|d| d.summary);
    let text = match &output {
        Output::Text => render_text(&outcomes, diagnosis.as_deref()),
        Output::Json => render_json(&outcomes, diagnosis.as_deref()),
        Output::Svg(file) => {
            let server = plans.first().map(|p| server_address(&p.host, p.port)).unwrap_or_default();
            let svg = render_svg(&server, &outcomes, diagnosis.as_deref());
            if let Err(e) = tokio::fs::write(file, svg).await {
                eprintln!("ftp_exporter probe: cannot write {}: {e}", file.display());
                return EXIT_USAGE;
            }
            render_summary(&outcomes, diagnosis.as_deref(), file)
        }
    };
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
    if outcomes.iter().all(Outcome::success) {
        EXIT_OK
    } else {
        EXIT_FAILED
    }
}

pub fn render_text(outcomes: &[Outcome], diagnosis: Option<&str>) -> String {
    let mut s = String::new();
    for o in outcomes {
        s.push_str(&format!("=== {} mode ===\n{}", o.mode, o.transcript));
        let phases: Vec<String> =
            o.phases.iter().map(|(p, d)| format!("{p} {:.3}s", d.as_secs_f64())).collect();
        s.push_str(&format!("phases: {}\n", phases.join(", ")));
        if !o.bytes.is_empty() {
            let bytes: Vec<String> = o.bytes.iter().map(|(op, n)| format!("{op} {n}")).collect();
            s.push_str(&format!("bytes: {}\n", bytes.join(", ")));
        }
        if let Some(tls) = &o.tls {
            s.push_str(&format!("tls: {} {}", tls.version, tls.cipher));
            if let Some(t) = tls.cert_not_after {
                s.push_str(&format!(", certificate valid until {}", fmt_unix(t)));
            }
            if !tls.data_resumed.is_empty() {
                s.push_str(&format!(", data connections resumed: {:?}", tls.data_resumed));
            }
            s.push('\n');
        }
        if o.passive_address_mismatch == Some(true) {
            s.push_str(
                "passive address mismatch: the 227 reply advertises another address than the control peer\n",
            );
        }
        if let Some(f) = &o.failure {
            s.push_str(&format!("error: {}\n", f.message));
        }
        s.push('\n');
    }
    if let Some(d) = diagnosis {
        s.push_str(&format!("diagnosis: {d}\n"));
    }
    for o in outcomes {
        s.push_str(&o.summary());
        s.push('\n');
    }
    s
}

/// `host:port`, IPv6 in brackets: the server as the diagram names it.
fn server_address(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Each mode's sequence diagram, side by side in one SVG document.
pub fn render_svg(server: &str, outcomes: &[Outcome], diagnosis: Option<&str>) -> String {
    use crate::status::diagram::{layout, svg, Check};
    let layouts: Vec<_> = outcomes
        .iter()
        .map(|o| {
            layout(&Check {
                target: server,
                address: server,
                outcome: o,
                transcript: &o.transcript,
                record: &o.record,
                diagnosis,
            })
        })
        .collect();
    let modes: Vec<&str> = outcomes.iter().map(|o| o.mode.as_str()).collect();
    svg::document(&format!("ftp_exporter probe {server}: {}", modes.join(" and ")), &layouts, diagnosis)
}

/// What `--output svg` prints: the diagnosis, where the diagram went, the summaries.
fn render_summary(outcomes: &[Outcome], diagnosis: Option<&str>, file: &std::path::Path) -> String {
    let mut s = String::new();
    if let Some(d) = diagnosis {
        s.push_str(&format!("diagnosis: {d}\n"));
    }
    s.push_str(&format!("diagram: {}\n", file.display()));
    for o in outcomes {
        s.push_str(&o.summary());
        s.push('\n');
    }
    s
}

pub fn render_json(outcomes: &[Outcome], diagnosis: Option<&str>) -> String {
    let mut s = String::new();
    for o in outcomes {
        let phases: serde_json::Map<String, serde_json::Value> =
            o.phases.iter().map(|(p, d)| (p.as_str().to_string(), json!(d.as_secs_f64()))).collect();
        let bytes: serde_json::Map<String, serde_json::Value> =
            o.bytes.iter().map(|(op, n)| (op.as_str().to_string(), json!(n))).collect();
        let v = json!({
            "mode": o.mode,
            "success": o.success(),
            "duration_seconds": o.duration.as_secs_f64(),
            "phases": phases,
            "failure": o.failure,
            "passive_address_mismatch": o.passive_address_mismatch,
            "passive_advertised_address": o.passive_advertised.map(|a| a.to_string()),
            "ip_protocol": o.ip_protocol(),
            "control_peer": o.control_peer.map(|a| a.to_string()),
            "bytes": bytes,
            "tls": o.tls,
            "diagnosis": diagnosis,
        });
        s.push_str(&v.to_string());
        s.push('\n');
    }
    s
}

fn fmt_unix(t: i64) -> String {
    let st = std::time::UNIX_EPOCH + Duration::from_secs(t.max(0) as u64);
    humantime::format_rfc3339_seconds(st).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        probe: ProbeArgs,
    }

    fn args(v: &[&str]) -> ProbeArgs {
        let mut all = vec!["probe"];
        all.extend_from_slice(v);
        Cli::parse_from(all).probe
    }

    #[test]
    fn url_to_plan() {
        let p = args(&["ftp://bob@127.0.0.1:2121/pub/"]).plan(Mode::Active, Some("pw".into())).unwrap();
        assert_eq!((p.host.as_str(), p.port, p.username.as_str()), ("127.0.0.1", 2121, "bob"));
        assert_eq!(p.list.as_deref(), Some("/pub/"));
        assert_eq!(p.password.expose(), "pw");
        let p = args(&["ftp://[::1]/pub/file.txt"]).plan(Mode::Passive, None).unwrap();
        assert_eq!((p.host.as_str(), p.port, p.username.as_str()), ("::1", 21, "anonymous"));
        assert_eq!(p.retrieve.unwrap().path, "/pub/file.txt");
        let p = args(&["ftp://localhost", "--tls", "implicit"]).plan(Mode::Passive, None).unwrap();
        assert_eq!((p.port, p.tls.mode), (990, TlsMode::Implicit));
        assert!(p.list.is_none() && p.retrieve.is_none());
        assert_eq!(p.ip_protocol, IpProtocol::Auto);
        let p = args(&["ftp://localhost", "--ip-protocol", "ipv6"]).plan(Mode::Passive, None).unwrap();
        assert_eq!(p.ip_protocol, IpProtocol::Ipv6);
    }

    #[test]
    fn command_injection_through_the_url_is_refused() {
        let e = args(&["ftp://bob%0d%0aDELE%20x@127.0.0.1/"]).plan(Mode::Active, None).unwrap_err();
        assert!(e.contains("user name"), "{e}");
        let e = args(&["ftp://127.0.0.1/pub%0d%0aDELE%20x"]).plan(Mode::Active, None).unwrap_err();
        assert!(e.contains("path"), "{e}");
        let e = args(&["ftp://127.0.0.1/"]).plan(Mode::Active, Some("pw\r\nDELE x".into())).unwrap_err();
        assert!(e.contains("FTP_PASSWORD") && !e.contains("DELE"), "{e}");
        let e = args(&["ftp://bob:secret@[::1/"]).plan(Mode::Active, None).unwrap_err();
        assert!(!e.contains("secret"), "{e}");
    }

    #[test]
    fn password_in_url_is_refused() {
        let e = args(&["ftp://bob:secret@127.0.0.1/"]).plan(Mode::Active, None).unwrap_err();
        assert!(e.contains("FTP_PASSWORD") && !e.contains("secret"), "{e}");
        assert!(args(&["http://127.0.0.1/"]).plan(Mode::Active, None).is_err());
    }

    #[test]
    fn output_svg_takes_a_file_and_json_gives_back_the_url() {
        let mut a = args(&["ftp://127.0.0.1/", "--output", "svg", "out.svg"]);
        assert_eq!(a.output(), Ok(Output::Svg("out.svg".into())));
        let mut a = args(&["--output", "json", "ftp://127.0.0.1/"]);
        assert_eq!(a.output(), Ok(Output::Json));
        assert_eq!(a.url.as_deref(), Some("ftp://127.0.0.1/"));
        assert_eq!(args(&["ftp://127.0.0.1/"]).output(), Ok(Output::Text));
        assert!(args(&["ftp://127.0.0.1/", "--output", "svg"])
            .output()
            .unwrap_err()
            .contains("needs a file"));
        assert!(args(&["ftp://127.0.0.1/", "--output", "json", "x"])
            .output()
            .unwrap_err()
            .contains("no file"));
        assert!(args(&["ftp://127.0.0.1/", "--output", "png"]).output().is_err());
        assert!(args(&["--output", "json"]).plan(Mode::Active, None).unwrap_err().contains("URL is missing"));
    }

    #[test]
    fn ranges_parse_as_in_the_config() {
        let a = args(&["ftp://127.0.0.1/", "--active-port-range", "50000-50100"]);
        assert_eq!(a.active_port_range, Some(50000..=50100));
        assert!(Cli::try_parse_from(["probe", "ftp://h/", "--active-port-range", "0-5"]).is_err());
    }
}
