//! The test account. vsftpd authenticates system accounts through PAM, and
//! ProFTPD and Pure-FTPd switch to a real uid after login, so one system
//! user `ftpcheck` (no login shell) backs every server; ProFTPD and
//! Pure-FTPd get it through their own password files (AuthUserFile, puredb)
//! so their login directory can be the test's data root.
//!
//! `ci/install-deps.sh` creates the same user and PAM service; doing it here
//! too keeps a test run on a machine set up by hand honest (idempotent).

use std::fs;
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use super::ServerKind;

/// Keep in sync with ci/install-deps.sh. Only guards servers bound to 127.0.0.1.
pub const NAME: &str = "ftpcheck";
pub const PASSWORD: &str = "ftpcheck-loopback-only";
/// The PAM service vsftpd uses (`pam_service_name`): pam_unix only, because
/// the user has no login shell and /etc/pam.d/vsftpd is not installed.
pub const PAM_SERVICE: &str = "ftp-exporter-test";
const PAM_CONFIG: &str = "# Written by ftp_exporter ci/install-deps.sh for the vsftpd interop tests.
auth     required pam_unix.so
account  required pam_unix.so
session  required pam_permit.so
";

#[derive(Debug, Clone)]
pub struct TestUser {
    pub name: String,
    pub password: String,
    pub uid: u32,
    pub gid: u32,
    /// SHA-512 crypt(3) of the password, for AuthUserFile and puredb.
    pub password_hash: String,
}

/// The account for `kind` (the same for all four servers).
pub fn test_user(_kind: ServerKind) -> TestUser {
    static USER: OnceLock<TestUser> = OnceLock::new();
    USER.get_or_init(ensure_system_user).clone()
}

fn ensure_system_user() -> TestUser {
    if !run_ok(Command::new("id").args(["-u", NAME])) {
        // Exit status 9 = already exists (another test binary raced us): fine.
        let status = Command::new("useradd")
            .args(["--create-home", "--shell", "/usr/sbin/nologin", NAME])
            .status()
            .expect("useradd (the interop tests run as root)");
        assert!(status.success() || status.code() == Some(9), "useradd {NAME}: {status}");
    }
    // chpasswd fails while another process holds /etc/shadow's lock (test
    // binaries run in parallel under nextest): retry briefly.
    let mut tries = 0;
    while !set_password() {
        tries += 1;
        assert!(tries < 20, "chpasswd {NAME} keeps failing");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }

    let pam = format!("/etc/pam.d/{PAM_SERVICE}");
    if fs::read_to_string(&pam).ok().as_deref() != Some(PAM_CONFIG) {
        fs::write(&pam, PAM_CONFIG).unwrap();
    }

    TestUser {
        name: NAME.into(),
        password: PASSWORD.into(),
        uid: id_number("-u"),
        gid: id_number("-g"),
        password_hash: sha512_crypt(PASSWORD),
    }
}

fn set_password() -> bool {
    let mut chpasswd = Command::new("chpasswd").stdin(Stdio::piped()).spawn().expect("chpasswd");
    chpasswd.stdin.take().unwrap().write_all(format!("{NAME}:{PASSWORD}\n").as_bytes()).unwrap();
    chpasswd.wait().unwrap().success()
}

fn id_number(flag: &str) -> u32 {
    let out = Command::new("id").args([flag, NAME]).output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().parse().unwrap()
}

fn sha512_crypt(password: &str) -> String {
    let mut child = Command::new("openssl")
        .args(["passwd", "-6", "-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("openssl (ci/install-deps.sh installs it)");
    child.stdin.take().unwrap().write_all(password.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "openssl passwd failed");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn run_ok(cmd: &mut Command) -> bool {
    cmd.stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}
