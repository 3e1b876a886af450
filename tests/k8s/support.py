"""Shared helpers of the Kubernetes tests: Helm's own engine (helm-python-sdk),
strict Kubernetes schemas (kubernetes-validate), the Prometheus Operator CRD
schemas vendored in crds/, a Pod Security "restricted" check, and podman.

Every tool is required: a missing one fails the run with the command that
installs it (ci/install-deps.sh), never skips.
"""

import atexit
import base64
import copy
import functools
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import helm_python as hp
import jsonschema
import kubernetes_validate
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "ftp-exporter"
EXAMPLE = REPO / "helm" / "examples" / "ftp-server-with-sidecar"
CRDS = Path(__file__).resolve().parent / "crds"
KUBE_VERSIONS = ("1.25.0", "1.33.0")
IMAGE = os.environ.get("IMAGE_TAG", "localhost/ftp_exporter:dev")
CONTAINERS_CONF = REPO / "ci" / "k8s" / "containers.conf"


# ------------------------------------------------------------------ Helm

def lint(path, values=None, kube_version="1.29.0"):
    """helm lint --strict: returns the findings that are warnings or errors."""
    report = hp.lint(str(path), values or {}, strict=True, kube_version=kube_version)
    bad = [m for m in report["messages"] if m["severity"] >= 2]
    return bad + [{"error": e} for e in report["errors"]]


def render_raw(values=None, chart=CHART, name="rel", namespace="ns"):
    """{template path: text}, as `helm template` renders them."""
    with hp.Chart.load(str(chart)) as c:
        return c.render(values or {}, name=name, namespace=namespace)


def render(values=None, chart=CHART, name="rel", namespace="ns"):
    """The rendered objects (NOTES.txt and empty documents left out)."""
    out = []
    for path, text in sorted(render_raw(values, chart, name, namespace).items()):
        if path.endswith("NOTES.txt"):
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                doc.setdefault("__template__", path)
                out.append(doc)
    return out


def notes(values=None, chart=CHART):
    return "".join(t for p, t in render_raw(values, chart).items() if p.endswith("/templates/NOTES.txt") and p.count("/") == 2)


def clean(obj):
    o = copy.deepcopy(obj)
    o.pop("__template__", None)
    return o


def kinds(objs):
    return sorted(o["kind"] for o in objs)


def one(objs, kind, name=None):
    found = [o for o in objs if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {[o['metadata']['name'] for o in found]}"
    return found[0]


def values_file(path):
    return yaml.safe_load(Path(path).read_text()) or {}


def temp_dir(prefix):
    """A temporary directory removed when the test run ends."""
    d = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, d, True)
    return d


@functools.lru_cache(maxsize=1)
def example_chart():
    """The example chart with its dependency resolved, in a temporary copy
    (helm dependency update writes charts/ and Chart.lock)."""
    root = temp_dir("ftp-exporter-helm-")
    shutil.copytree(REPO / "helm", root / "helm", ignore=shutil.ignore_patterns("charts", "Chart.lock"))
    chart = root / "helm" / "examples" / EXAMPLE.name
    hp.dependency_update(str(chart))
    return chart


def with_chart_version(version):
    """A copy of the chart whose Chart.yaml says `version`."""
    root = temp_dir("ftp-exporter-bump-") / "ftp-exporter"
    shutil.copytree(CHART, root)
    meta = (root / "Chart.yaml").read_text()
    bumped = re.sub(r"(?m)^version: .*$", f"version: {version}", meta)
    assert bumped != meta
    (root / "Chart.yaml").write_text(bumped)
    return root


# ------------------------------------------------------------ validation

CR_KINDS = {
    "ServiceMonitor": "monitoring.coreos.com_servicemonitors.yaml",
    "PodMonitor": "monitoring.coreos.com_podmonitors.yaml",
    "PrometheusRule": "monitoring.coreos.com_prometheusrules.yaml",
}


def _strict(schema):
    """The API server's strict field validation on a CRD schema: an object
    with `properties` accepts no other keys unless it says so."""
    if isinstance(schema, dict):
        s = {k: _strict(v) for k, v in schema.items()}
        if (
            s.get("type") == "object"
            and "properties" in s
            and "additionalProperties" not in s
            and not s.get("x-kubernetes-preserve-unknown-fields")
        ):
            s["additionalProperties"] = False
        return s
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


