//! The FTP protocol engine: knows the wire, nothing of Prometheus or config.
