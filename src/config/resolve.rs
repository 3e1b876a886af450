//! From the file as written to validated [`Target`]s: merge `defaults:`,
//! apply the docs/configuration.md defaults, read secrets and CA files, and refuse
//! contradictions, each error at the line of the key that caused it.
//!
//! Merge rules (documented in `config/example.yml` too):
//! - a key set on the target wins over the same key in `defaults:`;
//! - `passive:` and `active:` merge key by key (independent knobs);
//! - `labels:` merge label by label;
//! - `check:` is taken whole from the target if it has one: it describes one
//!   task, and mixing a default `list` into a target's `login_only: true`
//!   would be a contradiction nobody wrote;
//! - `password`, `password_env`, `password_file` act as one key: a target
//!   that sets any of them ignores all three in `defaults:`.
//!
//! Modules (`modules:`) are resolved by the same code with empty defaults
//! (see `module`): they take the keys of a target, not its `defaults:`.

use crate::check::plan::{is_anonymous, ANONYMOUS_PASSWORD, MAX_STORE_BYTES};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::address::Address;
use super::error::{ConfigError, KeyPath};
use super::fields::RawSecret;
use super::locate;
use super::raw::{RawCheck, RawTarget};
use super::target::{CheckSpec, Target};
use super::Policy;
use crate::check::{
    ActiveOptions, IpProtocol, Mode, PassiveOptions, RetrieveSpec, StoreSpec, TlsMode, TlsOptions, Toggle,
};
use crate::secret::Secret;

const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);
/// Enough for a health file; bounds memory if `retrieve` points at a big one.
const DEFAULT_MAX_BYTES: u64 = 1 << 20;
const DEFAULT_STORE_BYTES: u64 = 4096;
/// In the login directory, unique per exporter host (see `hostname`).
const DEFAULT_STORE_PATH: &str = "ftp_exporter_{hostname}.tmp";

/// The text being resolved, for turning a key path into `file:line: key`.
pub(crate) struct Ctx<'a> {
    pub text: &'a str,
    pub source: &'a Path,
    /// What `{hostname}` stands for in `store.path`.
    pub hostname: &'a str,
    pub policy: Policy,
}

impl Ctx<'_> {
    pub(crate) fn err(&self, at: &KeyPath, message: impl Into<String>) -> ConfigError {
        ConfigError::new(self.source, locate::line_of(self.text, at), at, message)
    }

    /// Relative `password_file` / `tls_ca_file` paths are relative to the
    /// config file, so a config and its secrets can move together.
    fn file_path(&self, written: &str) -> PathBuf {
        match self.source.parent() {
            Some(dir) => dir.join(written),
            None => PathBuf::from(written),
        }
    }
}

/// A target and the defaults under it, with where each came from.
pub(super) struct Layers<'a> {
    pub target: &'a RawTarget,
    pub tpath: KeyPath,
    pub defaults: &'a RawTarget,
    pub dpath: KeyPath,
}

/// Whose settings are resolved, for messages and log fields.
#[derive(Debug, Clone, Copy)]
pub(super) enum Owner<'a> {
    Target(&'a str),
    Module(&'a str),
}

impl<'a> Owner<'a> {
    fn name(self) -> &'a str {
        match self {
            Owner::Target(n) | Owner::Module(n) => n,
        }
    }
}

impl std::fmt::Display for Owner<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Owner::Target(n) => write!(f, "target {n:?}"),
            Owner::Module(n) => write!(f, "module {n:?}"),
        }
    }
}

impl Layers<'_> {
    /// The target's value for `keys`, else the defaults', with its key path.
    fn pick<T>(&self, keys: &[&str], get: impl Fn(&RawTarget) -> Option<T>) -> Option<(T, KeyPath)> {
        let at = |base: &KeyPath| keys.iter().fold(base.clone(), |p, k| p.key(k));
        match get(self.target) {
            Some(v) => Some((v, at(&self.tpath))),
            None => get(self.defaults).map(|v| (v, at(&self.dpath))),
        }
    }
}

/// Refuses `name`/`address` under `defaults:`: each target has its own.
pub(crate) fn check_defaults(ctx: &Ctx, defaults: &RawTarget) -> Result<(), ConfigError> {
    let at = KeyPath::root().key("defaults");
    if defaults.name.is_some() {
        return Err(ctx.err(&at.key("name"), "cannot be set in defaults; every target has its own name"));
    }
    if defaults.address.is_some() {
        return Err(
            ctx.err(&at.key("address"), "cannot be set in defaults; every target has its own address")
        );
    }
    no_allow_list(ctx, defaults, &at)
}

