//! `ftp_exporter probe … --output json` run as a real process inside the
//! client namespace (`ip netns exec`): what an operator would type at 3 a.m.
//! on the exporter's host.

use serde_json::Value;

use super::netns::Netns;
use super::scenario::SERVER_PUBLIC;

#[derive(Debug)]
pub struct ProbeRun {
    /// 0 every mode ok, 1 a check failed, 2 bad usage (docs/flags.md).
    pub exit: i32,
    /// One JSON object per mode, in the order probed.
    pub modes: Vec<Value>,
    pub stdout: String,
    pub stderr: String,
}

impl ProbeRun {
    pub fn mode(&self, mode: &str) -> &Value {
        self.modes
            .iter()
            .find(|m| m["mode"] == mode)
            .unwrap_or_else(|| panic!("no {mode} object in probe output: {self:#?}"))
    }

    pub fn success(&self, mode: &str) -> bool {
        self.mode(mode)["success"] == true
    }

    /// `(phase, reason, code)` of the mode's failure, `None` when it succeeded.
    pub fn failure(&self, mode: &str) -> Option<(String, String, String)> {
        let f = &self.mode(mode)["failure"];
        if f.is_null() {
            return None;
        }
        let s = |k: &str| f[k].as_str().unwrap_or_else(|| panic!("failure.{k} missing: {f}")).to_string();
        Some((s("phase"), s("reason"), s("code")))
    }

    pub fn mismatch(&self, mode: &str) -> Value {
        self.mode(mode)["passive_address_mismatch"].clone()
    }

    /// The diagnosis (every mode's object carries the same one).
    pub fn diagnosis(&self) -> String {
        self.modes.first().and_then(|m| m["diagnosis"].as_str()).unwrap_or("").to_string()
    }
}

/// `ftp_exporter probe ftp://anonymous@198.51.100.2/ --timeout 3s --output json <extra>`
/// in the client namespace.
pub fn probe(client: &Netns, extra: &[&str]) -> ProbeRun {
    let url = format!("ftp://anonymous@{SERVER_PUBLIC}/");
    let out = client.exec(
        env!("CARGO_BIN_EXE_ftp_exporter"),
        &[&["probe", &url, "--timeout", "3s", "--output", "json"], extra].concat(),
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let modes = serde_json::Deserializer::from_str(&stdout)
        .into_iter::<Value>()
        .collect::<Result<Vec<_>, _>>()
        .unwrap_or_else(|e| panic!("probe printed something other than JSON objects ({e}):\n{stdout}"));
    ProbeRun {
        exit: out.status.code().unwrap_or(-1),
        modes,
        stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Text output (`--output text`) for the summary lines.
pub fn probe_text(client: &Netns, extra: &[&str]) -> (i32, String) {
    let url = format!("ftp://anonymous@{SERVER_PUBLIC}/");
    let out = client
        .exec(env!("CARGO_BIN_EXE_ftp_exporter"), &[&["probe", &url, "--timeout", "3s"], extra].concat());
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
}
