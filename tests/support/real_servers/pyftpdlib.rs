//! pyftpdlib (pinned in ci/install-deps.sh) through tests/support/pyftpd_server.py,
//! run by the venv's Python. It runs as root with a DummyAuthorizer user, so
//! permissions are pyftpdlib's own (`readonly/` gets read-only perms there).

use std::process::Command;

use super::{paths, Setup, TlsMode, READONLY_DIR};

pub fn command(s: &Setup) -> Command {
    let mut cmd = Command::new(paths::venv_python());
    cmd.arg("-u")
        .arg(paths::support_file("pyftpd_server.py"))
        .args(["--address", &s.ip.to_string(), "--port", &s.port.to_string()])
        .arg("--root")
        .arg(s.root)
        .args(["--user", &s.user.name])
        .arg("--readonly")
        .arg(s.root.join(READONLY_DIR))
        .arg("--log")
        .arg(s.dir.join("pyftpdlib.log"))
        // The password on stdin would need a pipe kept open; the environment
        // stays out of `ps` output and logs.
        .env("FTP_TEST_PASSWORD", &s.user.password);
    if let Some(addr) = s.opts.pasv_address {
        cmd.args(["--masquerade", &addr.to_string()]);
    }
    if let Some(r) = &s.opts.pasv_ports {
        cmd.args(["--passive-ports", &format!("{}-{}", r.start(), r.end())]);
    }
    if let Some(n) = s.opts.max_clients {
        cmd.args(["--max-cons", &n.to_string()]);
    }
    if !s.opts.allow_active {
        cmd.arg("--no-active");
    }
    match s.opts.tls {
        TlsMode::None => {}
        TlsMode::Explicit => {
            cmd.arg("--cert").arg(&s.cert.cert).arg("--key").arg(&s.cert.key);
        }
        TlsMode::Implicit => unreachable!("checked in RealServer::start"),
    }
    cmd
}