@functools.lru_cache(maxsize=None)
def cr_schema(kind):
    crd = yaml.safe_load((CRDS / CR_KINDS[kind]).read_text())
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    schema = _strict(version["schema"]["openAPIV3Schema"])
    # metadata is checked by its own rules below (the CRD says only "object").
    schema["properties"]["metadata"] = {"type": "object"}
    return schema


def validate(obj, versions=KUBE_VERSIONS):
    """Raises AssertionError naming the object and what is wrong with it."""
    o = clean(obj)
    where = f"{o.get('kind')} {o.get('metadata', {}).get('name')} ({obj.get('__template__')})"
    if o["kind"] in CR_KINDS:
        assert o["apiVersion"] == "monitoring.coreos.com/v1", where
        errors = sorted(jsonschema.Draft7Validator(cr_schema(o["kind"])).iter_errors(o), key=str)
        assert not errors, f"{where}: " + "; ".join(f"{list(e.path)}: {e.message}" for e in errors)
    else:
        for v in versions:
            try:
                kubernetes_validate.validate(o, v, strict=True)
            except kubernetes_validate.ValidationError as e:
                raise AssertionError(f"{where} is invalid for Kubernetes {v}: {e}") from None
    check_names(o, where)


DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def check_names(o, where):
    """What the schemas do not say: name and label lengths."""
    meta = o["metadata"]
    name = meta["name"]
    limit = 52 if o["kind"] == "StatefulSet" else 63
    assert len(name) <= limit and DNS_LABEL.match(name), f"{where}: name {name!r} ({len(name)} characters)"
    labels = dict(meta.get("labels", {}))
    template = o.get("spec", {}).get("template", {}).get("metadata", {})
    labels.update(template.get("labels", {}))
    for k, v in labels.items():
        assert len(str(v)) <= 63 and LABEL_VALUE.match(str(v)), f"{where}: label {k}={v!r}"


def pod_spec(obj):
    if obj["kind"] == "Pod":
        return obj["spec"]
    return obj["spec"]["template"]["spec"]


BASELINE_CAPS = {
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
    "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
}
RESTRICTED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"}


def restricted_violations(spec, only=None):
    """Violations of the Pod Security Standards' "restricted" level
    (kubernetes.io/docs/concepts/security/pod-security-standards), which
    includes "baseline". `only`: check these container names alone (a
    sidecar in someone else's pod)."""
    out = []
    psc = spec.get("securityContext", {})
    containers = spec.get("containers", []) + spec.get("initContainers", []) + spec.get("ephemeralContainers", [])
    if only is not None:
        containers = [c for c in containers if c["name"] in only]
    else:
        for key in ("hostNetwork", "hostPID", "hostIPC"):
            if spec.get(key):
                out.append(f"pod: {key}")
        for v in spec.get("volumes", []):
            kind = [k for k in v if k != "name"]
            if not set(kind) <= RESTRICTED_VOLUMES:
                out.append(f"volume {v['name']}: {kind}")
        for s in psc.get("sysctls", []):
            out.append(f"pod: sysctl {s['name']}")
    for c in containers:
        sc = c.get("securityContext", {})
        n = f"container {c['name']}"
        if sc.get("privileged"):
            out.append(f"{n}: privileged")
        if sc.get("allowPrivilegeEscalation") is not False:
            out.append(f"{n}: allowPrivilegeEscalation is not false")
        run_as_non_root = sc.get("runAsNonRoot", psc.get("runAsNonRoot") if only is None else None)
        if run_as_non_root is not True:
            out.append(f"{n}: runAsNonRoot is not true")
        if sc.get("runAsUser", psc.get("runAsUser") if only is None else None) == 0:
            out.append(f"{n}: runAsUser 0")
        seccomp = sc.get("seccompProfile", psc.get("seccompProfile") if only is None else None) or {}
        if seccomp.get("type") not in ("RuntimeDefault", "Localhost"):
            out.append(f"{n}: seccompProfile {seccomp}")
        caps = sc.get("capabilities", {})
        if "ALL" not in caps.get("drop", []):
            out.append(f"{n}: capabilities.drop lacks ALL")
        if set(caps.get("add", [])) - {"NET_BIND_SERVICE"}:
            out.append(f"{n}: capabilities.add {caps['add']}")
        if sc.get("procMount", "Default") != "Default":
            out.append(f"{n}: procMount")
        for p in c.get("ports", []):
            if p.get("hostPort"):
                out.append(f"{n}: hostPort {p['hostPort']}")
        if not sc.get("readOnlyRootFilesystem"):
            # Not in the standard; this chart promises it.
            out.append(f"{n}: readOnlyRootFilesystem is not true")
    return out


