"""The container image as shipped (built by ci/image.sh from the Dockerfile,
tagged localhost/ftp_exporter:dev), run with podman on the host network:
read-only, as UID 65532, every capability dropped, with a mounted config
and password file, checking a real FTP server (Debian's Pure-FTPd in its
own container) on 127.0.0.1 in both modes. Also: the chart's rendered
configurations pass the image's `check-config`, and the chart's probes pass
against the image with TLS and basic auth on.
"""

import base64
import json
import os
import secrets
import ssl
import tarfile
import tempfile
import unittest
import urllib.error
import urllib.request
from pathlib import Path

import yaml

import support
from support import CHART, IMAGE

PID = os.getpid()
FTP_IMAGE = f"localhost/ftp-exporter-test-pureftpd:{PID}"
MAX_BYTES = 25 * 1000 * 1000


def setUpModule():
    support.require_image()
    support.build_ftp_server_image(FTP_IMAGE)


def tearDownModule():
    support.podman("rmi", "-f", FTP_IMAGE, check=False)


def world_readable_dir():
    d = support.temp_dir("ftp-exporter-image-")
    d.chmod(0o755)
    return d


class Image(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        (cls.meta,) = json.loads(support.podman("image", "inspect", IMAGE).stdout)

    def test_size_is_under_25_mb(self):
        size = self.meta["Size"]
        print(f"\n    image {IMAGE}: {size} bytes ({size / 1e6:.1f} MB)", end=" ")
        self.assertLess(size, MAX_BYTES)

    def test_metadata(self):
        config = self.meta["Config"]
        self.assertEqual(config["User"], "65532:65532")
        self.assertEqual(config["Entrypoint"], ["/ftp_exporter"])
        self.assertIn("9612/tcp", config["ExposedPorts"])
        self.assertEqual(config["WorkingDir"], "/etc/ftp_exporter")
        labels = config["Labels"]
        version = support.values_file(CHART / "Chart.yaml")["appVersion"]
        self.assertEqual(labels["org.opencontainers.image.version"], version)
        self.assertEqual(labels["org.opencontainers.image.licenses"], "Apache-2.0")
        self.assertIn("org.opencontainers.image.source", labels)

    def test_holds_only_the_binary_ca_certificates_and_passwd(self):
        name = f"fe-export-{PID}"
        support.podman("create", "--name", name, IMAGE)
        try:
            with tempfile.TemporaryDirectory() as d:
                tar = Path(d) / "fs.tar"
                support.podman("export", "-o", tar, name)
                with tarfile.open(tar) as t:
                    files = sorted(m.name.lstrip("./") for m in t.getmembers() if m.isfile())
                    passwd = t.extractfile("etc/passwd").read().decode()
        finally:
            support.podman("rm", "-f", name, check=False)
        self.assertEqual(files, ["etc/group", "etc/passwd", "etc/ssl/certs/ca-certificates.crt", "ftp_exporter"])
        self.assertIn("nonroot:x:65532:65532:", passwd)

    def test_has_no_demo_server(self):
        out = support.podman("run", "--rm", "--network", "none", IMAGE, "demo", check=False)
        self.assertEqual(out.returncode, 2, out.stdout + out.stderr)
        self.assertIn("unrecognized subcommand 'demo'", out.stderr)


class Run(unittest.TestCase):
    def test_read_only_non_root_no_capabilities_checks_both_modes(self):
        ftp_port, web_port = support.free_port(), support.free_port()
        password = secrets.token_urlsafe(16)
        d = world_readable_dir()
        (d / "ftp_exporter.yml").write_text(
            "defaults: { interval: 10s, timeout: 10s }\n"
            "targets:\n"
            f"  - {{ name: local, address: '127.0.0.1:{ftp_port}', username: monitor, password_file: /etc/ftp_exporter/ftp-password }}\n"
        )
        (d / "ftp-password").write_text(password + "\n")
        options = [
            "--network", "host", "--read-only", "--cap-drop=ALL", "--security-opt=no-new-privileges",
            "-v", f"{d}:/etc/ftp_exporter:ro",
        ]  # fmt: skip
        with support.ftp_server(f"fe-ftp-{PID}", FTP_IMAGE, ftp_port, password, support.passive_range()), support.Container(
            f"fe-run-{PID}", IMAGE, [f"--web.listen-address=127.0.0.1:{web_port}"], options
        ) as c:
            support.wait_listening(web_port, "the exporter", c)

            text = support.wait_both_up(web_port, "local", 120, lambda: f"\n--- exporter ---\n{c.logs()}")
            self.assertNotIn(password, text)
            self.assertNotIn(password, c.logs())
            self.assertEqual(support.sample(text, "ftp_exporter_targets"), 1.0)
            self.assertEqual(support.process_security(c.pid()), support.HARDENED)


def materialize(objs, root):
    """The files a pod of `objs` would see: the ConfigMap, the Secrets'
    keys, the env of passwordEnv. Keys of an existingSecret (not rendered)
    are made up from the password_file paths the config names."""
    cm = [o for o in objs if o["kind"] == "ConfigMap" and "ftp_exporter.yml" in o.get("data", {})]
    config_text = cm[0]["data"]["ftp_exporter.yml"] if cm else "targets: [{ name: t, address: ftp }]\n"
    (root / "config").mkdir(parents=True)
    (root / "config" / "ftp_exporter.yml").write_text(config_text)
    (root / "secrets").mkdir()
    values = {}
    for o in objs:
        if o["kind"] == "Secret":
            for k, v in o.get("data", {}).items():
                values[k] = base64.b64decode(v).decode()
    config = yaml.safe_load(config_text)
    for t in config.get("targets", []):
        f = t.get("password_file", "")
        if f.startswith("/etc/ftp_exporter/secrets/"):
            key = f.rsplit("/", 1)[1]
            values.setdefault(key, "made-up-for-check-config")
    for k, v in values.items():
        if k != "web-config.yml":
            (root / "secrets" / k).write_text(v)
    for p in root.rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)
    env = []
    for o in objs:
        if o["kind"] in ("Deployment", "StatefulSet"):
            for c in support.pod_spec(o)["containers"]:
                for e in c.get("env", []):
                    ref = e.get("valueFrom", {}).get("secretKeyRef")
                    if ref:
                        env += ["-e", f"{e['name']}={values.get(ref['key'], 'made-up')}"]
    return env


