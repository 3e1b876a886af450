//! curl run inside the client namespace: an independent, well-known FTP
//! client that shows each scenario really has the network behaviour claimed
//! for it, before the exporter is asked to name it.

use std::time::{Duration, Instant};

use super::netns::Netns;
use super::scenario::SERVER_PUBLIC;

/// How curl opens the data connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataMode {
    /// PASV, then connect to the control connection's peer, ignoring the
    /// 227 address (what ftp_exporter does by default, docs/security.md).
    PassiveToControlPeer,
    /// PASV, then connect to whatever address 227 advertised
    /// (`trust_advertised_address: true`).
    PassiveToAdvertised,
    /// PORT with the control connection's local address (`-P -`).
    Active,
}

#[derive(Debug)]
pub struct CurlRun {
    /// curl's exit code (0 ok, 7 couldn't connect, 28 timeout, 30 PORT failed, …).
    pub code: i32,
    pub stdout: String,
    /// `-v` output: every command (`> `) and reply (`< `) and connection note.
    pub stderr: String,
    pub elapsed: Duration,
}

impl CurlRun {
    /// The FTP replies curl received, e.g. `500 Illegal PORT command.`.
    pub fn replies(&self) -> Vec<&str> {
        self.stderr.lines().filter_map(|l| l.strip_prefix("< ")).collect()
    }

    pub fn listed(&self, name: &str) -> bool {
        self.code == 0 && self.stdout.contains(name)
    }
}

/// Lists the login directory of the lab's server with curl run in `client`.
/// Timeouts are short (2 s connect, 3 s whole) so that a filtered path costs
/// little.
pub fn list(client: &Netns, mode: DataMode) -> CurlRun {
    list_with(client, mode, &[])
}

/// [`list`] with extra curl arguments.
pub fn list_with(client: &Netns, mode: DataMode, extra: &[&str]) -> CurlRun {
    let url = format!("ftp://{SERVER_PUBLIC}/");
    let mut args = vec!["-v", "-sS", "--connect-timeout", "2", "--max-time", "3"];
    match mode {
        // EPSV/EPRT off: their replies carry no address, and the NAT faults
        // under test are about the address in PORT/227.
        DataMode::PassiveToControlPeer => args.extend(["--disable-epsv", "--ftp-skip-pasv-ip"]),
        DataMode::PassiveToAdvertised => args.extend(["--disable-epsv", "--no-ftp-skip-pasv-ip"]),
        DataMode::Active => args.extend(["--disable-eprt", "-P", "-"]),
    }
    args.extend_from_slice(extra);
    args.push(&url);
    let start = Instant::now();
    let out = client.exec("curl", &args);
    CurlRun {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: start.elapsed(),
    }
}