# ------------------------------------------------------------------ tools

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(cmd, check=True, timeout=300, **kw):
    """Runs a command; on failure the error says what ran and what it printed."""
    env = dict(os.environ, CONTAINERS_CONF=str(CONTAINERS_CONF))
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, **kw)
    except FileNotFoundError:
        raise AssertionError(f"{cmd[0]} is not installed: run `sudo bash ci/install-deps.sh`") from None
    if check and p.returncode != 0:
        raise AssertionError(f"`{' '.join(map(str, cmd))}` exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
    return p


def podman(*args, **kw):
    return run(["podman", *map(str, args)], **kw)


def require_image(tag=IMAGE):
    p = podman("image", "exists", tag, check=False)
    assert p.returncode == 0, f"image {tag} is missing: build it with `bash ci/image.sh` (ci/test.sh does)"


def http_get(url, timeout=5, **kw):
    with urllib.request.urlopen(url, timeout=timeout, **kw) as r:
        return r.status, r.read().decode()


def metrics(port):
    return http_get(f"http://127.0.0.1:{port}/metrics")[1]


def sample(text, name, **labels):
    """The value of the series `name{labels…}` (exactly those labels), or None."""
    want = {k: str(v) for k, v in labels.items()}
    for line in text.splitlines():
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$", line)
        if not m or m.group(1) != name:
            continue
        got = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        if got == want:
            return float(m.group(3))
    return None


def wait_for(what, predicate, timeout=60, interval=0.5):
    """Polls `predicate` (which returns a truthy result or raises) until it
    holds; fails with the last result or error."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            result = predicate()
            if result:
                return result
            last = result
        except Exception as e:  # noqa: BLE001 - reported below if it never passes
            last = e
        time.sleep(interval)
    raise AssertionError(f"{what}: not within {timeout}s (last: {last!r})")


def proc_status(pid):
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        k, _, v = line.partition(":")
        fields[k] = v.split()
    return fields


def wait_both_up(port, target, timeout, logs=lambda: ""):
    """Scrapes 127.0.0.1:`port` until `ftp_up` is 1 for `target` in both
    modes; returns that scrape, or fails with `logs()` appended."""

    def both_up():
        text = metrics(port)
        up = [sample(text, "ftp_up", mode=m, target=target) for m in ("passive", "active")]
        return text if up == [1.0, 1.0] else None

    try:
        return wait_for(f"ftp_up 1 for {target} in both modes", both_up, timeout=timeout)
    except AssertionError as e:
        raise AssertionError(f"{e}{logs()}") from None


# What the kernel must say of the exporter's process in a container: UID and
# GID 65532, no capability at all, no_new_privs, a read-only root.
HARDENED = {
    "uid": ["65532"] * 4, "gid": ["65532"] * 4, "CapEff": 0, "CapPrm": 0, "CapBnd": 0,
    "no_new_privs": True, "read_only_root": True,
}  # fmt: skip


def process_security(pid):
    s = proc_status(pid)
    return {
        "uid": s["Uid"], "gid": s["Gid"],
        **{cap: int(s[cap][0], 16) for cap in ("CapEff", "CapPrm", "CapBnd")},
        "no_new_privs": s["NoNewPrivs"] == ["1"], "read_only_root": "ro" in root_mount_options(pid),
    }  # fmt: skip


def root_mount_options(pid):
    """Mount options of the process's root filesystem (from its mountinfo)."""
    for line in Path(f"/proc/{pid}/mountinfo").read_text().splitlines():
        parts = line.split()
        if parts[4] == "/":
            return parts[5].split(",")
    raise AssertionError(f"no / in /proc/{pid}/mountinfo")


# --------------------------------------------------- the FTP server image

PURE_FTPD = REPO / ".cache" / "servers" / "pure-ftpd"
FTP_IMAGE_DIR = Path(__file__).resolve().parent / "ftp-server-image"


def _ldd(binary):
    out = run(["ldd", str(binary)]).stdout
    libs = []
    for line in out.splitlines():
        m = re.search(r"(?:=>\s*)?(/\S+)\s+\(0x", line)
        if m:
            libs.append(m.group(1))
        assert "not found" not in line, f"{binary}: {line.strip()}"
    return libs


def build_ftp_server_image(tag):
    """A FROM-scratch image of Debian's Pure-FTPd (unpacked by
    ci/install-deps.sh) with the libraries ldd lists, and dash for run.sh."""
    binaries = {
        PURE_FTPD / "usr/sbin/pure-ftpd": "usr/sbin/pure-ftpd",
        PURE_FTPD / "usr/bin/pure-pw": "usr/bin/pure-pw",
        Path("/bin/dash"): "bin/sh",
    }
    ctx = Path(tempfile.mkdtemp(prefix="ftp-server-image-"))
    try:
        root = ctx / "rootfs"
        for src, dest in binaries.items():
            assert src.exists(), f"{src} is missing: run `sudo bash ci/install-deps.sh`"
            (root / dest).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, root / dest)
            for lib in _ldd(src):
                target = root / lib.lstrip("/")
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(os.path.realpath(lib), target)
        for d in ("etc/pure-ftpd", "home/ftpusers", "tmp", "var/run"):
            (root / d).mkdir(parents=True, exist_ok=True)
        (root / "etc/passwd").write_text("root:x:0:0::/root:/bin/sh\nftpuser:x:1000:1000::/home/ftpusers:/bin/false\n")
        (root / "etc/group").write_text("root:x:0:\nftpgroup:x:1000:\n")
        shutil.copy2(FTP_IMAGE_DIR / "run.sh", root / "run.sh")
        shutil.copy2(FTP_IMAGE_DIR / "Containerfile", ctx / "Containerfile")
        podman("build", "--pull=never", "--force-rm", "--layers=false", "-t", tag, "-f", ctx / "Containerfile", ctx)
    finally:
        shutil.rmtree(ctx, ignore_errors=True)
    return tag


