//! vsftpd 3.0.3 (Debian) in standalone mode, as root, in the foreground.
//!
//! Non-obvious settings, each needed to run it from a test:
//! - `listen=YES` + `background=NO`: standalone, no inetd, stays our child.
//! - `seccomp_sandbox=NO`: the sandbox kills sessions on syscalls newer
//!   glibc makes (a known Debian/Ubuntu problem with 3.0.3).
//! - `secure_chroot_dir`: must exist, root-owned, not writable; the default
//!   /var/run/vsftpd/empty comes from the package we only unpacked.
//! - `pam_service_name`: our pam_unix-only service (see user.rs).
//! - `connect_from_port_20=NO`: active data connections from any port, so
//!   no privileged port 20 is needed and parallel servers do not collide.
//! - `require_ssl_reuse=YES`: the data TLS session must resume the control
//!   session (what FileZilla Server and hardened vsftpd setups demand), so
//!   the exporter's resumption is tested against the real thing.

use std::fmt::Write as _;
use std::fs;
use std::process::Command;

use super::{paths, user, Setup, TlsMode};

pub fn command(s: &Setup) -> Command {
    let empty = s.dir.join("empty");
    fs::create_dir_all(&empty).unwrap();
    let yes_no = |b: bool| if b { "YES" } else { "NO" };

    let mut c = String::new();
    let mut line = |k: &str, v: &dyn std::fmt::Display| writeln!(c, "{k}={v}").unwrap();
    // vsftpd has one listener: IPv4 (`listen`) or IPv6 (`listen_ipv6`).
    line("listen", &yes_no(s.ip.is_ipv4()));
    line("listen_ipv6", &yes_no(s.ip.is_ipv6()));
    line(if s.ip.is_ipv4() { "listen_address" } else { "listen_address6" }, &s.ip);
    line("listen_port", &s.port);
    line("background", &"NO");
    line("seccomp_sandbox", &"NO");
    line("secure_chroot_dir", &empty.display());
    line("pam_service_name", &user::PAM_SERVICE);
    line("anonymous_enable", &"NO");
    line("local_enable", &"YES");
    line("write_enable", &"YES");
    line("local_umask", &"022");
    line("local_root", &s.root.display());
    line("chroot_local_user", &"YES");
    line("userlist_enable", &"NO");
    line("tcp_wrappers", &"NO");
    line("port_enable", &yes_no(s.opts.allow_active));
    line("connect_from_port_20", &"NO");
    line("pasv_enable", &"YES");
    if let Some(addr) = s.opts.pasv_address {
        line("pasv_address", &addr);
        line("pasv_addr_resolve", &"NO");
    }
    if let Some(r) = &s.opts.pasv_ports {
        line("pasv_min_port", r.start());
        line("pasv_max_port", r.end());
    }
    if let Some(n) = s.opts.max_clients {
        line("max_clients", &n);
    }
    // Every client here is 127.0.0.1; vsftpd's per-address cap (421 "too
    // many connections from your internet address") would otherwise limit
    // the benchmark's parallel sessions, and max_clients is the limit the
    // tests mean.
    line("max_per_ip", &0);
    // Log the whole protocol dialogue: the first thing to read when a cell fails.
    line("xferlog_enable", &"YES");
    line("vsftpd_log_file", &s.dir.join("vsftpd.log").display());
    line("log_ftp_protocol", &"YES");
    if s.opts.tls != TlsMode::None {
        line("ssl_enable", &"YES");
        line("rsa_cert_file", &s.cert.cert.display());
        line("rsa_private_key_file", &s.cert.key.display());
        line("ssl_tlsv1", &"YES");
        line("ssl_sslv2", &"NO");
        line("ssl_sslv3", &"NO");
        line("force_local_logins_ssl", &"YES");
        line("force_local_data_ssl", &"YES");
        line("require_ssl_reuse", &"YES");
        line("ssl_ciphers", &"HIGH");
        line("implicit_ssl", &yes_no(s.opts.tls == TlsMode::Implicit));
    }
    let conf = s.dir.join("vsftpd.conf");
    fs::write(&conf, c).unwrap();

    let mut cmd = Command::new(paths::required(paths::server_tree("vsftpd").join("usr/sbin/vsftpd")));
    cmd.arg(conf);
    cmd
}