class CheckConfig(unittest.TestCase):
    def check(self, objs):
        root = world_readable_dir()
        env = materialize(objs, root)
        return support.podman(
            "run", "--rm", "--network", "none", "--read-only", "--cap-drop=ALL", *env,
            "-v", f"{root / 'config'}:/etc/ftp_exporter/config:ro",
            "-v", f"{root / 'secrets'}:/etc/ftp_exporter/secrets:ro",
            IMAGE, "check-config", "--config.file=/etc/ftp_exporter/config/ftp_exporter.yml",
            check=False,
        )  # fmt: skip

    def test_default_config_passes_check_config(self):
        out = self.check(support.render())
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("OK, 1 targets", out.stdout)

    def test_every_case_and_the_example_pass_check_config(self):
        cases = [(c.name, support.render(support.values_file(c))) for c in sorted((CHART / "ci").glob("*-values.yaml"))]
        cases.append(("example", support.render(chart=support.example_chart())))
        for name, objs in cases:
            with self.subTest(case=name):
                out = self.check(objs)
                self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
                self.assertIn("OK, ", out.stdout)

    def test_a_bad_config_fails_check_config(self):
        objs = support.render({"config": {"targets": [{"name": "x", "address": "ftp:21", "modes": ["pasive"]}]}})
        out = self.check(objs)
        self.assertEqual(out.returncode, 1)
        self.assertIn('targets[0].modes: unknown mode "pasive"', out.stderr)


def kubelet_probe(probe, port):
    """What the kubelet does with a probe: an HTTP(S) GET that follows no
    auth and verifies no certificate (2xx/3xx pass), or a TCP connect."""
    if "tcpSocket" in probe:
        support.wait_listening(port, "tcpSocket probe", timeout=5)
        return "tcp ok"
    h = probe["httpGet"]
    url = f"{h['scheme'].lower()}://127.0.0.1:{port}{h['path']}"
    ctx = ssl._create_unverified_context() if h["scheme"] == "HTTPS" else None
    status, _ = support.http_get(url, context=ctx)
    assert 200 <= status < 400, f"{url}: {status}"
    return f"{h['scheme']} {status}"


class Probes(unittest.TestCase):
    """The chart's probes, run the kubelet's way against the image with the
    chart's own web config Secret and flags."""

    def run_case(self, case, during=None):
        port = support.free_port()
        values = support.values_file(CHART / "ci" / case)
        values["web"] = dict(values["web"], port=port, listenAddress=f"127.0.0.1:{port}")
        objs = support.render(values)
        (dep,) = [o for o in objs if o["kind"] == "Deployment"]
        (c,) = [c for c in support.pod_spec(dep)["containers"] if c["name"] == "ftp-exporter"]
        root = world_readable_dir()
        materialize(objs, root)
        web = [o for o in objs if o["kind"] == "Secret" and "web-config.yml" in o.get("data", {})][0]
        (root / "web").mkdir()
        (root / "web" / "web-config.yml").write_text(base64.b64decode(web["data"]["web-config.yml"]).decode())
        (root / "tls").mkdir()
        support.run([
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
            "-keyout", str(root / "tls" / "tls.key"), "-out", str(root / "tls" / "tls.crt"),
        ])  # fmt: skip
        for p in root.rglob("*"):
            p.chmod(0o755 if p.is_dir() else 0o644)
        mounts = []
        for sub in ("config", "secrets", "web", "tls"):
            mounts += ["-v", f"{root / sub}:/etc/ftp_exporter/{sub}:ro"]
        options = ["--network", "host", "--read-only", "--cap-drop=ALL", *mounts]
        with support.Container(f"fe-probe-{PID}", IMAGE, c["args"], options) as ctr:
            support.wait_listening(port, "the exporter", ctr)
            results = [kubelet_probe(c[p], port) for p in ("livenessProbe", "readinessProbe")]
            if during:
                during(port)
            return results

    def test_tls_probes_pass(self):
        results = self.run_case("web-tls-values.yaml")
        self.assertEqual(results, ["HTTPS 200", "HTTPS 200"])

    def test_basic_auth_probes_pass(self):
        ctx = ssl._create_unverified_context()

        def auth_is_on(port):
            # Everything else asks for the password the kubelet does not have.
            with self.assertRaises(urllib.error.HTTPError) as e:
                support.http_get(f"https://127.0.0.1:{port}/metrics", context=ctx)
            self.assertEqual(e.exception.code, 401)
            # The ServiceMonitor's credentials scrape.
            req = urllib.request.Request(f"https://127.0.0.1:{port}/metrics")
            req.add_header("Authorization", "Basic " + base64.b64encode(b"prometheus:ci-scrape-password").decode())
            status, body = support.http_get(req, context=ctx)
            self.assertEqual(status, 200)
            self.assertIn("ftp_exporter_build_info", body)

        results = self.run_case("web-basic-auth-values.yaml", during=auth_is_on)
        self.assertEqual(results, ["HTTPS 200", "HTTPS 200"])

if __name__ == "__main__":
    unittest.main()
