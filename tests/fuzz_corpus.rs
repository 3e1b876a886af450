//! Replays every checked-in fuzz input — the seed corpora and each crash or
//! hang the fuzzer found (`fuzz/corpus/<target>`, `fuzz/regressions/<target>`)
//! — through the properties the fuzz targets check, on stable, so that a
//! fixed crash stays fixed without nightly or cargo-fuzz.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use ftp_exporter::fuzzing::{self, Sandbox};

fn replay(target: &str, check: impl Fn(&[u8])) {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let inputs = fuzzing::checked_in_inputs(repo, target).unwrap();
    assert!(inputs.len() >= 4, "{target}: the checked-in corpus is missing ({} inputs)", inputs.len());
    let failed: Vec<String> = inputs
        .iter()
        .filter(|(_, data)| catch_unwind(AssertUnwindSafe(|| check(data))).is_err())
        .map(|(path, _)| path.display().to_string())
        .collect();
    assert!(failed.is_empty(), "{target}: properties broken by {failed:#?}");
}

#[test]
fn reply_reader_corpus() {
    replay("reply_reader", fuzzing::reply_reader);
}

#[test]
fn address_codecs_corpus() {
    replay("address_codecs", fuzzing::address_codecs);
}

#[test]
fn config_parse_corpus() {
    let sandbox = Sandbox::new().unwrap();
    replay("config_parse", |d| sandbox.config_parse(d));
}

#[test]
fn web_config_parse_corpus() {
    let sandbox = Sandbox::new().unwrap();
    replay("web_config_parse", |d| sandbox.web_config_parse(d));
}

/// The seeds are what they claim to be: real replies parse, and the seed
/// note's examples decode to the addresses the note computes.
#[test]
fn seeds_are_meaningful() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let seeds = fuzzing::checked_in_inputs(repo, "reply_reader").unwrap();
    for (path, data) in
        seeds.iter().filter(|(p, _)| p.parent().is_some_and(|d| d.ends_with("corpus/reply_reader")))
    {
        let (sizes, text) = fuzzing::split_input(data);
        let (replies, end) = fuzzing::read_replies(text, sizes);
        let name = path.file_name().unwrap().to_string_lossy();
        if name != "http-on-port-21" {
            assert!(!replies.is_empty() && end.contains("closed"), "{name}: {replies:?} then {end}");
        }
    }
    let sandbox = Sandbox::new().unwrap();
    for seed in ["example", "demo", "service-tests", "login-only"] {
        let text = std::fs::read_to_string(repo.join("fuzz/corpus/config_parse").join(seed)).unwrap();
        let parsed = ftp_exporter::config::Config::parse(&text, &sandbox.path("ftp_exporter.yml"));
        assert!(parsed.is_ok(), "{seed}: {}", parsed.unwrap_err());
    }
    for seed in ["tls", "tls-client-ca", "tls-if-given-and-users"] {
        let text = std::fs::read_to_string(repo.join("fuzz/corpus/web_config_parse").join(seed)).unwrap();
        let parsed = ftp_exporter::http::WebConfig::parse(&text, &sandbox.path("web.yml"));
        assert!(parsed.is_ok(), "{seed}: {}", parsed.err().unwrap());
    }
}
