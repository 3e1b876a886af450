//! Reading the small files an operator names (the config file,
//! `password_file`, `tls_ca_file`) without being held up by one.
//!
//! Opening a FIFO blocks until a writer comes; a character device
//! (`/dev/zero`) never ends; a log file named by mistake is large. So the
//! file's metadata is checked *before* it is opened: a regular file, no
//! larger than the caller's bound. (A file on a hung mount can still block
//! in `stat`: callers run on a blocking thread under a deadline, see
//! `config::load_off_runtime`.)

use std::fmt;
use std::io::{self, Read};
use std::path::Path;

/// Why a file was not read; the message names no content.
#[derive(Debug)]
pub enum FileError {
    Io(io::Error),
    /// A FIFO, socket, device or directory.
    NotRegular(&'static str),
    TooLarge {
        size: u64,
        limit: u64,
    },
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileError::Io(e) => write!(f, "{e}"),
            FileError::NotRegular(kind) => write!(f, "not a regular file (a {kind})"),
            FileError::TooLarge { size, limit } => {
                write!(f, "{size} bytes, larger than the {} allowed", human(*limit))
            }
        }
    }
}

impl std::error::Error for FileError {}

impl From<io::Error> for FileError {
    fn from(e: io::Error) -> Self {
        FileError::Io(e)
    }
}

/// The bytes of `path` if it is a regular file of at most `limit` bytes
/// (symbolic links followed, as Kubernetes mounts secrets through them).
pub fn read(path: &Path, limit: u64) -> Result<Vec<u8>, FileError> {
    let meta = std::fs::metadata(path)?;
    check(&meta, limit)?;
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    // The file may grow between stat and read: the bound holds anyway.
    std::fs::File::open(path)?.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(FileError::TooLarge { size: bytes.len() as u64, limit });
    }
    Ok(bytes)
}

/// As [`read`], as UTF-8 text.
pub fn read_text(path: &Path, limit: u64) -> Result<String, FileError> {
    String::from_utf8(read(path, limit)?)
        .map_err(|_| FileError::Io(io::Error::new(io::ErrorKind::InvalidData, "not valid UTF-8")))
}

fn human(n: u64) -> String {
    match n {
        n if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{}MiB", n >> 20),
        n if n >= 1 << 10 && n % (1 << 10) == 0 => format!("{}KiB", n >> 10),
        n => format!("{n} bytes"),
    }
}

fn check(meta: &std::fs::Metadata, limit: u64) -> Result<(), FileError> {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    let kind = if t.is_file() {
        None
    } else if t.is_fifo() {
        Some("FIFO")
    } else if t.is_socket() {
        Some("socket")
    } else if t.is_char_device() || t.is_block_device() {
        Some("device")
    } else if t.is_dir() {
        Some("directory")
    } else {
        Some("special file")
    };
    if let Some(kind) = kind {
        return Err(FileError::NotRegular(kind));
    }
    if meta.len() > limit {
        return Err(FileError::TooLarge { size: meta.len(), limit });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_would_block_or_never_end_before_opening_it() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
        assert!(made.success());
        // Opening it would block this test forever; the check comes first.
        assert!(matches!(read(&fifo, 10), Err(FileError::NotRegular("FIFO"))));
        assert!(matches!(read(Path::new("/dev/zero"), 10), Err(FileError::NotRegular("device"))));
        assert!(matches!(read(dir.path(), 10), Err(FileError::NotRegular("directory"))));
        let big = dir.path().join("big");
        std::fs::write(&big, [b'x'; 11]).unwrap();
        let e = read(&big, 10).unwrap_err();
        assert_eq!(e.to_string(), "11 bytes, larger than the 10 bytes allowed");
        std::fs::write(&big, "pw\n").unwrap();
        assert_eq!(read_text(&big, 10).unwrap(), "pw\n");
        assert!(matches!(read(&dir.path().join("none"), 10), Err(FileError::Io(_))));
    }
}
