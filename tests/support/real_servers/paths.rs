//! Where `ci/install-deps.sh` put the servers. A missing file panics with
//! the command that installs it: the interop tests never skip (a silent skip
//! would hide a broken matrix in CI).

use std::path::{Path, PathBuf};

/// `$REPO/.cache`, git-ignored.
pub fn cache() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(".cache")
}

/// The unpacked Debian package tree of `name` (`vsftpd`, `proftpd`, `pure-ftpd`).
pub fn server_tree(name: &str) -> PathBuf {
    cache().join("servers").join(name)
}

/// A file inside an installed tree or venv; panics when it is missing.
pub fn required(path: PathBuf) -> PathBuf {
    assert!(
        path.exists(),
        "{} is missing: run `sudo bash ci/install-deps.sh` (installs the real FTP servers for the interop tests)",
        path.display()
    );
    path
}

/// The venv's Python, which has the pinned pyftpdlib and pyOpenSSL.
pub fn venv_python() -> PathBuf {
    required(cache().join("pyftpdlib-venv/bin/python"))
}

/// A file shipped in `tests/support/`.
pub fn support_file(name: &str) -> PathBuf {
    required(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support").join(name))
}
