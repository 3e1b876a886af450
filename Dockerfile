# syntax=docker/dockerfile:1
#
# ftp_exporter in an image that holds nothing else: one static binary, the
# CA certificates (FTPS verification) and a passwd entry for UID 65532.
#
#   docker build -t ftp_exporter .      # or: podman build -t ftp_exporter .
#   ci/image.sh                         # offline: the `build` stage is replaced by
#                                       # a binary built on the host (--build-context)
#
# Run it read-only, as 65532, with every capability dropped; it needs none:
#   docker run --read-only --cap-drop=ALL -p 9612:9612 \
#     -v "$PWD/ftp_exporter.yml:/etc/ftp_exporter/ftp_exporter.yml:ro" ftp_exporter

ARG RUST_VERSION=1.95

# --- build: a static binary, without the demo's embedded FTP server ---------
FROM docker.io/library/rust:${RUST_VERSION}-bookworm AS build
WORKDIR /src
COPY . .
# crt-static on the gnu target gives a static-pie binary (no musl toolchain
# needed); glibc's DNS and files lookups are built into it since 2.34, so
# getaddrinfo works in `scratch`. `--no-default-features` drops `demo`.
RUN set -eu; \
    target="$(rustc -vV | sed -n 's/^host: //p')"; \
    RUSTFLAGS="-C target-feature=+crt-static" CARGO_PROFILE_RELEASE_STRIP=symbols \
        cargo build --release --locked --no-default-features --target "$target"; \
    mkdir -p /out/etc/ssl/certs; \
    cp "target/$target/release/ftp_exporter" /out/ftp_exporter; \
    cp /etc/ssl/certs/ca-certificates.crt /out/etc/ssl/certs/ca-certificates.crt

# --- runtime ------------------------------------------------------------------
FROM scratch
# Keep VERSION equal to Cargo.toml's (tests/k8s checks the built image's label).
ARG VERSION=0.1.0
# Set by whoever publishes the image: the git commit and the public repository URL.
ARG REVISION=""
ARG SOURCE=""
LABEL org.opencontainers.image.title="ftp_exporter" \
      org.opencontainers.image.description="Prometheus exporter that checks FTP servers end to end, in active and passive mode" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /out/ /
COPY container/etc/passwd container/etc/group /etc/
# The default --config.file is ftp_exporter.yml in the working directory:
# /etc/ftp_exporter/ftp_exporter.yml, whatever other flags are passed.
WORKDIR /etc/ftp_exporter
USER 65532:65532
EXPOSE 9612
ENTRYPOINT ["/ftp_exporter"]