/// `allowed_targets` belongs to modules: a configured target is checked
/// where its `address` says, and `defaults:` never reach a module.
fn no_allow_list(ctx: &Ctx, raw: &RawTarget, at: &KeyPath) -> Result<(), ConfigError> {
    match raw.allowed_targets {
        Some(_) => Err(ctx.err(
            &at.key("allowed_targets"),
            "only a module (under `modules:`) has allowed_targets; a target is checked at its own address",
        )),
        None => Ok(()),
    }
}

/// Resolves every target; names must be unique (they are the `target` label).
pub(crate) fn targets(
    ctx: &Ctx,
    raw: &[RawTarget],
    defaults: &RawTarget,
) -> Result<Vec<Target>, ConfigError> {
    let list = KeyPath::root().key("targets");
    if raw.is_empty() {
        return Err(ctx.err(&list, "at least one target is required"));
    }
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut out = Vec::with_capacity(raw.len());
    for (i, t) in raw.iter().enumerate() {
        let layers =
            Layers { target: t, tpath: list.index(i), defaults, dpath: KeyPath::root().key("defaults") };
        let target = resolve(ctx, &layers).map_err(|mut e| {
            // A default that fails only for some targets: say for which.
            if e.key.starts_with("defaults") {
                let name = t.name.as_deref().map(|n| format!(" {n:?}")).unwrap_or_default();
                e.message.push_str(&format!(" (for targets[{i}]{name})"));
            }
            e
        })?;
        if let Some(first) = seen.insert(target.name.clone(), i) {
            let msg = format!("duplicate target name {:?}, already used by targets[{first}]", target.name);
            return Err(ctx.err(&list.index(i).key("name"), msg));
        }
        out.push(target);
    }
    Ok(out)
}

/// A target or module name: what the `target` label or `module=` says.
pub(super) fn check_name(ctx: &Ctx, at: &KeyPath, name: &str) -> Result<(), ConfigError> {
    if name.trim().is_empty() || name.chars().any(char::is_control) {
        return Err(ctx.err(at, "must be non-empty text without control characters"));
    }
    Ok(())
}

fn resolve(ctx: &Ctx, l: &Layers) -> Result<Target, ConfigError> {
    no_allow_list(ctx, l.target, &l.tpath)?;
    let name = match &l.target.name {
        Some(n) => {
            check_name(ctx, &l.tpath.key("name"), n)?;
            n.clone()
        }
        None => return Err(ctx.err(&l.tpath, "missing key `name`")),
    };
    let address = match &l.target.address {
        Some(a) => a.0.clone(),
        None => return Err(ctx.err(&l.tpath, "missing key `address`")),
    };
    settings(ctx, l, Owner::Target(&name), Some(address))
}

