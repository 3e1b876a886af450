//! What one check should do: a plain description built by the caller (the
//! config module, the `probe` command, a test). The runner never reads YAML.

use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::time::Duration;

use super::labels::{IpProtocol, Mode, TlsMode};
use super::resolve::LookupError;
use crate::secret::Secret;

/// The password of an anonymous login: RFC 1635 asks for an e-mail
/// address; servers accept anything that looks like one.
pub const ANONYMOUS_PASSWORD: &str = "ftp_exporter@";

/// Whether `user` logs in anonymously (RFC 1635: `anonymous`, and `ftp`,
/// which servers accept as its alias): its "password" is an e-mail address
/// by convention, not a secret.
pub fn is_anonymous(user: &str) -> bool {
    user.eq_ignore_ascii_case("anonymous") || user.eq_ignore_ascii_case("ftp")
}

impl IpProtocol {
    /// Whether an address of `ip`'s family may be used (an IPv4-mapped
    /// IPv6 address is IPv4).
    pub fn allows(self, ip: IpAddr) -> bool {
        let v4 = crate::ftp::data::canonical(ip).is_ipv4();
        match self {
            IpProtocol::Auto => true,
            IpProtocol::Ipv4 => v4,
            IpProtocol::Ipv6 => !v4,
        }
    }

    /// An IP literal `host` (written as `written`) of the family this
    /// protocol excludes: the message that says so.
    pub fn check_literal(self, host: &str, written: &str) -> Result<(), String> {
        match host.parse::<IpAddr>() {
            Ok(ip) if !self.allows(ip) => {
                Err(format!("ip_protocol {self} contradicts the address {written}"))
            }
            _ => Ok(()),
        }
    }
}

impl TlsMode {
    /// The control port when none is given: 21 (RFC 959), or 990 for
    /// implicit FTPS (RFC 4217 leaves it to convention: IANA's `ftps`).
    pub fn default_port(self) -> u16 {
        match self {
            TlsMode::Implicit => 990,
            TlsMode::None | TlsMode::Explicit => 21,
        }
    }
}

/// `START-END` (or a single port): the ports the active-mode listener may
/// use, which operators open in their firewalls.
pub fn parse_port_range(s: &str) -> Result<RangeInclusive<u16>, String> {
    let bad = || format!("invalid port range {s:?}, expected START-END with 1 <= START <= END <= 65535");
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let start: u16 = a.trim().parse().map_err(|_| bad())?;
    let end: u16 = b.trim().parse().map_err(|_| bad())?;
    if start == 0 || start > end {
        return Err(bad());
    }
    Ok(start..=end)
}

/// One check: one session against one target in one mode.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckPlan {
    /// Host name or IP literal (without brackets).
    pub host: String,
    pub port: u16,
    /// The address families to connect over.
    pub ip_protocol: IpProtocol,
    pub username: String,
    pub password: Secret,
    pub mode: Mode,
    /// Deadline for the whole check, every phase included.
    pub timeout: Duration,
    pub tls: TlsOptions,
    pub login_only: bool,
    /// Directory to LIST; `None` with no other operation lists the login directory.
    pub list: Option<String>,
    pub retrieve: Option<RetrieveSpec>,
    pub store: Option<StoreSpec>,
    pub passive: PassiveOptions,
    pub active: ActiveOptions,
    /// The host already resolved by the caller; `None`: the check resolves it.
    pub resolved: Option<Resolved>,
}

/// A lookup of the plan's host made before the check, by a caller that had
/// to see the addresses first (`/probe?module=` checks each against the
/// module's allow list). The check connects to these addresses and never
/// resolves the host again, so the addresses checked are the addresses
/// used: no DNS rebinding in between.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// When the lookup started. The check's clock, and its deadline, start
    /// here, so its `resolve` phase is the lookup's time.
    pub started: tokio::time::Instant,
    pub result: Resolution,
}

/// What a lookup gave.
#[derive(Debug, Clone, PartialEq)]
pub enum Resolution {
    Found(Vec<SocketAddr>),
    Failed(LookupError),
    /// The check's deadline passed first.
    TimedOut,
}

