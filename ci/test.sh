#!/usr/bin/env bash
# The one command that runs every test of ftp_exporter on a fresh Debian
# machine with Rust (run as root, or with sudo): it installs what the tests
# need (ci/install-deps.sh: FTP servers, promtool, nftables, pyftpdlib,
# podman, Helm's engine) and runs the whole suite. Nothing is skipped: a missing server fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -x ci/install-deps.sh ] || [ -f ci/install-deps.sh ]; then
  bash ci/install-deps.sh
fi

export RUST_BACKTRACE=1
cargo fmt --all -- --check
cargo clippy --all-targets -- -D warnings
# The image's feature set (no `demo`): dead code there is a warning too.
cargo clippy --no-default-features -- -D warnings
cargo test --all-targets
# Every fuzz target for a short fixed budget (nightly + cargo-fuzz); fails on a crash.
bash ci/fuzz.sh

# Kubernetes: the image, built offline exactly as the Dockerfile ships it;
# then the Helm chart through Helm's own engine, the image run read-only as
# 65532, and the example's FTP server pod with the exporter sidecar run by
# podman (tests/k8s/, Python's unittest in the venv install-deps made).
bash ci/image.sh
.cache/k8s-venv/bin/python -m unittest discover -v -s tests/k8s -t tests/k8s
