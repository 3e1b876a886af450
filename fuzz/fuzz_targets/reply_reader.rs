//! The FTP reply reader (src/ftp/reply.rs through the control connection), fed
//! arbitrary bytes in reads whose sizes the fuzzer chooses.
//! The property checked is in `ftp_exporter::fuzzing`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ftp_exporter::fuzzing::reply_reader(data));
