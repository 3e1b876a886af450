//! ftp_exporter's check runner, run in-process but inside the client
//! namespace (a thread that entered it with setns(2)), so that every socket
//! it opens — control, passive data, active listener — lives in the lab.
//!
//! This reaches the plan options that the `probe` command line does not
//! expose (`advertise_address`, `port_range`, `trust_advertised_address`,
//! `epsv`), with the very same runner the service uses.

use std::fmt::Write as _;
use std::time::Duration;

use ftp_exporter::check::{self, CheckEnv, CheckPlan, Diagnosis, Mode, Outcome};

use super::netns::Netns;
use super::scenario::SERVER_PUBLIC;

/// The lab's deadline for one check: short, so filtered paths cost little.
pub const TIMEOUT: Duration = Duration::from_secs(3);

/// A plan against the lab's server (anonymous, list `/`), 3 s deadline.
pub fn plan(mode: Mode) -> CheckPlan {
    let mut plan = CheckPlan::new(SERVER_PUBLIC.to_string(), 21, mode);
    plan.timeout = TIMEOUT;
    plan
}

/// Runs one check from the client namespace.
pub fn run(client: &Netns, plan: CheckPlan) -> Outcome {
    client.run_inside(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move { check::run(&plan, &CheckEnv::default()).await })
    })
}

/// Both modes, one after the other (docs/failures.md: never at the same time), each
/// plan adjusted by `tweak`, and the diagnosis of the pair.
pub fn run_both(client: &Netns, tweak: impl Fn(&mut CheckPlan)) -> Both {
    let mut outcomes = Vec::new();
    for mode in [Mode::Passive, Mode::Active] {
        let mut p = plan(mode);
        tweak(&mut p);
        outcomes.push(run(client, p));
    }
    let active = outcomes.pop().unwrap();
    let passive = outcomes.pop().unwrap();
    let diagnosis = check::diagnose(&[&passive, &active]);
    Both { passive, active, diagnosis }
}

pub struct Both {
    pub passive: Outcome,
    pub active: Outcome,
    pub diagnosis: Option<Diagnosis>,
}

impl Both {
    pub fn summary(&self) -> &str {
        self.diagnosis.as_ref().map(|d| d.summary.as_str()).unwrap_or("")
    }
}

/// `(phase, reason, code)` of a failed outcome, as label strings, or `None`
/// when it succeeded.
pub fn failure(o: &Outcome) -> Option<(&'static str, &'static str, String)> {
    o.failure.as_ref().map(|f| (f.phase.as_str(), f.reason.as_str(), f.code.clone()))
}

/// Everything a failing assertion should show: outcome and transcript.
pub fn explain(o: &Outcome) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "mode={} failure={:?} mismatch={:?} advertised={:?} duration={:?}",
        o.mode, o.failure, o.passive_address_mismatch, o.passive_advertised, o.duration
    );
    let _ = write!(s, "{}", o.transcript);
    s
}

impl std::fmt::Debug for Both {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "--- passive\n{}--- active\n{}--- diagnosis\n{}",
            explain(&self.passive),
            explain(&self.active),
            self.summary()
        )
    }
}
