//! A validated target: defaults merged, secrets read, ready to be turned
//! into one [`CheckPlan`] per mode.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::check::{
    ActiveOptions, CheckPlan, IpProtocol, Mode, PassiveOptions, RetrieveSpec, StoreSpec, TlsMode, TlsOptions,
};
use crate::secret::Secret;

/// One FTP server to check (docs/configuration.md `targets[]`).
///
/// `Debug` is safe to log: the password is a [`Secret`].
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// Unique; the `target` label.
    pub name: String,
    /// `address:` as written; the `address` label of `ftp_target_info`.
    pub address: String,
    /// Host name or IP literal, without brackets.
    pub host: String,
    /// From the address, else 21, or 990 for implicit TLS (RFC 4217 §13 / IANA `ftps`).
    pub port: u16,
    /// The address families to connect over (`auto`: Happy Eyeballs over all).
    pub ip_protocol: IpProtocol,
    pub tls: TlsMode,
    /// Checked in this order, never at the same time.
    pub modes: Vec<Mode>,
    pub interval: Duration,
    /// Deadline for one whole check; never longer than `interval`.
    pub timeout: Duration,
    /// Static labels for `ftp_target_info`.
    pub labels: BTreeMap<String, String>,
    pub username: String,
    pub password: Secret,
    /// `tls_options.mode` equals `tls`.
    pub tls_options: TlsOptions,
    pub check: CheckSpec,
    pub passive: PassiveOptions,
    pub active: ActiveOptions,
}

/// What a check does after login (docs/failures.md, docs/configuration.md `check:`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CheckSpec {
    pub login_only: bool,
    /// Directory to LIST; `None` with no other operation lists the login directory.
    pub list: Option<String>,
    pub retrieve: Option<RetrieveSpec>,
    pub store: Option<StoreSpec>,
}

impl Target {
    /// Whether its checks send a real password without TLS (docs/metrics.md
    /// `ftp_target_cleartext_credentials`): a login other than anonymous
    /// (whose password is only an e-mail address) on `tls: none`.
    pub fn cleartext_credentials(&self) -> bool {
        self.tls == TlsMode::None && !crate::check::plan::is_anonymous(&self.username)
    }

    /// The plan of one check of this target in `mode`.
    pub fn plan(&self, mode: Mode) -> CheckPlan {
        CheckPlan {
            host: self.host.clone(),
            port: self.port,
            ip_protocol: self.ip_protocol,
            username: self.username.clone(),
            password: self.password.clone(),
            mode,
            timeout: self.timeout,
            tls: self.tls_options.clone(),
            login_only: self.check.login_only,
            list: self.check.list.clone(),
            retrieve: self.check.retrieve.clone(),
            store: self.check.store.clone(),
            passive: self.passive.clone(),
            active: self.active.clone(),
            resolved: None,
        }
    }
}