# ------------------------------------------------------ podman kube play

KUBE_PLAY_KINDS = ("ConfigMap", "Secret", "Deployment", "Pod")


class KubePlay:
    """Runs rendered manifests with `podman kube play --network host` and
    removes everything it made (pods, containers, podman secrets) on
    `down()`, also after a failure (use it as a context manager).

    podman here is Debian 12's 4.3, whose Kubernetes support differs from a
    kubelet in three ways; each is bridged here, nothing else is changed:
    - it publishes every containerPort on the host, which host networking
      refuses: container ports are left out (probes get the port numbers);
    - it writes a Secret volume's files from `data` without decoding the
      base64 (and ignores `stringData`), and reads `secretKeyRef` from a
      secret of another format: each Secret becomes two podman secrets,
      `<name>` (the Secret with its values decoded, for volumes) and
      `<name>-env` (key -> base64 value, for env);
    - it dereferences a secret volume's unset `optional`: set to false,
      the Kubernetes default.
    """

    def __init__(self, objs, workdir):
        self.workdir = Path(workdir)
        self.secrets = []
        self.manifest = self.workdir / "kube-play.yaml"
        docs = []
        for o in (clean(o) for o in objs if o["kind"] in KUBE_PLAY_KINDS):
            if o["kind"] == "Secret":
                self._secret(o)
                continue
            if o["kind"] in ("Deployment", "Pod"):
                self._pod_spec(pod_spec(o))
            docs.append(o)
        self.manifest.write_text(yaml.safe_dump_all(docs))

    def _secret(self, o):
        name = o["metadata"]["name"]
        data = dict(o.get("data", {}))
        plain = {k: base64.b64decode(v).decode() for k, v in data.items()}
        plain.update(o.get("stringData", {}))
        volume = dict(o, data=plain)
        volume.pop("stringData", None)
        env = {k: base64.b64encode(v.encode()).decode() for k, v in plain.items()}
        for secret_name, content in ((name, volume), (f"{name}-env", env)):
            path = self.workdir / f"secret-{secret_name}.json"
            path.write_text(json.dumps(content))
            podman("secret", "rm", secret_name, check=False)
            podman("secret", "create", secret_name, path)
            path.unlink()
            self.secrets.append(secret_name)

    @staticmethod
    def _pod_spec(spec):
        for v in spec.get("volumes", []):
            if "secret" in v:
                v["secret"].setdefault("optional", False)
        for c in spec.get("containers", []) + spec.get("initContainers", []):
            ports = {p["name"]: p["containerPort"] for p in c.pop("ports", []) if "name" in p}
            for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
                for handler in ("httpGet", "tcpSocket"):
                    h = c.get(probe, {}).get(handler)
                    if h and isinstance(h["port"], str):
                        h["port"] = ports[h["port"]]
            for e in c.get("env", []):
                ref = e.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    ref["name"] = f"{ref['name']}-env"

    def up(self):
        podman("kube", "play", "--network", "host", self.manifest, timeout=180)
        return self

    def down(self):
        podman("kube", "down", self.manifest, check=False, timeout=120)
        for s in self.secrets:
            podman("secret", "rm", s, check=False)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.down()


