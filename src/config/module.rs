//! `modules:` (docs/configuration.md): check templates for `GET
//! /probe?module=M&target=host[:port]`, so that users list hundreds of
//! FTP servers in Prometheus service discovery, as they do with
//! blackbox_exporter's modules.
//!
//! A module has a target's keys except `name`, `address` (the probe brings
//! the target), `interval` (Prometheus' scrape interval is its schedule)
//! and `password` (its credentials go to every target it allows, so they
//! come from `password_env` or `password_file`, never from a file that is
//! copied around). `defaults:` do not apply: a module is complete as
//! written, and a default password must not travel to targets nobody
//! listed. Its `allowed_targets` say where it may go, deny by default
//! ([`super::allow`]); `passive.trust_advertised_address: true` is refused,
//! since it would let a server send the data connection outside that list.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use super::address::Address;
use super::allow::{normalise_name, AllowEntry};
use super::error::{ConfigError, KeyPath};
use super::fields::FromText;
use super::raw::{RawModules, RawTarget};
use super::resolve::{check_name, settings, Ctx, Layers, Owner};
use super::target::Target;
use crate::check::{IpProtocol, Mode};

/// One module: the settings of the checks it runs, and where it may run them.
#[derive(Debug, Clone, PartialEq)]
pub struct Module {
    pub name: String,
    /// Empty: every target is refused.
    pub allowed_targets: Vec<AllowEntry>,
    /// The checks' settings; its name, address, host and port are filled
    /// in per probe by [`Module::target`].
    template: Target,
}

/// A probe's `target=` parameter: `host[:port]`, IPv6 in brackets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeTarget {
    /// As given: the `target` label of the answer.
    pub written: String,
    /// Without brackets; a name normalised for comparison.
    pub host: String,
    pub port: u16,
    /// `host` when it is an IP literal.
    pub ip: Option<IpAddr>,
}

/// What the allow list says about a target before anything is resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// An IP literal inside a listed network: connect to it.
    Address,
    /// A host name listed by name: resolve it once and connect to what it
    /// resolved to (the addresses are pinned into the check's plan).
    Name,
    /// A host name not listed by name, on a port some network allows: it
    /// may be probed only if every address it resolves to is allowed too.
    ResolveAndCheck,
    /// Not allowed; the message for the 403 answer.
    Refused(String),
}

impl Module {
    pub fn modes(&self) -> &[Mode] {
        &self.template.modes
    }

    pub fn timeout(&self) -> Duration {
        self.template.timeout
    }

    pub fn ip_protocol(&self) -> IpProtocol {
        self.template.ip_protocol
    }

    /// The port of a target given without one, and of entries without one.
    pub fn default_port(&self) -> u16 {
        self.template.tls.default_port()
    }

    /// Whether its checks send a non-anonymous password without TLS.
    pub fn cleartext_credentials(&self) -> bool {
        self.template.cleartext_credentials()
    }

    /// Reads a probe's `target=`; `Err` is the message for a 400 answer.
    pub fn parse_target(&self, given: &str) -> Result<ProbeTarget, String> {
        let a = Address::from_text(given).map_err(|e| format!("target: {e}"))?;
        let ip = a.host.parse::<IpAddr>().ok();
        self.template
            .ip_protocol
            .check_literal(&a.host, &a.written)
            .map_err(|e| format!("module {:?}: {e}", self.name))?;
        let host = if ip.is_some() { a.host } else { normalise_name(&a.host) };
        Ok(ProbeTarget { written: a.written, host, port: a.port.unwrap_or(self.default_port()), ip })
    }

