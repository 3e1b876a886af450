//! Probes of unconfigured targets through a module
//! (`/probe?module=M&target=host[:port]`, docs/http.md), blackbox style, that
//! cannot be turned into a scanner of the networks around the exporter.
//!
//! In order: the target is matched against the module's `allowed_targets`
//! before anything else (a refusal costs no connection and no lookup); a
//! name is then resolved with the checks' own resolver and, unless the list
//! names it, every address it resolves to must be allowed too; the
//! addresses checked are pinned into the check's plan, so the check never
//! resolves again (no DNS rebinding between the check of the list and the
//! connection). The module's credentials therefore only ever reach
//! addresses its list allows.
//!
//! These targets are not configured: nothing is added to the store (not
//! scheduled, no series on `/metrics`); the answer is the check itself.
//! They share the probe budget of configured targets, and one probe per
//! (module, target) runs at a time.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::{timeout_at, Instant};

use super::{round, Probe, ProbeRefused, Scheduler};
use crate::check::{Mode, Resolution, Resolved, Resolver};
use crate::config::{Admission, Module, ProbeTarget, Target};

/// A running module probe: its subject is the target it checks.
pub type ModuleProbe = Probe<Arc<Target>>;

/// The (module, target) pairs being probed.
#[derive(Default)]
pub(super) struct Running(Mutex<HashSet<(String, String, u16)>>);

/// One pair marked running until dropped.
struct Claim {
    running: Arc<Running>,
    key: (String, String, u16),
}

impl Running {
    fn claim(self: &Arc<Self>, module: &str, t: &ProbeTarget) -> Option<Claim> {
        // One address written two ways (`[::ffff:192.0.2.7]`) is one target.
        let host = t.ip.map_or_else(|| t.host.clone(), |ip| crate::ftp::data::canonical(ip).to_string());
        let key = (module.to_string(), host, t.port);
        let fresh = self.0.lock().unwrap_or_else(|e| e.into_inner()).insert(key.clone());
        fresh.then(|| Claim { running: self.clone(), key })
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.running.0.lock().unwrap_or_else(|e| e.into_inner()).remove(&self.key);
    }
}

impl Scheduler {
    /// Checks `target` (`host[:port]` as given) with `module`'s settings,
    /// in `modes` (the module's when empty), within `budget`; `resolver`
    /// is the checks' own. Refused at once, before any connection or
    /// lookup, when the target does not parse, the allow list refuses it,
    /// a probe of the same pair runs or the probe budget is used up; a
    /// name whose addresses the list refuses ends the probe before its
    /// check connects.
    pub fn probe_module(
        &self,
        module: Arc<Module>,
        target: &str,
        modes: &[Mode],
        budget: Option<Duration>,
        resolver: Arc<dyn Resolver>,
    ) -> Result<ModuleProbe, ProbeRefused> {
        let shared = &self.shared;
        let t = module.parse_target(target).map_err(ProbeRefused::BadTarget)?;
        if let Some(m) = modes.iter().find(|m| !module.modes().contains(m)) {
            return Err(ProbeRefused::ModeNotConfigured(*m));
        }
        let admission = module.admission(&t);
        if let Admission::Refused(why) = &admission {
            return Err(ProbeRefused::NotAllowed(why.clone()));
        }
        let claim = shared.module_probes.claim(&module.name, &t).ok_or(ProbeRefused::Busy)?;
        let slot = shared.probes.clone().try_acquire_owned().map_err(|_| ProbeRefused::Overloaded)?;
        let modes = if modes.is_empty() { module.modes().to_vec() } else { modes.to_vec() };
        let checked = Arc::new(module.target(&t));
        let (s, task_target) = (shared.clone(), checked.clone());
        let deadline = budget.map(|b| Instant::now() + b);
        Ok(Probe::spawn(shared, checked, |task_cancel| async move {
            let _claim = claim;
            let _slot = slot;
            let mut recorded = Vec::new();
            for mode in modes {
                let started = Instant::now();
                let mut plan = task_target.plan(mode);
                if let Some(d) = deadline {
                    plan.timeout = plan.timeout.min(d.saturating_duration_since(started));
                }
                if t.ip.is_none() {
                    let lookup = tokio::select! {
                        biased;
                        _ = task_cancel.cancelled() => break,
                        r = lookup(&*resolver, &t, started + plan.timeout) => r,
                    };
                    if admission == Admission::ResolveAndCheck {
                        check_addresses(&module, &t, &lookup)?;
                    }
                    plan.resolved = Some(Resolved { started, result: lookup });
                }
                let _running = s.store.exporter().check_started();
                let checked = round::check(&s, &task_target.name, None, plan, Some(&task_cancel)).await;
                let Some(outcome) = checked else { break };
                recorded.push(crate::store::detached(outcome));
            }
            Ok(recorded)
        }))
    }
}

/// Resolves the target's name by the check's deadline.
async fn lookup(resolver: &dyn Resolver, t: &ProbeTarget, deadline: Instant) -> Resolution {
    match timeout_at(deadline, resolver.resolve(&t.host, t.port)).await {
        Err(_) => Resolution::TimedOut,
        Ok(Err(e)) => Resolution::Failed(e),
        Ok(Ok(addrs)) => Resolution::Found(addrs),
    }
}

/// Every address the check could connect to (those of the families its
/// `ip_protocol` uses) must be allowed; the first that is not refuses the probe.
fn check_addresses(module: &Module, t: &ProbeTarget, lookup: &Resolution) -> Result<(), ProbeRefused> {
    let Resolution::Found(addrs) = lookup else { return Ok(()) };
    let outside = addrs
        .iter()
        .map(|a| SocketAddr::new(a.ip(), t.port))
        .filter(|a| module.ip_protocol().allows(a.ip()))
        .find(|a| !module.admits_address(*a));
    match outside {
        Some(a) => Err(ProbeRefused::NotAllowed(module.refusal(&t.written, Some(a)))),
        None => Ok(()),
    }
}
