//! `{hostname}` in `check.store.path`: this exporter's host name, so that
//! two replicas (an HA pair, shards during a rollout) checking one server
//! never write the same probe file and race each other into a false
//! `content_mismatch`.
//!
//! Read once per process: a pod's name does not change, and a stable name
//! keeps the probe file's name stable across reloads.

use std::sync::OnceLock;

/// The placeholder, as written in the config.
pub const PLACEHOLDER: &str = "{hostname}";

/// Used when the host name cannot be read (no `/proc`, an empty name).
pub const FALLBACK: &str = "ftp_exporter";

/// This host's name (the UTS name: what `hostname` prints, the pod name in
/// Kubernetes), made safe for a file name; [`FALLBACK`] when unavailable.
pub fn this_host() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        read().unwrap_or_else(|| {
            tracing::warn!("cannot read this host's name; {PLACEHOLDER} in store.path becomes {FALLBACK:?}");
            FALLBACK.to_string()
        })
    })
}

/// This host's name, made safe as [`this_host`] does, or `None` when it
/// cannot be read: for `--shard.index-from-hostname`, where a fallback
/// would silently pick a wrong shard.
pub fn read() -> Option<String> {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok().map(|s| sanitize(&s)).filter(|s| !s.is_empty()))
        .or_else(|| std::env::var("HOSTNAME").ok().map(|s| sanitize(&s)).filter(|s| !s.is_empty()))
}

/// `path` with every `{hostname}` replaced by `host`.
pub fn substitute(path: &str, host: &str) -> String {
    path.replace(PLACEHOLDER, host)
}

/// Keeps what a host name may hold (letters, digits, `.`, `-`, `_`) and
/// replaces anything else, so the name is safe in a path and an FTP command.
fn sanitize(raw: &str) -> String {
    raw.trim()
        .chars()
        .take(64)
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') { c } else { '_' })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitutes_every_occurrence() {
        assert_eq!(substitute("/in/ftp_exporter_{hostname}.tmp", "pod-2"), "/in/ftp_exporter_pod-2.tmp");
        assert_eq!(substitute("/{hostname}/{hostname}", "a"), "/a/a");
        assert_eq!(substitute("/in/fixed.tmp", "a"), "/in/fixed.tmp");
    }

    #[test]
    fn host_names_are_made_safe() {
        assert_eq!(sanitize("web-1.example.org\n"), "web-1.example.org");
        assert_eq!(sanitize("a b/c\r\nDELE x"), "a_b_c__DELE_x");
        assert!(!this_host().is_empty());
        assert_eq!(this_host(), sanitize(this_host()), "read once, already safe");
    }
}
