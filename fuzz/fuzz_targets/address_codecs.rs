//! The PORT/227/EPRT/229 codecs (src/ftp/address.rs).
//! The property checked is in `ftp_exporter::fuzzing`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ftp_exporter::fuzzing::address_codecs(data));
