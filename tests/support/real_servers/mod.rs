//! Real FTP servers (vsftpd, ProFTPD, Pure-FTPd from Debian, pyftpdlib from
//! PyPI) run as child processes on 127.0.0.1 for the interoperability
//! matrix. The exporter must work against what operators run, not
//! only against the in-process libunftp server, so each server here gets a
//! generated config, a fresh data root and a known user.
//!
//! The binaries come from `ci/install-deps.sh` (unpacked under `.cache/`);
//! a missing one panics with the command to run, never skips.
//!
//! Include it from a test crate with
//! `#[path = "support/real_servers/mod.rs"] mod real_servers;`.
#![allow(dead_code)] // each test crate uses a different part of the harness

mod certs;
mod paths;
mod process;
mod proftpd;
mod pureftpd;
mod pyftpdlib;
mod user;
mod vsftpd;

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::ops::RangeInclusive;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use ftp_exporter::check::TlsMode;

use process::ServerProcess;

/// The file every server serves, relative to the login directory.
pub const HELLO_PATH: &str = "pub/hello.txt";
/// Its content, so a retrieve can be checked byte for byte (and by SHA-256).
pub const HELLO_CONTENT: &[u8] = b"hello from a real FTP server, for ftp_exporter's interop tests\n";
/// A directory the test user may write to.
pub const INCOMING_DIR: &str = "incoming";
/// A directory every server refuses uploads into (a store fault, 550/553).
pub const READONLY_DIR: &str = "readonly";

/// Which real server to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServerKind {
    Vsftpd,
    Proftpd,
    PureFtpd,
    Pyftpdlib,
}

impl ServerKind {
    pub const ALL: [ServerKind; 4] =
        [ServerKind::Vsftpd, ServerKind::Proftpd, ServerKind::PureFtpd, ServerKind::Pyftpdlib];

    pub fn name(self) -> &'static str {
        match self {
            ServerKind::Vsftpd => "vsftpd",
            ServerKind::Proftpd => "proftpd",
            ServerKind::PureFtpd => "pure-ftpd",
            ServerKind::Pyftpdlib => "pyftpdlib",
        }
    }

    /// Implicit FTPS (TLS from the first byte, RFC 4217 predecessor practice on
    /// port 990): vsftpd `implicit_ssl`, ProFTPD `TLSOptions UseImplicitSSL`.
    /// Pure-FTPd and pyftpdlib have no implicit mode.
    pub fn supports_implicit(self) -> bool {
        matches!(self, ServerKind::Vsftpd | ServerKind::Proftpd)
    }
}

/// Which certificate the server presents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CertChoice {
    /// Signed by the test CA in [`RealServer::ca_pem`].
    #[default]
    TestCa,
    /// Same names, signed by another CA: a client trusting only the test CA
    /// must reject it (tls_certificate_invalid).
    OtherCa,
    /// Signed by the test CA but expired (notAfter 2021-01-01).
    Expired,
    /// Signed by the test CA for `wrong-name.invalid` only: neither
    /// `localhost` nor 127.0.0.1 matches.
    WrongName,
}

/// How to configure a server; `Default` is plain FTP, both modes allowed.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    pub tls: TlsMode,
    pub cert: CertChoice,
    /// Address to advertise in 227 instead of the real one (vsftpd
    /// `pasv_address`, ProFTPD `MasqueradeAddress`, Pure-FTPd `-P`,
    /// pyftpdlib `masquerade_address`): the NAT misconfiguration of docs/diagnosis.md.
    pub pasv_address: Option<IpAddr>,
    /// Passive ports; `None` lets the server pick ephemeral ports, which
    /// cannot collide between tests running in parallel.
    pub pasv_ports: Option<RangeInclusive<u16>>,
    /// Sessions the server accepts at once; the next gets 421 (vsftpd).
    pub max_clients: Option<u32>,
    /// Accept PORT/EPRT. `false` is supported by vsftpd, ProFTPD and pyftpdlib.
    pub allow_active: bool,
    /// Listen on ::1 instead of 127.0.0.1: EPSV/EPRT (RFC 2428) are then the
    /// only way to open a data connection.
    pub ipv6: bool,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            tls: TlsMode::None,
            cert: CertChoice::TestCa,
            pasv_address: None,
            pasv_ports: None,
            max_clients: None,
            allow_active: true,
            ipv6: false,
        }
    }
}

impl ServerOptions {
    pub fn tls(tls: TlsMode) -> Self {
        ServerOptions { tls, ..Default::default() }
    }
}

/// A running server; killed (with its session processes) on drop.
pub struct RealServer {
    pub kind: ServerKind,
    pub tls: TlsMode,
    /// 127.0.0.1, or ::1 with [`ServerOptions::ipv6`].
    pub ip: IpAddr,
    pub port: u16,
    pub user: String,
    pub password: String,
    /// The CA that signs [`CertChoice::TestCa`] certificates: what a client trusts.
    pub ca_pem: PathBuf,
    /// The login directory on disk (holds `pub/hello.txt`, `incoming/`, `readonly/`).
    pub root: PathBuf,
    process: ServerProcess,
    /// Config, logs, keys; removed on drop after the process is gone.
    _dir: tempfile::TempDir,
}

/// What a server-specific module needs to write its config and command line.
pub(crate) struct Setup<'a> {
    pub opts: &'a ServerOptions,
    /// The loopback address to bind.
    pub ip: IpAddr,
    pub port: u16,
    /// Config directory (not reachable over FTP).
    pub dir: &'a Path,
    pub root: &'a Path,
    pub user: &'a user::TestUser,
    pub cert: &'a certs::ServerCert,
}