    /// The allow list's verdict on `t`, before any connection or lookup.
    pub fn admission(&self, t: &ProbeTarget) -> Admission {
        let port = self.default_port();
        let allowed = match t.ip {
            Some(ip) => {
                if self.admits_address(SocketAddr::new(ip, t.port)) {
                    return Admission::Address;
                }
                false
            }
            None if self.allowed_targets.iter().any(|e| e.allows_name(&t.host, t.port, port)) => {
                return Admission::Name
            }
            None => self.allowed_targets.iter().any(|e| e.is_net_for_port(t.port, port)),
        };
        if allowed {
            Admission::ResolveAndCheck
        } else {
            Admission::Refused(self.refusal(&t.written, None))
        }
    }

    /// Whether the module may connect to `addr` (a network entry allows it).
    pub fn admits_address(&self, addr: SocketAddr) -> bool {
        self.allowed_targets.iter().any(|e| e.allows_addr(addr, self.default_port()))
    }

    /// The 403 message for `target` (resolved to `addr`, when that is
    /// what is outside the list).
    pub fn refusal(&self, target: &str, addr: Option<SocketAddr>) -> String {
        if self.allowed_targets.is_empty() {
            return format!(
                "module {:?} has no allowed_targets, so it refuses every target (deny by default)",
                self.name
            );
        }
        let list: Vec<&str> = self.allowed_targets.iter().map(|e| e.written.as_str()).collect();
        let why = match addr {
            Some(a) => format!("it resolves to {a}, which is"),
            None => "it is".to_string(),
        };
        format!(
            "module {:?} does not allow target {target:?}: {why} not in allowed_targets [{}] (an entry \
             without :port allows port {} only); no connection was made",
            self.name,
            list.join(", "),
            self.default_port()
        )
    }

    /// The target a probe of `t` checks: this module's settings at `t`,
    /// named (the `target` label) as given.
    pub fn target(&self, t: &ProbeTarget) -> Target {
        let mut target = self.template.clone();
        target.name = t.written.clone();
        target.address = t.written.clone();
        target.host = t.host.clone();
        target.port = t.port;
        target
    }
}

/// Resolves `modules:`, in the order written.
pub(super) fn modules(ctx: &Ctx, raw: &RawModules) -> Result<Vec<Module>, ConfigError> {
    let base = KeyPath::root().key("modules");
    let empty = RawTarget::default();
    let mut out = Vec::with_capacity(raw.0.len());
    for (name, m) in &raw.0 {
        let at = base.key(name);
        check_name(ctx, &at, name)?;
        refuse(ctx, &at, "name", m.name.is_some(), "a module is named by its key under modules:")?;
        refuse(
            ctx,
            &at,
            "address",
            m.address.is_some(),
            "a module has no address: each probe brings its target (/probe?module=M&target=host[:port])",
        )?;
        refuse(
            ctx,
            &at,
            "interval",
            m.interval.is_some(),
            "a module runs when Prometheus scrapes /probe?module=…; its scrape_interval is the schedule",
        )?;
        let trusts = m.passive.as_ref().and_then(|p| p.trust_advertised_address).unwrap_or(false);
        refuse(
            ctx,
            &at.key("passive"),
            "trust_advertised_address",
            trusts,
            "a module's data connections go to the target's own address only: following the address \
             in 227 would let a server send the exporter outside allowed_targets",
        )?;
        let layers = Layers { target: m, tpath: at.clone(), defaults: &empty, dpath: at.clone() };
        let template = settings(ctx, &layers, Owner::Module(name), None)?;
        let allowed_targets: Vec<AllowEntry> =
            m.allowed_targets.iter().flatten().map(|e| e.0.clone()).collect();
        if allowed_targets.is_empty() {
            tracing::warn!(
                ftp_module = name.as_str(),
                "module has no allowed_targets: every /probe?module= of it is refused (deny by default)"
            );
        }
        out.push(Module { name: name.clone(), allowed_targets, template });
    }
    Ok(out)
}

fn refuse(ctx: &Ctx, at: &KeyPath, key: &str, set: bool, why: &str) -> Result<(), ConfigError> {
    if set {
        return Err(ctx.err(&at.key(key), format!("not allowed in a module: {why}")));
    }
    Ok(())
}
