//! Pure-FTPd 1.0.50 (Debian), configured on the command line, as root.
//!
//! - Virtual users from a puredb built with the unpacked `pure-pw mkdb`
//!   (Debian's wrapper script and /etc/pure-ftpd are not installed); the
//!   `/./` in the home directory chroots the user there.
//! - `-f none`: Pure-FTPd logs only to syslog, which a test machine may not
//!   run; the transfer log (`-O clf:`) is what we can keep.
//! - TLS `-Y 3`: TLS required on control and data (the explicit FTPS
//!   counterpart of vsftpd `force_local_*_ssl`). Pure-FTPd has no implicit mode.

use std::fs;
use std::process::Command;

use super::{paths, Setup, TlsMode};

pub fn command(s: &Setup) -> Command {
    let tree = paths::server_tree("pure-ftpd");
    let binary = paths::required(tree.join("usr/sbin/pure-ftpd"));
    let pure_pw = paths::required(tree.join("usr/bin/pure-pw"));

    let u = s.user;
    let passwd = s.dir.join("pureftpd.passwd");
    let pdb = s.dir.join("pureftpd.pdb");
    fs::write(
        &passwd,
        format!("{}:{}:{}:{}::{}/./::::::::::::\n", u.name, u.password_hash, u.uid, u.gid, s.root.display()),
    )
    .unwrap();
    let out = Command::new(pure_pw).arg("mkdb").arg(&pdb).arg("-f").arg(&passwd).output().unwrap();
    assert!(out.status.success(), "pure-pw mkdb: {}", String::from_utf8_lossy(&out.stderr));

    let mut cmd = Command::new(binary);
    cmd.arg("--bind")
        .arg(format!("{},{}", s.ip, s.port))
        .arg("--login")
        .arg(format!("puredb:{}", pdb.display()))
        .args(["--noanonymous", "--chrooteveryone", "--dontresolve"])
        .arg(if s.ip.is_ipv6() { "--ipv6only" } else { "--ipv4only" })
        .args(["--syslogfacility", "none"])
        .arg("--altlog")
        .arg(format!("clf:{}", s.dir.join("xfer.log").display()))
        .arg("--pidfile")
        .arg(s.dir.join("pure-ftpd.pid"));
    if let Some(addr) = s.opts.pasv_address {
        cmd.arg("--forcepassiveip").arg(addr.to_string());
    }
    if let Some(r) = &s.opts.pasv_ports {
        cmd.arg("--passiveportrange").arg(format!("{}:{}", r.start(), r.end()));
    }
    if let Some(n) = s.opts.max_clients {
        cmd.arg("--maxclientsnumber").arg(n.to_string());
    }
    assert!(s.opts.allow_active, "Pure-FTPd cannot refuse active mode alone");
    match s.opts.tls {
        TlsMode::None => {}
        TlsMode::Explicit => {
            cmd.args(["--tls", "3"]).arg("--certfile").arg(&s.cert.bundle);
        }
        TlsMode::Implicit => unreachable!("checked in RealServer::start"),
    }
    cmd
}