/// Everything but the identity: the settings a target has, or a module
/// gives the targets it probes (`address`: `None`, filled in per probe).
pub(super) fn settings(
    ctx: &Ctx,
    l: &Layers,
    owner: Owner,
    address: Option<Address>,
) -> Result<Target, ConfigError> {
    let name = owner.name().to_string();
    let tls = l.pick(&["tls"], |r| r.tls.clone()).map_or(TlsMode::None, |(t, _)| t.0);
    // RFC 4217 leaves implicit FTPS to convention: IANA's `ftps` is 990.
    let port = address.as_ref().and_then(|a| a.port).unwrap_or(tls.default_port());

    let ip_protocol = l.pick(&["ip_protocol"], |r| r.ip_protocol.clone());
    if let (Some((protocol, at)), Some(address)) = (&ip_protocol, &address) {
        if let Err(msg) = protocol.0.check_literal(&address.host, &address.written) {
            return Err(ctx.err(at, msg));
        }
    }
    let ip_protocol = ip_protocol.map_or(IpProtocol::Auto, |(p, _)| p.0);

    let modes =
        l.pick(&["modes"], |r| r.modes.clone()).map_or(vec![Mode::Passive, Mode::Active], |(m, _)| m.0);
    let interval = l.pick(&["interval"], |r| r.interval);
    let timeout = l.pick(&["timeout"], |r| r.timeout);
    let interval_v = interval.as_ref().map_or(DEFAULT_INTERVAL, |(d, _)| d.0);
    let timeout_v = timeout.as_ref().map_or(DEFAULT_TIMEOUT, |(d, _)| d.0);
    // A cap (as blackbox_exporter does) would hide the mistake; an error says
    // which of the two to change. (A module has no interval: Prometheus'
    // scrape interval is its schedule.)
    if timeout_v > interval_v && matches!(owner, Owner::Target(_)) {
        let at = timeout.map(|(_, p)| p).or(interval.map(|(_, p)| p)).unwrap_or_else(|| l.tpath.clone());
        let msg = format!(
            "timeout {} is longer than interval {}; a check must end before the next one starts",
            humantime::format_duration(timeout_v),
            humantime::format_duration(interval_v)
        );
        return Err(ctx.err(&at, msg));
    }

    let username = l.pick(&["username"], |r| r.username.clone()).map(|(u, _)| u.0 .0);
    let (password, password_at) = password(ctx, l, owner, username.as_deref())?;
    let username = username.unwrap_or_else(|| "anonymous".into());
    if tls == TlsMode::None && !is_anonymous(&username) {
        cleartext(ctx, l, owner, &username, password_at)?;
    }
    let mut labels = l.defaults.labels.clone().unwrap_or_default().0;
    labels.extend(l.target.labels.clone().unwrap_or_default().0);
    let (written, host) = address.map(|a| (a.written, a.host)).unwrap_or_default();

    Ok(Target {
        name,
        address: written,
        host,
        port,
        ip_protocol,
        tls,
        modes,
        interval: interval_v,
        timeout: timeout_v,
        labels,
        username,
        password,
        tls_options: tls_options(ctx, l, tls)?,
        check: check(ctx, l)?,
        passive: passive(l),
        active: active(l),
    })
}

/// A non-anonymous password on `tls: none` crosses the network readable by
/// anyone on the path (RFC 4217 §1 is why FTPS exists): refused under
/// `--config.require-tls`, else a warning once per target per load. The
/// refusal points at `tls` when it is written, else at the password key.
fn cleartext(
    ctx: &Ctx,
    l: &Layers,
    owner: Owner,
    username: &str,
    password_at: Option<KeyPath>,
) -> Result<(), ConfigError> {
    if ctx.policy.require_tls {
        let at = l.pick(&["tls"], |r| r.tls.clone()).map(|(_, at)| at).or(password_at);
        let msg = format!(
            "{owner} would send the password of user {username:?} in clear (tls: none), which \
             --config.require-tls refuses; set tls: explicit (or implicit)"
        );
        return Err(ctx.err(&at.unwrap_or_else(|| l.tpath.clone()), msg));
    }
    let message = "the password is sent in clear (tls: none): anyone on the network path can read it; \
                   set tls: explicit, or run with --config.require-tls to refuse such targets";
    match owner {
        Owner::Target(name) => tracing::warn!(ftp_target = name, user = username, "{message}"),
        Owner::Module(name) => tracing::warn!(ftp_module = name, user = username, "{message}"),
    }
    Ok(())
}

