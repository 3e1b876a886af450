#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian 12 machine (run as root,
# before `cargo test`). Idempotent: running it twice changes nothing the
# second time except re-checking.
#
# Why the FTP servers are unpacked instead of installed: vsftpd, proftpd-core
# and pure-ftpd all Provide/Conflict `ftp-server`, so dpkg will not install
# them side by side. The interop tests need all three at once, so
# each .deb is `dpkg -x`-ed into .cache/servers/<name>/ and the test harness
# (tests/support/real_servers/) runs the binaries from there. Their shared
# libraries do not conflict, so those are installed normally.
set -Eeuo pipefail
trap 'echo "install-deps: FAILED at line $LINENO: $BASH_COMMAND" >&2' ERR

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="$REPO/.cache"
SERVERS="$CACHE/servers"
VENV="$CACHE/pyftpdlib-venv"

# Pinned so a new release cannot change server behaviour under the tests.
PYFTPDLIB_VERSION="2.2.0"
PYOPENSSL_VERSION="25.3.0"

# The test user for vsftpd (PAM, system accounts) and the uid owning uploads
# for ProFTPD and Pure-FTPd. The password only guards FTP servers bound to
# 127.0.0.1 during tests; the shell is nologin. Keep in sync with
# tests/support/real_servers/user.rs.
FTP_USER="ftpcheck"
FTP_PASSWORD="ftpcheck-loopback-only"

say() { echo "install-deps: $*"; }

if [[ $EUID -ne 0 ]]; then
    echo "install-deps: must run as root (apt-get, useradd)" >&2
    exit 1
fi

# Other processes on the same machine may hold the dpkg lock; wait instead of failing.
APT=(apt-get -y -q -o DPkg::Lock::Timeout=600)
export DEBIAN_FRONTEND=noninteractive

say "apt-get update"
"${APT[@]}" update

# Tools the tests run directly:
#   prometheus -> promtool (metrics exposition lint), nftables + iproute2
#   (network namespaces for unreachable/filtered hosts), openssl (test
#   certificates), curl (harness self-test; an HTTPS client of
#   tests/service_web_tls), python3-venv for pyftpdlib,
#   chromium (the page tests drive it headless over the DevTools protocol,
#   tests/support/browser.rs), pngquant (shrinks the README's screenshots
#   when the page tests rewrite them, UPDATE_DOCS_IMAGES=1),
#   prometheus-blackbox-exporter (benches/compare.rs measures a check
#   against it; its smoke run is part of the tests).
# Libraries the unpacked FTP servers link against (found with ldd on the
# unpacked binaries): libwrap0 (vsftpd), libhiredis0.14, libmemcached11,
# libmemcachedutil2, libpcre2-posix3 (proftpd), libsodium23 (proftpd
# mod_tls, pure-ftpd), libcap2, libpam0g, libssl3.
PKGS=(
    prometheus nftables iproute2 openssl curl ca-certificates procps chromium pngquant
    prometheus-blackbox-exporter
    libwrap0 libhiredis0.14 libmemcached11 libmemcachedutil2 libpcre2-posix3
    libsodium23 libcap2 libpam0g libpam-modules libssl3 libacl1 libidn2-0
)
say "apt-get install ${PKGS[*]}"
"${APT[@]}" install --no-install-recommends "${PKGS[@]}"

# promtool is what the tests need from the prometheus package; the package
# also enables a prometheus service, which the tests do not use.
command -v promtool >/dev/null || { echo "install-deps: promtool missing after install" >&2; exit 1; }
command -v prometheus-blackbox-exporter >/dev/null || { echo "install-deps: prometheus-blackbox-exporter missing after install" >&2; exit 1; }
[[ -x /usr/bin/chromium ]] || { echo "install-deps: /usr/bin/chromium missing after install" >&2; exit 1; }
/usr/bin/chromium --version | sed 's/^/install-deps:   /'

