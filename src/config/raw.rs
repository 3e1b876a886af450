//! The file as written: serde structs, every key optional so that a target
//! and `defaults:` share one shape and can be merged key by key.
//!
//! `deny_unknown_fields` everywhere: a misspelt key (`pasive:`) silently
//! ignored would leave a check running with settings nobody chose.

use std::net::IpAddr;

use serde::Deserialize;

use super::address::Address;
use super::fields::{Buckets, FtpArg, Labels, ModeList, PortRange, RawSecret, Sha256Hex, Text, TlsVersion};
use super::units::{ByteSize, PositiveDuration};
use crate::check::{IpProtocol, TlsMode, Toggle};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFile {
    pub defaults: Option<RawTarget>,
    pub targets: Option<Vec<RawTarget>>,
    pub metrics: Option<RawMetrics>,
}

/// A target, or `defaults:` (where `name` and `address` are refused later,
/// with their line).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTarget {
    pub name: Option<String>,
    pub address: Option<Text<Address>>,
    pub ip_protocol: Option<Text<IpProtocol>>,
    pub username: Option<Text<FtpArg>>,
    pub password: Option<RawSecret>,
    pub password_env: Option<String>,
    pub password_file: Option<String>,
    pub tls: Option<Text<TlsMode>>,
    pub tls_ca_file: Option<String>,
    pub tls_server_name: Option<String>,
    pub tls_insecure_skip_verify: Option<bool>,
    pub tls_max_version: Option<TlsVersion>,
    pub modes: Option<ModeList>,
    pub interval: Option<PositiveDuration>,
    pub timeout: Option<PositiveDuration>,
    pub check: Option<RawCheck>,
    pub passive: Option<RawPassive>,
    pub active: Option<RawActive>,
    pub labels: Option<Labels>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCheck {
    pub login_only: Option<bool>,
    pub list: Option<Text<FtpArg>>,
    pub retrieve: Option<RawRetrieve>,
    pub store: Option<RawStore>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRetrieve {
    pub path: Text<FtpArg>,
    pub sha256: Option<Text<Sha256Hex>>,
    pub size: Option<ByteSize>,
    pub max_bytes: Option<ByteSize>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStore {
    pub path: Option<Text<FtpArg>>,
    pub bytes: Option<ByteSize>,
    pub verify: Option<bool>,
    pub delete: Option<bool>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPassive {
    pub epsv: Option<Text<Toggle>>,
    pub trust_advertised_address: Option<bool>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawActive {
    pub listen_address: Option<Text<IpAddr>>,
    pub advertise_address: Option<Text<IpAddr>>,
    pub port_range: Option<Text<PortRange>>,
    pub eprt: Option<Text<Toggle>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMetrics {
    pub duration_buckets: Option<Buckets>,
}
