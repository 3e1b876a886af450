#!/usr/bin/env bash
# The one command that runs every test of ftp_exporter on a fresh Debian
# machine with Rust (run as root, or with sudo): it installs what the tests
# need (ci/install-deps.sh: FTP servers, promtool, nftables, pyftpdlib) and
# runs the whole suite. Nothing is skipped: a missing server fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -x ci/install-deps.sh ] || [ -f ci/install-deps.sh ]; then
  bash ci/install-deps.sh
fi

export RUST_BACKTRACE=1
cargo fmt --all -- --check
cargo clippy --all-targets -- -D warnings
cargo test --all-targets
# Every fuzz target for a short fixed budget (nightly + cargo-fuzz); fails on a crash.
bash ci/fuzz.sh
