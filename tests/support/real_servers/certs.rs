//! Test PKI made with the openssl CLI (installed by ci/install-deps.sh; no
//! extra crate): a test CA, a server certificate it signs with
//! SAN DNS:localhost + IP:127.0.0.1 + IP:::1 (so `localhost` and both
//! literals verify), and for the TLS faults: the same names signed by another CA,
//! the test CA's signature on an expired certificate (2020), and one whose
//! only name is `wrong-name.invalid`.
//!
//! Generated once into `.cache/test-certs/` and reused across test binaries
//! (regenerated after 30 days, far inside the 825-day leaf validity). A new
//! set is built in a scratch directory and renamed into place, so parallel
//! test binaries never see half a set.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use super::paths;

#[derive(Debug, Clone)]
pub struct ServerCert {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// Certificate then key in one file (Pure-FTPd's `--certfile`).
    pub bundle: PathBuf,
}

#[derive(Debug, Clone)]
pub struct TestCerts {
    /// What clients trust.
    pub ca_pem: PathBuf,
    pub trusted: ServerCert,
    pub other_ca_pem: PathBuf,
    pub other_ca: ServerCert,
    /// Signed by the test CA, valid 2020-01-01 to 2021-01-01.
    pub expired: ServerCert,
    /// Signed by the test CA for `wrong-name.invalid` only.
    pub wrong_name: ServerCert,
}

pub fn test_certs() -> &'static TestCerts {
    static CERTS: OnceLock<TestCerts> = OnceLock::new();
    CERTS.get_or_init(|| {
        let dir = paths::cache().join("test-certs");
        if !is_fresh(&dir) {
            generate(&dir);
        }
        TestCerts {
            ca_pem: dir.join("ca.pem"),
            trusted: server_cert(&dir, "server"),
            other_ca_pem: dir.join("other-ca.pem"),
            other_ca: server_cert(&dir, "other-server"),
            expired: server_cert(&dir, "expired-server"),
            wrong_name: server_cert(&dir, "wrong-name-server"),
        }
    })
}

fn server_cert(dir: &Path, name: &str) -> ServerCert {
    ServerCert {
        cert: dir.join(format!("{name}.pem")),
        key: dir.join(format!("{name}.key")),
        bundle: dir.join(format!("{name}-bundle.pem")),
    }
}

/// Bumped whenever the set of generated files changes, so an older set in
/// `.cache` is replaced.
const SET_VERSION: &str =
    "3 (SAN with ::1): ca other-ca server other-server expired-server wrong-name-server";

fn is_fresh(dir: &Path) -> bool {
    let done = dir.join("complete");
    if fs::read_to_string(&done).ok().as_deref() != Some(SET_VERSION) {
        return false;
    }
    let Ok(meta) = fs::metadata(&done) else { return false };
    let age = meta.modified().ok().and_then(|m| SystemTime::now().duration_since(m).ok());
    age.is_some_and(|a| a < Duration::from_secs(30 * 86400))
}

fn generate(dir: &Path) {
    fs::create_dir_all(paths::cache()).unwrap();
    let scratch = tempfile::Builder::new().prefix("test-certs-").tempdir_in(paths::cache()).unwrap();
    let s = scratch.path();
    make_ca(s, "ca", "ftp_exporter test CA");
    make_ca(s, "other-ca", "ftp_exporter OTHER test CA");
    make_leaf(s, "server", "ca", GOOD_SAN, None);
    make_leaf(s, "other-server", "other-ca", GOOD_SAN, None);
    make_leaf(s, "expired-server", "ca", GOOD_SAN, Some(("20200101000000Z", "20210101000000Z")));
    make_leaf(s, "wrong-name-server", "ca", "DNS:wrong-name.invalid", None);
    fs::set_permissions(s, fs::Permissions::from_mode(0o755)).unwrap();
    fs::write(s.join("complete"), SET_VERSION).unwrap();
    let scratch = scratch.keep();
    let _ = fs::remove_dir_all(dir);
    if fs::rename(&scratch, dir).is_err() {
        // Another test binary installed its set first; use that one.
        let _ = fs::remove_dir_all(&scratch);
        assert!(dir.join("complete").exists(), "test certificates missing in {}", dir.display());
    }
}

fn make_ca(dir: &Path, name: &str, cn: &str) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "3650",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.pem"),
            "-subj",
            &format!("/CN={cn}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
}

const GOOD_SAN: &str = "DNS:localhost,IP:127.0.0.1,IP:::1";

/// A leaf for `san`, signed by `ca`; `dates` (notBefore, notAfter) need
/// `openssl ca`, because `openssl x509 -days` cannot reach the past.
fn make_leaf(dir: &Path, name: &str, ca: &str, san: &str, dates: Option<(&str, &str)>) {
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
        ],
    );
    fs::write(
        dir.join(format!("{name}.ext")),
        format!(
            "subjectAltName={san}\nbasicConstraints=CA:FALSE\n\
             keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n"
        ),
    )
    .unwrap();
    let (csr, ca_pem, ca_key, ext, out) = (
        format!("{name}.csr"),
        format!("{ca}.pem"),
        format!("{ca}.key"),
        format!("{name}.ext"),
        format!("{name}.pem"),
    );
    match dates {
        None => openssl(
            dir,
            &[
                "x509",
                "-req",
                "-days",
                "825",
                "-set_serial",
                &serial(),
                "-in",
                &csr,
                "-CA",
                &ca_pem,
                "-CAkey",
                &ca_key,
                "-extfile",
                &ext,
                "-out",
                &out,
            ],
        ),
        Some((not_before, not_after)) => {
            fs::create_dir_all(dir.join("newcerts")).unwrap();
            fs::write(dir.join("index.txt"), "").unwrap();
            fs::write(dir.join("serial"), "1000\n").unwrap();
            fs::write(
                dir.join("ca.cnf"),
                "[ca]\ndefault_ca = test\n[test]\ndatabase = index.txt\nnew_certs_dir = newcerts\n\
                 serial = serial\ndefault_md = sha256\npolicy = pol\nunique_subject = no\n\
                 [pol]\ncommonName = supplied\n",
            )
            .unwrap();
            openssl(
                dir,
                &[
                    "ca",
                    "-batch",
                    "-notext",
                    "-config",
                    "ca.cnf",
                    "-cert",
                    &ca_pem,
                    "-keyfile",
                    &ca_key,
                    "-in",
                    &csr,
                    "-out",
                    &out,
                    "-extfile",
                    &ext,
                    "-startdate",
                    not_before,
                    "-enddate",
                    not_after,
                ],
            );
        }
    }
    let bundle = fs::read_to_string(dir.join(&out)).unwrap()
        + &fs::read_to_string(dir.join(format!("{name}.key"))).unwrap();
    fs::write(dir.join(format!("{name}-bundle.pem")), bundle).unwrap();
    for f in [format!("{name}.key"), format!("{name}-bundle.pem")] {
        fs::set_permissions(dir.join(f), fs::Permissions::from_mode(0o600)).unwrap();
    }
}

/// Distinct serials per leaf, so no client cache mistakes one for the other.
fn serial() -> String {
    let n = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_nanos();
    format!("{}", n & 0xffff_ffff_ffff)
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl (ci/install-deps.sh installs it)");
    assert!(out.status.success(), "openssl {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
}