# ------------------------------------------------------------ containers

# What Debian's Pure-FTPd keeps at start-up (its capset; it exits without
# them). The example chart's ftpServer.securityContext adds the same.
PURE_FTPD_CAPS = ["CHOWN", "DAC_READ_SEARCH", "SETGID", "SETUID", "NET_BIND_SERVICE", "SYS_CHROOT", "SYS_NICE", "AUDIT_WRITE"]


class Container:
    """`podman run -d`, removed on exit (also when the test fails); its
    logs are added to the failure message of `check`."""

    def __init__(self, name, image, args=(), options=()):
        self.name = name
        podman("rm", "-f", name, check=False)
        podman("run", "-d", "--name", name, *options, image, *args)

    def pid(self):
        return int(podman("inspect", "-f", "{{.State.Pid}}", self.name).stdout.strip())

    def logs(self):
        return container_logs(self.name)

    def running(self):
        return podman("inspect", "-f", "{{.State.Running}}", self.name, check=False).stdout.strip() == "true"

    def remove(self):
        podman("rm", "-f", "-t", "2", self.name, check=False)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def container_logs(name):
    p = podman("logs", name, check=False)
    return p.stdout + p.stderr


def wait_listening(port, what, container=None, timeout=30):
    def up():
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True

    try:
        return wait_for(f"{what} listening on 127.0.0.1:{port}", up, timeout=timeout)
    except AssertionError as e:
        raise AssertionError(f"{e}\n--- logs ---\n{container.logs() if container else ''}") from None


def ftp_server(name, image, port, password, passive):
    """The test FTP server image, on 127.0.0.1:`port` (host network)."""
    caps = ["--cap-drop=ALL", *[f"--cap-add={c}" for c in PURE_FTPD_CAPS]]
    env = ["-e", "FTP_USER_NAME=monitor", "-e", f"FTP_USER_PASS={password}", "-e", "FTP_USER_HOME=/home/ftpusers/monitor"]
    args = ["-l", "puredb:/etc/pure-ftpd/pureftpd.pdb", "-E", "-j", "-R", "-P", "127.0.0.1", "-S", f"127.0.0.1,{port}", "-p", passive]
    c = Container(name, image, args, ["--network", "host", *caps, *env])
    wait_listening(port, "the FTP server", c)
    return c


def passive_range():
    """Ten passive ports, apart for concurrent runs (host network)."""
    low = 41000 + (os.getpid() % 400) * 10
    return f"{low}:{low + 9}"