/// Reads the one configured password source, and says which key it came
/// from (`None`: the anonymous login's). Messages name the key and the
/// variable or file, never the value.
fn password(
    ctx: &Ctx,
    l: &Layers,
    owner: Owner,
    username: Option<&str>,
) -> Result<(Secret, Option<KeyPath>), ConfigError> {
    let t = l.target;
    let (raw, base) = if t.password.is_some() || t.password_env.is_some() || t.password_file.is_some() {
        (l.target, &l.tpath)
    } else {
        (l.defaults, &l.dpath)
    };
    let set: Vec<&str> = [
        ("password", raw.password.is_some()),
        ("password_env", raw.password_env.is_some()),
        ("password_file", raw.password_file.is_some()),
    ]
    .into_iter()
    .filter_map(|(k, on)| on.then_some(k))
    .collect();
    if set.len() > 1 {
        let msg =
            format!("set only one of password, password_env, password_file (found {})", set.join(" and "));
        return Err(ctx.err(&base.key(set[1]), msg));
    }
    let (value, at) = if let Some(var) = &raw.password_env {
        let at = base.key("password_env");
        match std::env::var(var) {
            Ok(v) if v.is_empty() => {
                return Err(ctx.err(&at, format!("environment variable {var:?} is empty")))
            }
            Ok(v) => (v, at),
            Err(std::env::VarError::NotPresent) => {
                return Err(ctx.err(&at, format!("environment variable {var:?} is not set")));
            }
            Err(std::env::VarError::NotUnicode(_)) => {
                return Err(ctx.err(&at, format!("environment variable {var:?} is not valid UTF-8")));
            }
        }
    } else if let Some(file) = &raw.password_file {
        let at = base.key("password_file");
        let path = ctx.file_path(file);
        let mut v =
            read_small(&path).map_err(|e| ctx.err(&at, format!("cannot read {}: {e}", path.display())))?;
        // `echo pw > file` and Kubernetes secrets created from such files end in a newline.
        if v.ends_with('\n') {
            v.pop();
            if v.ends_with('\r') {
                v.pop();
            }
        }
        if v.is_empty() {
            return Err(ctx.err(&at, format!("{} is empty", path.display())));
        }
        (v, at)
    } else if let Some(RawSecret(v)) = &raw.password {
        let at = base.key("password");
        if let Owner::Module(_) = owner {
            // A module's credentials go to every target its list allows;
            // they must not sit in a file that is copied around.
            return Err(ctx.err(
                &at,
                "a module's password cannot be written in the file; use password_env or password_file",
            ));
        }
        tracing::warn!(
            ftp_target = owner.name(),
            key = %at,
            "password is written in the configuration file; prefer password_env or password_file"
        );
        (v.clone(), at)
    } else {
        return match username {
            None => Ok((Secret::new(ANONYMOUS_PASSWORD), None)),
            Some(u) if is_anonymous(u) => Ok((Secret::new(ANONYMOUS_PASSWORD), None)),
            Some(user) => {
                let at = l.pick(&["username"], |r| r.username.clone()).map_or(l.tpath.clone(), |(_, p)| p);
                Err(ctx.err(&at, format!("user {user:?} has no password; set password_env or password_file")))
            }
        };
    };
    if !crate::ftp::command_safe(&value) {
        return Err(ctx.err(&at, "the password contains a line break or NUL, which cannot be sent in PASS"));
    }
    Ok((Secret::new(value), Some(at)))
}

/// Reads a password file, refusing anything larger than a password could
/// be (a `password_file` pointing at the wrong file, a log, must not be
/// read whole into memory) and anything that is not a regular file (a
/// FIFO would block the load), before opening it.
fn read_small(path: &Path) -> Result<String, crate::small_file::FileError> {
    crate::small_file::read_text(path, 64 * 1024)
}

fn tls_options(ctx: &Ctx, l: &Layers, mode: TlsMode) -> Result<TlsOptions, ConfigError> {
    let ca_file = match l.pick(&["tls_ca_file"], |r| r.tls_ca_file.clone()) {
        None => None,
        Some((file, at)) => Some(read_ca_file(ctx, &at, &file)?),
    };
    let server_name = match l.pick(&["tls_server_name"], |r| r.tls_server_name.clone()) {
        None => None,
        Some((n, at)) => match rustls::pki_types::ServerName::try_from(n.as_str()) {
            Ok(_) => Some(n),
            Err(_) => return Err(ctx.err(&at, format!("invalid TLS server name {n:?}"))),
        },
    };
    let t = l.target;
    if mode == TlsMode::None
        && (t.tls_ca_file.is_some()
            || t.tls_server_name.is_some()
            || t.tls_insecure_skip_verify.is_some()
            || t.tls_max_version.is_some())
    {
        tracing::warn!(key = %l.tpath, "tls_* settings have no effect with `tls: none`");
    }
    Ok(TlsOptions {
        mode,
        ca_file,
        server_name,
        insecure_skip_verify: l
            .pick(&["tls_insecure_skip_verify"], |r| r.tls_insecure_skip_verify)
            .is_some_and(|(b, _)| b),
        max_version_tls12: l.pick(&["tls_max_version"], |r| r.tls_max_version).is_some_and(|(v, _)| v.tls12),
    })
}

