#!/usr/bin/env bash
# Builds the container image here, offline, exactly as the Dockerfile ships
# it, and tags it localhost/ftp_exporter:dev (IMAGE_TAG overrides).
#
# No registry is reachable from CI, so the Dockerfile's `build` stage (FROM
# rust:…) cannot be pulled; podman's --build-context replaces that stage by
# a directory holding what the stage would produce (/out: the static binary
# and the CA bundle), built here with the same flags. The runtime stage
# (FROM scratch) is built from the Dockerfile unchanged. Where registries
# are reachable, `docker build .` / `podman build .` build both stages.
set -euo pipefail
cd "$(dirname "$0")/.."

TAG="${IMAGE_TAG:-localhost/ftp_exporter:dev}"
export CONTAINERS_CONF="$PWD/ci/k8s/containers.conf"
command -v podman >/dev/null || { echo "image.sh: podman missing (ci/install-deps.sh installs it)" >&2; exit 1; }

# The Dockerfile's build stage, on the host.
TARGET="$(rustc -vV | sed -n 's/^host: //p')"
RUSTFLAGS="-C target-feature=+crt-static" CARGO_PROFILE_RELEASE_STRIP=symbols \
    nice -n 10 cargo build --release --locked --no-default-features --target "$TARGET"
BIN="target/$TARGET/release/ftp_exporter"
if ldd "$BIN" >/dev/null 2>&1 && ! ldd "$BIN" 2>&1 | grep -q 'statically linked'; then
    echo "image.sh: $BIN is dynamically linked; scratch has no libc:" >&2
    ldd "$BIN" >&2
    exit 1
fi

ctx="$(mktemp -d)"
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/out/etc/ssl/certs"
cp "$BIN" "$ctx/out/ftp_exporter"
cp /etc/ssl/certs/ca-certificates.crt "$ctx/out/etc/ssl/certs/ca-certificates.crt"

VERSION="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)"
REVISION="$(git rev-parse HEAD 2>/dev/null || echo unknown)"
# --force-rm: no intermediate container is left behind when a step fails.
old="$(podman image inspect --format '{{.Id}}' "$TAG" 2>/dev/null || true)"
podman build --pull=never --force-rm --layers=false \
    --build-context build="$ctx" \
    --build-arg VERSION="$VERSION" --build-arg REVISION="$REVISION" \
    --tag "$TAG" .
new="$(podman image inspect --format '{{.Id}}' "$TAG")"
# The previous build of this tag, now untagged: remove it unless in use.
if [[ -n "$old" && "$old" != "$new" ]]; then
    podman rmi "$old" >/dev/null 2>&1 || true
fi
podman image inspect --format "image.sh: built $TAG ({{.Size}} bytes)" "$TAG"
