//! The `--web.config.file` loader on arbitrary YAML, its relative paths
//! anchored in a temp dir holding a certificate and key.
//! The property checked is in `ftp_exporter::fuzzing`.
#![no_main]

thread_local! {
    static SANDBOX: ftp_exporter::fuzzing::Sandbox = ftp_exporter::fuzzing::Sandbox::new().expect("a temp dir");
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| SANDBOX.with(|s| s.web_config_parse(data)));
