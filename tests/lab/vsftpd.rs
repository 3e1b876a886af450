//! A real vsftpd inside the `server` namespace.
//!
//! The binary comes from Debian's package unpacked by `ci/install-deps.sh`
//! into `.cache/servers/vsftpd/` (override with `FTP_EXPORTER_VSFTPD`). A
//! missing binary fails the test loudly: the lab is only worth something when
//! it runs.

use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use super::netns::Netns;
use super::scenario::{Scenario, PASSIVE_PORTS, SERVER, SERVER_PUBLIC};

/// The one file anonymous users find in the login directory.
pub const HELLO_NAME: &str = "hello.txt";
pub const HELLO_BODY: &str = "hello from the fxlab server\n";

/// `<tmp>/fxlab-vsftpd-<pid>-*`: configuration, anon_root and logs of one
/// vsftpd; the pid lets [`remove_stale_dirs`] recognise a dead run's.
const DIR_PREFIX: &str = "fxlab-vsftpd-";

/// Removes the directories of vsftpds whose test process is gone.
pub fn remove_stale_dirs() {
    let tmp = std::env::temp_dir();
    let Ok(entries) = std::fs::read_dir(&tmp) else { return };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix(DIR_PREFIX).and_then(|r| r.split('-').next()) else { continue };
        if pid.parse::<u32>().is_ok() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

pub fn binary() -> PathBuf {
    if let Some(p) = std::env::var_os("FTP_EXPORTER_VSFTPD") {
        return PathBuf::from(p);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join(".cache/servers/vsftpd/usr/sbin/vsftpd")
}

/// A running vsftpd; killed (with its session processes) on drop.
pub struct Vsftpd {
    child: Child,
    dir: tempfile::TempDir,
}

impl Vsftpd {
    pub fn start(ns: &Netns, s: &Scenario) -> Vsftpd {
        let bin = binary();
        assert!(
            bin.is_file(),
            "vsftpd not found at {} — run ci/install-deps.sh (or set FTP_EXPORTER_VSFTPD)",
            bin.display()
        );
        let dir = tempfile::Builder::new()
            .prefix(&format!("{DIR_PREFIX}{}-", std::process::id()))
            .tempdir()
            .unwrap();
        let base = dir.path();
        chmod(base, 0o755);
        std::fs::create_dir(base.join("root")).unwrap();
        std::fs::create_dir(base.join("empty")).unwrap();
        std::fs::write(base.join("root").join(HELLO_NAME), HELLO_BODY).unwrap();
        chmod(&base.join("root"), 0o755);
        chmod(&base.join("root").join(HELLO_NAME), 0o644);
        if s.ftps {
            write_certificate(base);
        }
        let conf = base.join("vsftpd.conf");
        std::fs::write(&conf, config(base, s)).unwrap();

        let child = ns
            .command(bin.to_str().unwrap())
            .arg(&conf)
            .env("LD_LIBRARY_PATH", library_path(&bin))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(std::fs::File::create(base.join("stderr")).unwrap()))
            // Its own process group, so that teardown reaches the session
            // processes too: vsftpd moves them into fresh network namespaces
            // (isolate_network), where `ip netns pids` cannot see them.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let mut v = Vsftpd { child, dir };
        v.wait_ready(ns);
        v
    }

    /// Waits for the 220 greeting, connecting from inside the server namespace.
    fn wait_ready(&mut self, ns: &Netns) {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("vsftpd exited at start ({status}): {}", self.stderr());
            }
            let greeted = ns.run_inside(|| {
                let addr = SocketAddr::from((SERVER, 21));
                let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(300)) else {
                    return false;
                };
                let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
                let mut buf = [0u8; 3];
                s.read_exact(&mut buf).is_ok() && &buf == b"220"
            });
            if greeted {
                return;
            }
            assert!(Instant::now() < deadline, "vsftpd did not greet within 5s: {}", self.stderr());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr")).unwrap_or_default()
    }

    /// The server's certificate (PEM), to trust as a CA file; `None` without FTPS.
    pub fn certificate(&self) -> Option<PathBuf> {
        Some(self.dir.path().join(CERT_FILE)).filter(|p| p.is_file())
    }

    /// The listening process (also its process group).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// vsftpd's protocol log: every command and reply it saw (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("vsftpd.log")).unwrap_or_default()
    }
}

