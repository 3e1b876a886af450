//! The closed sets of a check — modes, phases, failure reasons, data
//! operations — and the one place that turns each into its label string.
//!
//! Dashboards, alerts and the acceptance tests match on these strings
//! (docs/failures.md), so they are spelled exactly once, here.

use std::fmt;
use std::str::FromStr;

macro_rules! label_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $label:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            /// Every value, in declaration order (for phases: session order).
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The label string used in metrics, logs, JSON and transcripts.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $label),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $name::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| {
                        let names: Vec<&str> = $name::ALL.iter().map(|v| v.as_str()).collect();
                        format!("unknown {} {:?}, expected {}", stringify!($name).to_lowercase(), s, names.join(" or "))
                    })
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}

/// Label names the exporter sets on its own series (docs/metrics.md); a target's
/// static `labels:` may not use them. Config refuses them at load, metrics
/// drops them defensively.
pub const EXPORTER_LABELS: &[&str] =
    &["target", "address", "tls", "mode", "phase", "reason", "code", "operation"];

label_enum! {
    /// Who opens the data connection (docs/failures.md).
    Mode {
        /// The client sends PASV/EPSV and connects to the server.
        Passive => "passive",
        /// The client sends PORT/EPRT and the server connects back.
        Active => "active",
    }
}

label_enum! {
    /// The timed phases of a session, in session order (docs/failures.md).
    Phase {
        Resolve => "resolve",
        Connect => "connect",
        Banner => "banner",
        Tls => "tls",
        Login => "login",
        DataSetup => "data_setup",
        DataConnect => "data_connect",
        Transfer => "transfer",
        Quit => "quit",
    }
}

label_enum! {
    /// Why a check failed: a closed set (docs/failures.md).
    Reason {
        DnsError => "dns_error",
        ConnectionRefused => "connection_refused",
        NetworkUnreachable => "network_unreachable",
        Timeout => "timeout",
        ConnectionClosed => "connection_closed",
        TlsHandshakeFailed => "tls_handshake_failed",
        TlsCertificateInvalid => "tls_certificate_invalid",
        AuthFailed => "auth_failed",
        ServiceUnavailable => "service_unavailable",
        Rejected => "rejected",
        FileUnavailable => "file_unavailable",
        ProtocolError => "protocol_error",
        UnexpectedPeer => "unexpected_peer",
        ContentMismatch => "content_mismatch",
        IoError => "io_error",
    }
}

label_enum! {
    /// The data operations of a check, run in this order (docs/failures.md).
    Operation {
        List => "list",
        Retrieve => "retrieve",
        Store => "store",
    }
}

label_enum! {
    /// Which address families a check may connect over (docs/configuration.md `ip_protocol`).
    IpProtocol {
        /// Every resolved address, IPv6 first, raced (Happy Eyeballs, RFC 8305).
        Auto => "auto",
        Ipv4 => "ipv4",
        Ipv6 => "ipv6",
    }
}

label_enum! {
    /// How the control connection is protected (docs/configuration.md `tls`).
    TlsMode {
        None => "none",
        Explicit => "explicit",
        Implicit => "implicit",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_round_trip() {
        for p in Phase::ALL {
            assert_eq!(p.as_str().parse::<Phase>(), Ok(*p));
        }
        for r in Reason::ALL {
            assert_eq!(r.as_str().parse::<Reason>(), Ok(*r));
        }
        assert_eq!(Reason::ALL.len(), 15);
        assert_eq!(Phase::ALL.len(), 9);
    }

    #[test]
    fn unknown_label_names_the_choices() {
        let err = "pasive".parse::<Mode>().unwrap_err();
        assert_eq!(err, r#"unknown mode "pasive", expected passive or active"#);
    }
}
