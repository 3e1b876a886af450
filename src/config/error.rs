//! Configuration errors that point at the offending line and key.
//!
//! An operator fixing a refused file needs three things: which file, which
//! line, which key (docs/configuration.md: `config/x.yml:14: targets[2].modes: unknown mode
//! "pasive", expected passive or active`). Every error of this module carries
//! all three, whether serde found it while parsing or a later check did.

use std::fmt;
use std::path::{Path, PathBuf};

/// Why a configuration file was refused.
///
/// Display: `<file>:<line>: <key path>: <message>`. The key path is omitted
/// for errors about the document as a whole; the line is omitted only when
/// the file could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    /// 1-based line.
    pub line: Option<usize>,
    /// Dotted key path such as `targets[2].passive.epsv`; empty for the document itself.
    pub key: String,
    pub message: String,
}

impl ConfigError {
    pub(crate) fn new(file: &Path, line: Option<usize>, key: &KeyPath, message: impl Into<String>) -> Self {
        ConfigError { file: file.to_path_buf(), line, key: key.to_string(), message: message.into() }
    }

    /// Turns a serde_norway error into ours.
    ///
    /// serde_norway tracks the key path and position itself but exposes only
    /// the position; the path is the prefix of its message
    /// (`targets[0].check: unknown field ... at line 4 column 7`). We split
    /// that format here, in one place, and `serde_message_format_is_pinned`
    /// fails loudly if an upgrade changes it.
    pub(crate) fn from_yaml(file: &Path, source_text: &str, err: &serde_norway::Error) -> Self {
        let location = err.location();
        let mut text = err.to_string();
        if let Some(loc) = &location {
            let suffix = format!(" at line {} column {}", loc.line(), loc.column());
            if let Some(at) = text.find(&suffix) {
                text.replace_range(at..at + suffix.len(), "");
            }
        }
        let (mut key, message) = match text.split_once(": ") {
            Some((head, rest)) if looks_like_path(head) => (head.to_string(), rest.to_string()),
            _ => (String::new(), text),
        };
        // serde reports an unknown key at its parent; name the key itself.
        if let Some(field) = message.strip_prefix("unknown field `").and_then(|m| m.split('`').next()) {
            if !key.is_empty() {
                key.push('.');
            }
            key.push_str(field);
        }
        ConfigError {
            file: file.to_path_buf(),
            line: location.map(|l| line_at(source_text, l.index())),
            key,
            message,
        }
    }
}

/// `targets[0].check`, `metrics`: no spaces, only key characters.
fn looks_like_path(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "_-.[]?".contains(c))
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if !self.key.is_empty() {
            write!(f, ": {}", self.key)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

/// One step of a key path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

/// Where a value sits in the document, e.g. `targets[2].passive.epsv`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct KeyPath(pub(crate) Vec<Seg>);

impl KeyPath {
    pub(crate) fn root() -> Self {
        KeyPath(Vec::new())
    }

    pub(crate) fn key(&self, key: &str) -> Self {
        let mut segs = self.0.clone();
        segs.push(Seg::Key(key.to_string()));
        KeyPath(segs)
    }

    pub(crate) fn index(&self, index: usize) -> Self {
        let mut segs = self.0.clone();
        segs.push(Seg::Index(index));
        KeyPath(segs)
    }

    /// Reads back a path as serde_norway prints it (`targets[2].passive`).
    /// Keys containing `.` or `[` do not round-trip; config keys never do.
    pub(crate) fn parse(s: &str) -> Self {
        let mut path = KeyPath::root();
        for part in s.split('.').filter(|p| !p.is_empty()) {
            let mut pieces = part.split('[');
            if let Some(key) = pieces.next().filter(|k| !k.is_empty()) {
                path = path.key(key);
            }
            for idx in pieces {
                if let Ok(n) = idx.trim_end_matches(']').parse() {
                    path = path.index(n);
                }
            }
        }
        path
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(k) if i == 0 => write!(f, "{k}")?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// The 1-based line of byte `index` as editors, `grep -n` and `sed -n` count
/// lines: by `\n`. YAML also breaks lines at a bare `\r` (so serde_norway's
/// own line number counts those), which would point at a line that
/// `sed -n 40p` does not find in a file with stray carriage returns (found
/// by the `config_parse` fuzz target).
pub(crate) fn line_at(text: &str, index: usize) -> usize {
    let end = index.min(text.len());
    text.as_bytes()[..end].iter().filter(|&&b| b == b'\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Doc {
        a: Option<Vec<Inner>>,
    }
    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        n: Option<u8>,
    }

    fn err(text: &str) -> String {
        let e = serde_norway::from_str::<Doc>(text).unwrap_err();
        ConfigError::from_yaml(Path::new("f.yml"), text, &e).to_string()
    }

    #[test]
    fn lines_are_counted_by_newlines_only() {
        // Regression (fuzz/regressions/config_parse): serde said line 4 here.
        assert_eq!(err("a:\r\r\r  - n: x\n"), r#"f.yml:1: a[0].n: invalid type: string "x", expected u8"#);
        assert_eq!(err("a:\r\n  - m: 1\r\n"), "f.yml:2: a[0].m: unknown field `m`, expected `n`");
    }

    #[test]
    fn serde_message_format_is_pinned() {
        assert_eq!(err("a:\n  - n: x\n"), r#"f.yml:2: a[0].n: invalid type: string "x", expected u8"#);
        assert_eq!(err("a:\n  - m: 1\n"), "f.yml:2: a[0].m: unknown field `m`, expected `n`");
        assert_eq!(err("b: 1\n"), "f.yml:1: b: unknown field `b`, expected `a`");
        assert_eq!(err("- 1\n"), "f.yml:1: invalid type: sequence, expected struct Doc");
    }

    #[test]
    fn key_paths_print_like_serde() {
        let p = KeyPath::root().key("targets").index(2).key("passive").key("epsv");
        assert_eq!(p.to_string(), "targets[2].passive.epsv");
        assert_eq!(KeyPath::parse("targets[2].passive.epsv"), p);
        assert_eq!(KeyPath::parse("a[0][1]"), KeyPath::root().key("a").index(0).index(1));
    }
}