# --- FTP servers, unpacked --------------------------------------------------
# name in .cache/servers  ->  Debian packages unpacked into it
declare -A SERVER_DEBS=(
    [vsftpd]="vsftpd"
    [proftpd]="proftpd-core proftpd-mod-crypto"
    [pure-ftpd]="pure-ftpd"
)
declare -A SERVER_BIN=(
    [vsftpd]="usr/sbin/vsftpd"
    [proftpd]="usr/sbin/proftpd"
    [pure-ftpd]="usr/sbin/pure-ftpd"
)
mkdir -p "$SERVERS"
DL="$(mktemp -d)"
chmod 777 "$DL" # apt-get download drops to _apt, which must write here
for name in vsftpd proftpd pure-ftpd; do
    dest="$SERVERS/$name"
    stamp="$dest/.installed"
    want="$(for p in ${SERVER_DEBS[$name]}; do apt-cache policy "$p" | awk -v p="$p" '/Candidate:/ {print p"="$2}'; done | tr '\n' ' ')"
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
        say "$name already unpacked ($want)"
        continue
    fi
    say "unpacking $name: $want"
    rm -rf "$dest"
    mkdir -p "$dest"
    (cd "$DL" && apt-get download ${SERVER_DEBS[$name]})
    for p in ${SERVER_DEBS[$name]}; do
        deb="$(ls "$DL"/"${p}"_*.deb)"
        dpkg -x "$deb" "$dest"
    done
    # Fail here, not in a test, when a library is missing.
    bin="$dest/${SERVER_BIN[$name]}"
    missing="$(ldd "$bin" | grep 'not found' || true)"
    if [[ -n "$missing" ]]; then
        echo "install-deps: $bin is missing libraries:" >&2
        echo "$missing" >&2
        exit 1
    fi
    echo "$want" >"$stamp"
done
rm -rf "$DL"
for mod in "$SERVERS/proftpd/usr/lib/proftpd/mod_tls.so"; do
    missing="$(ldd "$mod" | grep 'not found' || true)"
    [[ -z "$missing" ]] || { echo "install-deps: $mod is missing: $missing" >&2; exit 1; }
done
"$SERVERS/vsftpd/usr/sbin/vsftpd" -v 0>&1 2>&1 | sed 's/^/install-deps:   /' || true
"$SERVERS/proftpd/usr/sbin/proftpd" --version | sed 's/^/install-deps:   /'
"$SERVERS/pure-ftpd/usr/sbin/pure-ftpd" --help 2>&1 | head -1 | sed 's/^/install-deps:   /'

# --- pyftpdlib, in a venv ----------------------------------------------------
# A venv under .cache keeps the pinned versions away from the system Python
# (and works where system pip refuses, PEP 668).
PY="${PYTHON:-python3}"
if ! "$PY" -c 'import venv, ensurepip' 2>/dev/null; then
    say "python3 lacks venv/ensurepip, installing python3-venv"
    "${APT[@]}" install --no-install-recommends python3-venv python3-pip
    PY=/usr/bin/python3
fi
if [[ ! -x "$VENV/bin/python" ]]; then
    say "creating venv $VENV"
    "$PY" -m venv "$VENV"
fi
if "$VENV/bin/python" - "$PYFTPDLIB_VERSION" "$PYOPENSSL_VERSION" <<'EOF' 2>/dev/null; then
import sys
from importlib.metadata import version
sys.exit(0 if (version("pyftpdlib"), version("pyopenssl")) == (sys.argv[1], sys.argv[2]) else 1)
EOF
    say "pyftpdlib $PYFTPDLIB_VERSION and pyopenssl $PYOPENSSL_VERSION already in venv"
else
    say "pip install pyftpdlib==$PYFTPDLIB_VERSION pyopenssl==$PYOPENSSL_VERSION"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check \
        "pyftpdlib==$PYFTPDLIB_VERSION" "pyopenssl==$PYOPENSSL_VERSION"
fi
"$VENV/bin/python" -c 'import pyftpdlib, OpenSSL; from pyftpdlib.handlers import TLS_FTPHandler; print("install-deps:   pyftpdlib", pyftpdlib.__ver__, "pyOpenSSL", OpenSSL.__version__)'

# --- cargo-fuzz, for ci/fuzz.sh ---------------------------------------------
# Pinned and built from crates.io into .cache (a prebuilt binary cannot be
# fetched here). The fuzz targets also need the nightly toolchain, which the
# machines have; ci/fuzz.sh fails when it is missing.
CARGO_FUZZ_VERSION="0.13.2"
CARGO_FUZZ_ROOT="$CACHE/tools/cargo-fuzz"
if [[ "$("$CARGO_FUZZ_ROOT/bin/cargo-fuzz" --version 2>/dev/null)" == "cargo-fuzz $CARGO_FUZZ_VERSION" ]]; then
    say "cargo-fuzz $CARGO_FUZZ_VERSION already installed"