impl RealServer {
    /// Starts `kind` on a free loopback port and returns once its port
    /// answers (the 220 banner, or the TCP accept for implicit TLS).
    /// Panics with the server's log when it does not come up.
    pub fn start(kind: ServerKind, opts: ServerOptions) -> RealServer {
        assert!(
            opts.tls != TlsMode::Implicit || kind.supports_implicit(),
            "{} has no implicit FTPS mode",
            kind.name()
        );
        let user = user::test_user(kind);
        let certs = certs::test_certs();
        let cert = match opts.cert {
            CertChoice::TestCa => &certs.trusted,
            CertChoice::OtherCa => &certs.other_ca,
            CertChoice::Expired => &certs.expired,
            CertChoice::WrongName => &certs.wrong_name,
        };
        // A port picked free can be taken before the server binds it; retry
        // with another one instead of failing the test.
        let mut last_err = String::new();
        for _ in 0..3 {
            let dir = tempfile::Builder::new().prefix("ftp-exporter-srv-").tempdir().unwrap();
            // Servers drop privileges to the test user (or nobody) and must still
            // reach the data root and their config.
            fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
            let root = dir.path().join("root");
            make_data_root(&root, &user);
            let ip =
                if opts.ipv6 { IpAddr::V6(Ipv6Addr::LOCALHOST) } else { IpAddr::V4(Ipv4Addr::LOCALHOST) };
            let port = process::free_port(ip);
            let setup = Setup { opts: &opts, ip, port, dir: dir.path(), root: &root, user: &user, cert };
            let command = match kind {
                ServerKind::Vsftpd => vsftpd::command(&setup),
                ServerKind::Proftpd => proftpd::command(&setup),
                ServerKind::PureFtpd => pureftpd::command(&setup),
                ServerKind::Pyftpdlib => pyftpdlib::command(&setup),
            };
            let mut process = ServerProcess::spawn(kind.name(), command, dir.path());
            match process.wait_ready(SocketAddr::new(ip, port), opts.tls, Duration::from_secs(15)) {
                Ok(()) => {
                    return RealServer {
                        kind,
                        tls: opts.tls,
                        ip,
                        port,
                        user: user.name.clone(),
                        password: user.password.clone(),
                        ca_pem: certs.ca_pem.clone(),
                        root,
                        process,
                        _dir: dir,
                    }
                }
                Err(e) => {
                    let log = process.log();
                    process.kill();
                    last_err = format!("{e}\n--- {} log ---\n{log}", kind.name());
                    if !log.contains("in use") {
                        break;
                    }
                }
            }
        }
        panic!("{} did not start: {last_err}", kind.name());
    }

    /// `ftp://` or (implicit TLS) `ftps://` URL of `path` with credentials, for curl.
    pub fn url(&self, path: &str) -> String {
        let scheme = if self.tls == TlsMode::Implicit { "ftps" } else { "ftp" };
        format!("{scheme}://{}:{}@{}/{path}", self.user, self.password, self.addr())
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::new(self.ip, self.port)
    }

    /// Everything the server logged so far (config errors, protocol log), for
    /// assertion messages.
    pub fn log(&self) -> String {
        self.process.log()
    }

    /// Opens a plain control connection and logs in, retrying while the
    /// server still counts a just-closed session (vsftpd counts session
    /// processes, which exit shortly after the client leaves). Holding the
    /// returned stream occupies one of `max_clients`; it logs in because
    /// ProFTPD's MaxClients counts only logged-in sessions. Plain FTP only.
    pub fn hold_session(&self) -> TcpStream {
        assert_eq!(self.tls, TlsMode::None, "hold_session speaks plain FTP");
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let stream = TcpStream::connect(self.addr()).unwrap();
            stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let banner = read_reply(&mut reader);
            if banner.starts_with("220") {
                let mut w = &stream;
                write!(w, "USER {}\r\n", self.user).unwrap();
                let user = read_reply(&mut reader);
                assert!(user.starts_with("331"), "USER: {user:?}\n{}", self.log());
                write!(w, "PASS {}\r\n", self.password).unwrap();
                let pass = read_reply(&mut reader);
                assert!(pass.starts_with("230"), "PASS: {pass:?}\n{}", self.log());
                return stream;
            }
            assert!(Instant::now() < deadline, "no free session slot: {banner:?}\n{}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The last line of one (possibly multi-line, RFC 959 §4.2) reply.
fn read_reply(reader: &mut impl BufRead) -> String {
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return line;
        }
        let b = line.as_bytes();
        if b.len() >= 4 && b[..3].iter().all(u8::is_ascii_digit) && b[3] == b' ' {
            return line.trim_end().to_string();
        }
    }
}

impl Drop for RealServer {
    fn drop(&mut self) {
        self.process.kill();
    }
}

/// `root/` (owned by root, not writable: vsftpd refuses a writable chroot),
/// `pub/hello.txt`, `incoming/` owned by the test user, `readonly/` not.
fn make_data_root(root: &Path, user: &user::TestUser) {
    fs::create_dir_all(root.join("pub")).unwrap();
    fs::create_dir_all(root.join(INCOMING_DIR)).unwrap();
    fs::create_dir_all(root.join(READONLY_DIR)).unwrap();
    let mut f = fs::File::create(root.join(HELLO_PATH)).unwrap();
    f.write_all(HELLO_CONTENT).unwrap();
    for d in [root, &root.join("pub"), &root.join(READONLY_DIR)] {
        fs::set_permissions(d, fs::Permissions::from_mode(0o755)).unwrap();
    }
    fs::set_permissions(root.join(HELLO_PATH), fs::Permissions::from_mode(0o644)).unwrap();
    std::os::unix::fs::chown(root.join(INCOMING_DIR), Some(user.uid), Some(user.gid)).unwrap();
    fs::set_permissions(root.join(INCOMING_DIR), fs::Permissions::from_mode(0o755)).unwrap();
}
