//! ProFTPD 1.3.8 (Debian) standalone in the foreground (`-n`), as root.
//!
//! - `ModulePath` + `LoadModule mod_tls.c`: Debian builds mod_tls as a DSO,
//!   shipped in proftpd-mod-crypto, which we only unpacked.
//! - `AuthUserFile` with the test user's uid and the test's data root as
//!   home: one login directory per server without touching /etc/passwd;
//!   `DefaultRoot ~` chroots there.
//! - `ScoreboardFile`/`PidFile`/`DelayEngine off`: keep every runtime file in
//!   the test's directory (the defaults live under /run/proftpd).
//! - TLS keeps ProFTPD's default of requiring the data session to resume the
//!   control session (like vsftpd `require_ssl_reuse`).

use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use super::{paths, Setup, TlsMode, READONLY_DIR};

pub fn command(s: &Setup) -> Command {
    let tree = paths::server_tree("proftpd");
    let binary = paths::required(tree.join("usr/sbin/proftpd"));
    let modules = paths::required(tree.join("usr/lib/proftpd"));
    paths::required(modules.join("mod_tls.so"));
    let d = s.dir.display();

    let passwd = s.dir.join("ftpd.passwd");
    let u = s.user;
    fs::write(
        &passwd,
        format!(
            "{}:{}:{}:{}::{}:/usr/sbin/nologin\n",
            u.name,
            u.password_hash,
            u.uid,
            u.gid,
            s.root.display()
        ),
    )
    .unwrap();
    // mod_auth_file refuses a world-readable AuthUserFile.
    fs::set_permissions(&passwd, fs::Permissions::from_mode(0o600)).unwrap();

    let mut c = String::new();
    let mut line = |l: &str| writeln!(c, "{l}").unwrap();
    line("ServerName \"ftp_exporter interop\"");
    line("ServerType standalone");
    line("DefaultServer on");
    line(if s.ip.is_ipv6() { "UseIPv6 on" } else { "UseIPv6 off" });
    line(&format!("Port {}", s.port));
    line(&format!("DefaultAddress {}", s.ip));
    line("SocketBindTight on");
    line("User nobody");
    line("Group nogroup");
    line("Umask 022");
    line(&format!("PidFile {d}/proftpd.pid"));
    line(&format!("ScoreboardFile {d}/proftpd.scoreboard"));
    line("DelayEngine off");
    line("WtmpLog off");
    line("UseReverseDNS off");
    line(&format!("SystemLog {d}/proftpd.log"));
    line(&format!("TransferLog {d}/xfer.log"));
    // The full protocol dialogue, for failing cells.
    line(&format!("ExtendedLog {d}/commands.log ALL"));
    line("AuthOrder mod_auth_file.c");
    line(&format!("AuthUserFile {}", passwd.display()));
    line("RequireValidShell off");
    line("DefaultRoot ~");
    line("AllowOverwrite on");
    line(&format!("ModulePath {}", modules.display()));
    line("<IfModule !mod_tls.c>\nLoadModule mod_tls.c\n</IfModule>");
    if let Some(addr) = s.opts.pasv_address {
        line(&format!("MasqueradeAddress {addr}"));
    }
    if let Some(r) = &s.opts.pasv_ports {
        line(&format!("PassivePorts {} {}", r.start(), r.end()));
    }
    if let Some(n) = s.opts.max_clients {
        line(&format!("MaxClients {n}"));
    }
    if !s.opts.allow_active {
        line("<Limit PORT EPRT>\nDenyAll\n</Limit>");
    }
    line(&format!(
        "<Directory {}/{READONLY_DIR}>\n<Limit WRITE>\nDenyAll\n</Limit>\n</Directory>",
        s.root.display()
    ));
    if s.opts.tls != TlsMode::None {
        line("TLSEngine on");
        line("TLSProtocol TLSv1.2 TLSv1.3");
        line(&format!("TLSRSACertificateFile {}", s.cert.cert.display()));
        line(&format!("TLSRSACertificateKeyFile {}", s.cert.key.display()));
        line("TLSRequired on");
        line("TLSVerifyClient off");
        line(&format!("TLSLog {d}/tls.log"));
        if s.opts.tls == TlsMode::Implicit {
            line("TLSOptions UseImplicitSSL");
        }
    }
    let conf = s.dir.join("proftpd.conf");
    fs::write(&conf, c).unwrap();

    let mut cmd = Command::new(binary);
    cmd.arg("-n").arg("-c").arg(conf);
    cmd
}