impl Drop for Vsftpd {
    fn drop(&mut self) {
        let pgid = self.child.id() as i32;
        // SAFETY: kill(2) of the process group we created for this vsftpd.
        unsafe { libc::kill(-pgid, libc::SIGKILL) };
        let _ = self.child.wait();
    }
}

fn config(base: &Path, s: &Scenario) -> String {
    let mut c = format!(
        "listen=YES\nlisten_ipv6=NO\nlisten_address={SERVER}\nbackground=NO\n\
         seccomp_sandbox=NO\ntcp_wrappers=NO\n\
         anonymous_enable=YES\nno_anon_password=YES\nanon_root={root}\n\
         ftp_username={ftp_user}\nnopriv_user=nobody\nlocal_enable=NO\nwrite_enable=NO\n\
         pasv_enable=YES\npasv_min_port={pmin}\npasv_max_port={pmax}\n\
         port_enable=YES\nconnect_from_port_20={port20}\n\
         secure_chroot_dir={empty}\n\
         xferlog_enable=YES\nxferlog_std_format=NO\nlog_ftp_protocol=YES\nvsftpd_log_file={log}\n",
        root = base.join("root").display(),
        ftp_user = anonymous_user(),
        pmin = PASSIVE_PORTS.start(),
        pmax = PASSIVE_PORTS.end(),
        port20 = if s.connect_from_port_20 { "YES" } else { "NO" },
        empty = base.join("empty").display(),
        log = base.join("vsftpd.log").display(),
    );
    if let Some(addr) = s.pasv_address {
        c.push_str(&format!("pasv_address={addr}\n"));
    }
    if s.server_accepts_foreign_port {
        c.push_str("port_promiscuous=YES\n");
    }
    if s.ftps {
        // Anonymous FTPS, required for login and data, as a server that
        // mandates encryption would be configured.
        c.push_str(&format!(
            "ssl_enable=YES\nallow_anon_ssl=YES\nforce_anon_logins_ssl=YES\nforce_anon_data_ssl=YES\n\
             ssl_tlsv1=YES\nssl_sslv2=NO\nssl_sslv3=NO\nrequire_ssl_reuse=YES\nssl_ciphers=HIGH\n\
             rsa_cert_file={cert}\nrsa_private_key_file={key}\n",
            cert = base.join(CERT_FILE).display(),
            key = base.join("key.pem").display(),
        ));
    }
    c
}

const CERT_FILE: &str = "cert.pem";

/// A self-signed certificate for the server's public address, written
/// beside the configuration (also the CA file the exporter trusts).
fn write_certificate(base: &Path) {
    let ck = rcgen::generate_simple_self_signed(vec![SERVER_PUBLIC.to_string()]).unwrap();
    std::fs::write(base.join(CERT_FILE), ck.cert.pem()).unwrap();
    std::fs::write(base.join("key.pem"), ck.signing_key.serialize_pem()).unwrap();
}

/// vsftpd changes into the anonymous user's home directory before
/// `anon_root`, so the user must have one that exists: Debian's `ftp` user
/// when the vsftpd package created it, else `daemon` (home /usr/sbin).
fn anonymous_user() -> &'static str {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let home_exists = |user: &str| {
        passwd.lines().any(|l| {
            let f: Vec<&str> = l.split(':').collect();
            f.len() > 5 && f[0] == user && Path::new(f[5]).is_dir()
        })
    };
    if home_exists("ftp") {
        "ftp"
    } else {
        assert!(home_exists("daemon"), "no user with a home directory for vsftpd's anonymous sessions");
        "daemon"
    }
}

/// The unpacked package's library directories (libwrap0 is unpacked beside
/// vsftpd because the machine need not have it installed).
fn library_path(bin: &Path) -> String {
    let mut dirs: Vec<String> = Vec::new();
    if let Some(root) = bin.parent().and_then(Path::parent).and_then(Path::parent) {
        for sub in ["usr/lib", "lib"] {
            if let Ok(entries) = std::fs::read_dir(root.join(sub)) {
                for e in entries.flatten() {
                    if e.file_name().to_string_lossy().ends_with("-linux-gnu") {
                        dirs.push(e.path().display().to_string());
                    }
                }
            }
        }
    }
    if let Ok(old) = std::env::var("LD_LIBRARY_PATH") {
        dirs.push(old);
    }
    dirs.join(":")
}

fn chmod(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}