/// A CA file that cannot be read would fail every check later with a
/// misleading `tls_certificate_invalid`; refusing it at load names the file.
fn read_ca_file(ctx: &Ctx, at: &KeyPath, written: &str) -> Result<PathBuf, ConfigError> {
    let path = ctx.file_path(written);
    let pem = crate::small_file::read(&path, crate::ftp::tls::MAX_CA_FILE)
        .map_err(|e| ctx.err(at, format!("cannot read {}: {e}", path.display())))?;
    let certs = CertificateDer::pem_slice_iter(&pem).collect::<Result<Vec<_>, _>>();
    match certs {
        Ok(c) if !c.is_empty() => Ok(path),
        Ok(_) => Err(ctx.err(at, format!("{} contains no PEM certificate", path.display()))),
        Err(e) => Err(ctx.err(at, format!("cannot read {}: {e}", path.display()))),
    }
}

fn check(ctx: &Ctx, l: &Layers) -> Result<CheckSpec, ConfigError> {
    let (raw, at): (RawCheck, KeyPath) = match (&l.target.check, &l.defaults.check) {
        (Some(c), _) => (c.clone(), l.tpath.key("check")),
        (None, Some(c)) => (c.clone(), l.dpath.key("check")),
        (None, None) => return Ok(CheckSpec::default()),
    };
    let login_only = raw.login_only.unwrap_or(false);
    if login_only {
        let ops: Vec<&str> = [
            ("list", raw.list.is_some()),
            ("retrieve", raw.retrieve.is_some()),
            ("store", raw.store.is_some()),
        ]
        .into_iter()
        .filter_map(|(k, on)| on.then_some(k))
        .collect();
        if !ops.is_empty() {
            let msg =
                format!("login_only: true contradicts {} (no data connection is opened)", ops.join(", "));
            return Err(ctx.err(&at.key("login_only"), msg));
        }
    }
    let retrieve = match raw.retrieve {
        None => None,
        Some(r) => {
            let max_bytes = r.max_bytes.map_or(DEFAULT_MAX_BYTES, |b| b.0);
            let size = r.size.map(|s| s.0);
            if let Some(size) = size.filter(|s| *s > max_bytes) {
                let msg = format!("expected size {size} is larger than max_bytes {max_bytes}");
                return Err(ctx.err(&at.key("retrieve").key("size"), msg));
            }
            Some(RetrieveSpec { path: r.path.0 .0, sha256: r.sha256.map(|h| h.0 .0), size, max_bytes })
        }
    };
    let store = match raw.store {
        None => None,
        Some(s) => {
            let bytes = s.bytes.map_or(DEFAULT_STORE_BYTES, |b| b.0);
            if bytes > MAX_STORE_BYTES {
                return Err(ctx.err(&at.key("store").key("bytes"), "at most 64MiB"));
            }
            // Substituted here, so messages and transcripts show the real path.
            let path = s.path.map_or(DEFAULT_STORE_PATH.to_string(), |p| p.0 .0);
            Some(StoreSpec {
                path: super::hostname::substitute(&path, ctx.hostname),
                bytes,
                verify: s.verify.unwrap_or(true),
                delete: s.delete.unwrap_or(true),
            })
        }
    };
    Ok(CheckSpec { login_only, list: raw.list.map(|d| d.0 .0), retrieve, store })
}

fn passive(l: &Layers) -> PassiveOptions {
    let keys = |k| ["passive", k];
    PassiveOptions {
        epsv: l.pick(&keys("epsv"), |r| r.passive.as_ref()?.epsv.clone()).map_or(Toggle::Auto, |(t, _)| t.0),
        trust_advertised_address: l
            .pick(&keys("trust_advertised_address"), |r| r.passive.as_ref()?.trust_advertised_address)
            .is_some_and(|(b, _)| b),
    }
}

fn active(l: &Layers) -> ActiveOptions {
    let keys = |k| ["active", k];
    ActiveOptions {
        listen_address: l
            .pick(&keys("listen_address"), |r| r.active.as_ref()?.listen_address.clone())
            .map(|(a, _)| a.0),
        advertise_address: l
            .pick(&keys("advertise_address"), |r| r.active.as_ref()?.advertise_address.clone())
            .map(|(a, _)| a.0),
        port_range: l
            .pick(&keys("port_range"), |r| r.active.as_ref()?.port_range.clone())
            .map(|(p, _)| p.0 .0),
        eprt: l.pick(&keys("eprt"), |r| r.active.as_ref()?.eprt.clone()).map_or(Toggle::Auto, |(t, _)| t.0),
    }
}