impl CheckPlan {
    /// A plan with the defaults of docs/configuration.md for `host:port`: anonymous login,
    /// list the login directory, 15 s timeout.
    pub fn new(host: impl Into<String>, port: u16, mode: Mode) -> Self {
        CheckPlan {
            host: host.into(),
            port,
            ip_protocol: IpProtocol::Auto,
            username: "anonymous".into(),
            password: Secret::new(ANONYMOUS_PASSWORD),
            mode,
            timeout: Duration::from_secs(15),
            tls: TlsOptions::default(),
            login_only: false,
            list: None,
            retrieve: None,
            store: None,
            passive: PassiveOptions::default(),
            active: ActiveOptions::default(),
            resolved: None,
        }
    }

    /// The data operations in their order (docs/failures.md); LIST of the login directory when none is configured.
    pub fn operations(&self) -> Vec<OperationSpec> {
        if self.login_only {
            return Vec::new();
        }
        let mut ops = Vec::new();
        if let Some(dir) = &self.list {
            ops.push(OperationSpec::List(Some(dir.clone())));
        }
        if let Some(r) = &self.retrieve {
            ops.push(OperationSpec::Retrieve(r.clone()));
        }
        if let Some(s) = &self.store {
            ops.push(OperationSpec::Store(s.clone()));
        }
        if ops.is_empty() {
            ops.push(OperationSpec::List(None));
        }
        ops
    }
}

/// One data operation of a check.
#[derive(Debug, Clone, PartialEq)]
pub enum OperationSpec {
    List(Option<String>),
    Retrieve(RetrieveSpec),
    Store(StoreSpec),
}

#[derive(Debug, Clone, PartialEq)]
pub struct RetrieveSpec {
    pub path: String,
    /// Expected SHA-256 of the content, lowercase hex.
    pub sha256: Option<String>,
    /// Expected size in bytes.
    pub size: Option<u64>,
    /// Reading stops and the check fails past this many bytes.
    pub max_bytes: u64,
}

/// Largest probe file `store` generates: it is built in memory, and a
/// monitor's probe is not a load test.
pub const MAX_STORE_BYTES: u64 = 64 << 20;

#[derive(Debug, Clone, PartialEq)]
pub struct StoreSpec {
    pub path: String,
    pub bytes: u64,
    /// Read the file back and compare.
    pub verify: bool,
    /// DELE the file afterwards.
    pub delete: bool,
}

/// Passive mode knobs (docs/configuration.md `passive:`).
#[derive(Debug, Clone, PartialEq)]
pub struct PassiveOptions {
    pub epsv: Toggle,
    /// Connect to the address in 227 instead of the control connection's peer.
    pub trust_advertised_address: bool,
}

impl Default for PassiveOptions {
    fn default() -> Self {
        PassiveOptions { epsv: Toggle::Auto, trust_advertised_address: false }
    }
}

/// Active mode knobs (docs/configuration.md `active:`).
#[derive(Debug, Clone, PartialEq)]
pub struct ActiveOptions {
    /// Where to listen; default: the control connection's local address.
    pub listen_address: Option<IpAddr>,
    /// What to put in PORT/EPRT; default: the listener's address.
    pub advertise_address: Option<IpAddr>,
    /// Ports to listen on; default: any (port 0).
    pub port_range: Option<RangeInclusive<u16>>,
    pub eprt: Toggle,
}

impl Default for ActiveOptions {
    fn default() -> Self {
        ActiveOptions { listen_address: None, advertise_address: None, port_range: None, eprt: Toggle::Auto }
    }
}

/// `auto | always | never` for EPSV and EPRT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Toggle {
    #[default]
    Auto,
    Always,
    Never,
}

impl std::str::FromStr for Toggle {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Toggle::Auto),
            "always" => Ok(Toggle::Always),
            "never" => Ok(Toggle::Never),
            other => Err(format!("unknown value {other:?}, expected auto, always or never")),
        }
    }
}

/// TLS settings of a target (docs/configuration.md `tls*`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TlsOptions {
    pub mode: TlsMode,
    pub ca_file: Option<PathBuf>,
    pub server_name: Option<String>,
    pub insecure_skip_verify: bool,
    /// Cap the protocol at TLS 1.2 for servers that mishandle 1.3.
    pub max_version_tls12: bool,
}

// TlsMode is declared by the label_enum! macro, which cannot carry #[default].
#[allow(clippy::derivable_impls)]
impl Default for TlsMode {
    fn default() -> Self {
        TlsMode::None
    }
}