else
    say "cargo install cargo-fuzz $CARGO_FUZZ_VERSION"
    cargo install --quiet --locked cargo-fuzz --version "$CARGO_FUZZ_VERSION" --root "$CARGO_FUZZ_ROOT"
fi
rustup toolchain list | grep -q '^nightly' || { echo "install-deps: the nightly toolchain is missing (cargo fuzz needs it)" >&2; exit 1; }

# --- prometheus_client, in a venv: the OpenMetrics parser the tests check /metrics with
PROMCLIENT_VERSION="0.26.0"
PROMCLIENT_VENV="$CACHE/prometheus-client-venv"
if [[ ! -x "$PROMCLIENT_VENV/bin/python" ]]; then
    say "creating venv $PROMCLIENT_VENV"
    "$PY" -m venv "$PROMCLIENT_VENV"
fi
if "$PROMCLIENT_VENV/bin/python" -c "import sys; from importlib.metadata import version; sys.exit(version('prometheus_client') != '$PROMCLIENT_VERSION')" 2>/dev/null; then
    say "prometheus_client $PROMCLIENT_VERSION already in venv"
else
    say "pip install prometheus_client==$PROMCLIENT_VERSION"
    "$PROMCLIENT_VENV/bin/python" -m pip install -q --disable-pip-version-check "prometheus_client==$PROMCLIENT_VERSION"
fi

# --- Kubernetes: Helm's engine, schemas, podman (tests/k8s/) -----------------
# podman builds and runs the image offline (FROM scratch needs no pull);
# runc and cgroupfs are what this kind of sandbox allows (ci/k8s/containers.conf).
# dash and pure-ftpd's libraries go into the sidecar test's FTP server image.
K8S_PKGS=(podman runc catatonit util-linux hostname dash)
say "apt-get install ${K8S_PKGS[*]}"
"${APT[@]}" install --no-install-recommends "${K8S_PKGS[@]}"
CONTAINERS_CONF="$REPO/ci/k8s/containers.conf" podman version --format 'install-deps:   podman {{.Client.Version}}'

# A venv of its own (other engineers' runs may build theirs at the same time),
# created under a lock so two concurrent runs do not race on it.
K8S_VENV="$CACHE/k8s-venv"
K8S_REQ="$REPO/ci/k8s/requirements.txt"
(
    flock 9
    if [[ ! -x "$K8S_VENV/bin/python" ]]; then
        say "creating venv $K8S_VENV"
        "$PY" -m venv "$K8S_VENV"
    fi
    want="$(sha256sum "$K8S_REQ" | cut -d' ' -f1)"
    if [[ -f "$K8S_VENV/.requirements" && "$(cat "$K8S_VENV/.requirements")" == "$want" ]]; then
        say "k8s venv up to date"
    else
        say "pip install -r ci/k8s/requirements.txt"
        "$K8S_VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$K8S_REQ"
        echo "$want" >"$K8S_VENV/.requirements"
    fi
) 9>"$CACHE/k8s-venv.lock"
"$K8S_VENV/bin/python" -c 'import helm_python as hp, kubernetes_validate, jsonschema; print("install-deps:   helm-python-sdk (Helm", hp.helm_sdk_version() + ")")'

# --- the test user -----------------------------------------------------------
if ! id "$FTP_USER" >/dev/null 2>&1; then
    say "creating user $FTP_USER"
    useradd --create-home --shell /usr/sbin/nologin "$FTP_USER"
else
    say "user $FTP_USER exists"
fi
echo "$FTP_USER:$FTP_PASSWORD" | chpasswd

# vsftpd authenticates through PAM; the harness names this service so the
# tests do not depend on /etc/pam.d/vsftpd (not installed: vsftpd is only
# unpacked) nor on pam_shells (the test user has no login shell).
PAM_FILE=/etc/pam.d/ftp-exporter-test
cat >"$PAM_FILE" <<'EOF'
# Written by ftp_exporter ci/install-deps.sh for the vsftpd interop tests.
auth     required pam_unix.so
account  required pam_unix.so
session  required pam_permit.so
EOF
say "wrote $PAM_FILE"

say "done"
