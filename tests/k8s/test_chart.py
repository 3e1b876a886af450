"""The Helm chart through Helm's own engine (helm-python-sdk, Helm v4):
lint --strict, every ci/*-values.yaml case rendered and validated (strict
Kubernetes schemas for 1.25 and 1.33, the Prometheus Operator CRDs, Pod
Security "restricted"), and what each case promises, asserted.
"""

import base64
import json
import re
import tempfile
import unittest
from pathlib import Path

import bcrypt
import helm_python as hp
import yaml

import support
import values_table
from support import CHART, REPO, kinds, one, render

CI_CASES = sorted((CHART / "ci").glob("*-values.yaml"))


def workload(objs):
    found = [o for o in objs if o["kind"] in ("Deployment", "StatefulSet")]
    assert len(found) == 1, kinds(objs)
    return found[0]


def exporter(spec):
    (c,) = [c for c in spec.get("containers", []) + spec.get("initContainers", []) if c["name"] == "ftp-exporter"]
    return c


def config_of(objs):
    cm = [o for o in objs if o["kind"] == "ConfigMap" and "ftp_exporter.yml" in o.get("data", {})]
    assert len(cm) == 1, [o["metadata"]["name"] for o in cm]
    return yaml.safe_load(cm[0]["data"]["ftp_exporter.yml"])


class Lint(unittest.TestCase):
    def test_chart_lints_clean_for_every_case_and_kube_version(self):
        for kube in ("1.25.0", "1.29.0", "1.33.0"):
            with self.subTest(kube=kube):
                self.assertEqual(support.lint(CHART, kube_version=kube), [])
        for case in CI_CASES:
            with self.subTest(case=case.name):
                self.assertEqual(support.lint(CHART, support.values_file(case)), [])

    def test_example_chart_lints_clean_with_native_sidecars_off_and_on(self):
        chart = support.example_chart()
        self.assertEqual(support.lint(chart, kube_version="1.25.0"), [])
        native = {"ftp-exporter": {"sidecar": {"native": True}}}
        self.assertEqual(support.lint(chart, native, kube_version="1.29.0"), [])

    def test_lint_fails_on_a_broken_template(self):
        # The lint check itself can fail: a chart copy with a bad template.
        broken = support.with_chart_version("0.1.1")
        (broken / "templates" / "broken.yaml").write_text("{{ .Values.nope.deeper }}\n")
        self.assertNotEqual(support.lint(broken), [])


class Cases(unittest.TestCase):
    """Every ci/*-values.yaml renders, and every object validates."""

    def test_every_case_renders_and_validates(self):
        self.assertGreaterEqual(len(CI_CASES), 15)
        for case in CI_CASES:
            with self.subTest(case=case.name):
                objs = render(support.values_file(case))
                self.assertTrue(objs)
                for o in objs:
                    support.validate(o)
                for o in objs:
                    if o["kind"] in ("Deployment", "StatefulSet"):
                        violations = support.restricted_violations(support.pod_spec(o))
                        if case.name == "hostnetwork-active-values.yaml":
                            # The one documented exception, and proof the check bites.
                            self.assertEqual(violations, ["pod: hostNetwork"])
                        else:
                            self.assertEqual(violations, [], case.name)

    def test_validation_refuses_what_kubernetes_refuses(self):
        (dep,) = [o for o in render() if o["kind"] == "Deployment"]
        dep["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
        with self.assertRaisesRegex(AssertionError, "imagePullPolicyy"):
            support.validate(dep)
        dep = [o for o in render() if o["kind"] == "Deployment"][0]
        dep["spec"]["replicas"] = "one"
        with self.assertRaisesRegex(AssertionError, "one"):
            support.validate(dep)
        dep = [o for o in render() if o["kind"] == "Deployment"][0]
        dep["spec"]["template"]["spec"]["containers"][0]["restartPolicy"] = "Always"
        with self.assertRaisesRegex(AssertionError, "1.25"):  # native sidecars came in 1.28
            support.validate(dep)
        sm = one(render({"serviceMonitor": {"enabled": True}}), "ServiceMonitor")
        sm["spec"]["endpoints"][0]["intervall"] = "30s"
        with self.assertRaisesRegex(AssertionError, "intervall"):
            support.validate(sm)


class Standalone(unittest.TestCase):
    def test_defaults(self):
        objs = render()
        self.assertEqual(kinds(objs), ["ConfigMap", "Deployment", "Service", "ServiceAccount"])
        sa = one(objs, "ServiceAccount")
        self.assertIs(sa["automountServiceAccountToken"], False)
        svc = one(objs, "Service")
        self.assertEqual([p["name"] for p in svc["spec"]["ports"]], ["http-metrics"])
        spec = support.pod_spec(workload(objs))
        self.assertIs(spec["automountServiceAccountToken"], False)
        c = exporter(spec)
        self.assertEqual(c["securityContext"]["runAsUser"], 65532)
        self.assertEqual(c["livenessProbe"]["httpGet"]["path"], "/-/healthy")
        self.assertEqual(c["readinessProbe"]["httpGet"]["path"], "/-/ready")
        self.assertEqual(c["resources"]["requests"], {"cpu": "50m", "memory": "64Mi"})
        self.assertIn("--config.file=/etc/ftp_exporter/config/ftp_exporter.yml", c["args"])
        self.assertEqual(c["image"], "ftp_exporter:" + support.values_file(CHART / "Chart.yaml")["appVersion"])
        config = config_of(objs)
        # Namespace-local example target, never contacted by a test.
        self.assertEqual([t["address"] for t in config["targets"]], ["ftp:21"])

    def test_passwords_from_the_chart_secret_reach_the_exporter_as_files(self):
        values = support.values_file(CHART / "ci" / "secret-values.yaml")
        objs = render(values)
        secret = one(objs, "Secret")
        decoded = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
        self.assertEqual(decoded, values["secret"]["passwords"])
        self.assertEqual(secret["metadata"]["annotations"], {"owner": "storage-team"})
        spec = support.pod_spec(workload(objs))
        (vol,) = [v for v in spec["volumes"] if "secret" in v]
        self.assertEqual(vol["secret"]["secretName"], secret["metadata"]["name"])
        mounts = {m["name"]: m["mountPath"] for m in exporter(spec)["volumeMounts"]}
        self.assertEqual(mounts[vol["name"]], "/etc/ftp_exporter/secrets")
        # Never in the ConfigMap, nor anywhere but the Secret.
        for o in objs:
            if o["kind"] != "Secret":
                for password in decoded.values():
                    self.assertNotIn(password, json.dumps(o))

    def test_existing_secret_is_mounted_and_no_secret_is_made(self):
        objs = render(support.values_file(CHART / "ci" / "existing-secret-values.yaml"))
        self.assertNotIn("Secret", kinds(objs))
        spec = support.pod_spec(workload(objs))
        (vol,) = [v for v in spec["volumes"] if "secret" in v]
        self.assertEqual(vol["secret"]["secretName"], "ftp-passwords")

    def test_password_env_comes_from_a_secret_key_ref(self):
        objs = render(support.values_file(CHART / "ci" / "password-env-values.yaml"))
        secret = one(objs, "Secret")
        env = exporter(support.pod_spec(workload(objs)))["env"]
        self.assertEqual(
            env,
            [{"name": "PARTNER_FTP_PASSWORD", "valueFrom": {"secretKeyRef": {"name": secret["metadata"]["name"], "key": "partner-drop"}}}],
        )
        # With existingSecret, the key is read from that Secret.
        objs = render({"existingSecret": "vault-ftp", "passwordEnv": [{"name": "P", "key": "k"}]})
        ref = exporter(support.pod_spec(workload(objs)))["env"][0]["valueFrom"]["secretKeyRef"]
        self.assertEqual(ref, {"name": "vault-ftp", "key": "k"})

    def test_inline_passwords_are_refused_naming_the_target(self):
        values = {"config": {"targets": [{"name": "x", "address": "ftp:21", "username": "u", "password": "in-clear"}]}}
        with self.assertRaises(hp.HelmError) as e:
            render(values)
        self.assertIn("config.targets[0] (x)", str(e.exception))
        self.assertIn("secret.passwords", str(e.exception))
        self.assertNotIn("in-clear", str(e.exception))

    def test_existing_configmap_replaces_the_rendered_one(self):
        objs = render(support.values_file(CHART / "ci" / "existing-configmap-values.yaml"))
        self.assertNotIn("ConfigMap", kinds(objs))
        spec = support.pod_spec(workload(objs))
        (vol,) = [v for v in spec["volumes"] if "configMap" in v]
        self.assertEqual(vol["configMap"]["name"], "ftp-exporter-config")

    def test_service_monitor_with_labels_interval_and_relabelings(self):
        values = support.values_file(CHART / "ci" / "servicemonitor-values.yaml")
        objs = render(values)
        sm = one(objs, "ServiceMonitor")
        self.assertEqual(sm["metadata"]["labels"]["release"], "kube-prometheus-stack")
        (ep,) = sm["spec"]["endpoints"]
        self.assertEqual((ep["port"], ep["path"], ep["scheme"]), ("http-metrics", "/metrics", "http"))
        self.assertEqual((ep["interval"], ep["scrapeTimeout"]), ("30s", "10s"))
        self.assertEqual(ep["relabelings"], values["serviceMonitor"]["relabelings"])
        self.assertEqual(ep["metricRelabelings"], values["serviceMonitor"]["metricRelabelings"])
        svc = one(objs, "Service")
        self.assertEqual(sm["spec"]["selector"]["matchLabels"].items() <= svc["metadata"]["labels"].items(), True)
        self.assertEqual((svc["spec"]["ipFamilyPolicy"], svc["spec"]["ipFamilies"]), ("PreferDualStack", ["IPv6", "IPv4"]))

    def test_prometheus_rule_is_alerts_yml_with_labels_templates_kept(self):
        raw = support.render_raw(support.values_file(CHART / "ci" / "prometheusrule-values.yaml"))
        (text,) = [t for p, t in raw.items() if p.endswith("prometheusrule.yaml")]
        self.assertIn("{{ $labels.target }}", text)
        rule = one(render(support.values_file(CHART / "ci" / "prometheusrule-values.yaml")), "PrometheusRule")
        self.assertEqual(rule["metadata"]["labels"]["role"], "alert-rules")
        alerts = yaml.safe_load((REPO / "dashboards" / "alerts.yml").read_text())
        self.assertEqual(rule["spec"]["groups"], alerts["groups"])
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "rules.yml"
            path.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
            out = support.run(["promtool", "check", "rules", str(path)])
            n = sum(len(g["rules"]) for g in alerts["groups"])
            self.assertIn(f"SUCCESS: {n} rules found", out.stdout)

    def test_dashboard_configmap_is_the_dashboard_file(self):
        objs = render(support.values_file(CHART / "ci" / "dashboard-values.yaml"))
        (cm,) = [o for o in objs if o["kind"] == "ConfigMap" and "ftp-exporter.json" in o.get("data", {})]
        self.assertEqual(cm["metadata"]["labels"]["grafana_dashboard"], "ftp")
        self.assertEqual(cm["metadata"]["annotations"], {"grafana_folder": "FTP"})
        file = (REPO / "dashboards" / "ftp-exporter.json").read_text()
        self.assertEqual(cm["data"]["ftp-exporter.json"], file)
        self.assertEqual(json.loads(cm["data"]["ftp-exporter.json"])["uid"], "ftp-exporter")
        # The default label is Grafana's sidecar default.
        (cm,) = [o for o in render({"dashboard": {"enabled": True}}) if "ftp-exporter.json" in o.get("data", {})]
        self.assertEqual(cm["metadata"]["labels"]["grafana_dashboard"], "1")

    def test_chart_files_are_copies_of_dashboards(self):
        for name in ("alerts.yml", "ftp-exporter.json"):
            self.assertEqual(
                (CHART / "files" / name).read_bytes(),
                (REPO / "dashboards" / name).read_bytes(),
                f"helm/ftp-exporter/files/{name} differs from dashboards/{name}: copy it over",
            )

    def test_network_policy(self):
        np = one(render(support.values_file(CHART / "ci" / "networkpolicy-values.yaml")), "NetworkPolicy")
        ingress, egress = np["spec"]["ingress"], np["spec"]["egress"]
        self.assertEqual(ingress[0]["ports"], [{"port": "http-metrics", "protocol": "TCP"}])
        self.assertEqual(ingress[0]["from"][0]["namespaceSelector"]["matchLabels"], {"kubernetes.io/metadata.name": "monitoring"})
        # Default config checks both modes: the servers connect back into the active range.
        self.assertEqual(ingress[1]["ports"], [{"port": 50000, "endPort": 50100, "protocol": "TCP"}])
        self.assertEqual(ingress[1]["from"], [{"ipBlock": {"cidr": "10.0.0.0/8"}}])
        self.assertEqual({(p["port"], p["protocol"]) for p in egress[0]["ports"]}, {(53, "UDP"), (53, "TCP")})
        self.assertEqual(egress[0]["to"][0]["podSelector"]["matchLabels"], {"k8s-app": "kube-dns"})
        ftp = egress[1]["ports"]
        self.assertEqual([p["port"] for p in ftp], [21, 990, 1024])
        self.assertEqual(ftp[2]["endPort"], 65535)
        # Passive only: no way in but scraping.
        np = one(render(support.values_file(CHART / "ci" / "passive-only-values.yaml")), "NetworkPolicy")
        self.assertEqual(len(np["spec"]["ingress"]), 1)

    def test_pod_disruption_budget(self):
        objs = render(support.values_file(CHART / "ci" / "pdb-values.yaml"))
        pdb = one(objs, "PodDisruptionBudget")
        self.assertEqual(pdb["spec"]["maxUnavailable"], 1)
        self.assertEqual(pdb["spec"]["selector"]["matchLabels"], workload(objs)["spec"]["selector"]["matchLabels"])
        pdb = one(render({"podDisruptionBudget": {"enabled": True, "minAvailable": 1}}), "PodDisruptionBudget")
        self.assertEqual(pdb["spec"], {"minAvailable": 1, "selector": pdb["spec"]["selector"]})

    def test_web_config_tls_probes_use_https(self):
        objs = render(support.values_file(CHART / "ci" / "web-tls-values.yaml"))
        c = exporter(support.pod_spec(workload(objs)))
        self.assertIn("--web.config.file=/etc/ftp_exporter/web/web-config.yml", c["args"])
        for probe, path in (("livenessProbe", "/-/healthy"), ("readinessProbe", "/-/ready")):
            self.assertEqual(c[probe]["httpGet"], {"path": path, "port": "http-metrics", "scheme": "HTTPS"})
        web = one(objs, "Secret")
        self.assertIn("tls_server_config", yaml.safe_load(base64.b64decode(web["data"]["web-config.yml"])))
        self.assertEqual(one(objs, "ServiceMonitor")["spec"]["endpoints"][0]["scheme"], "https")

    def test_web_config_basic_auth_probes_stay_http(self):
        values = support.values_file(CHART / "ci" / "web-basic-auth-values.yaml")
        self.assertTrue(bcrypt.checkpw(b"ci-scrape-password", values["web"]["config"]["basic_auth_users"]["prometheus"].encode()))
        objs = render(values)
        c = exporter(support.pod_spec(workload(objs)))
        for probe, path in (("livenessProbe", "/-/healthy"), ("readinessProbe", "/-/ready")):
            self.assertEqual(c[probe]["httpGet"], {"path": path, "port": "http-metrics", "scheme": "HTTPS"})
        ep = one(objs, "ServiceMonitor")["spec"]["endpoints"][0]
        self.assertEqual(ep["basicAuth"]["password"], {"name": "ftp-exporter-scrape", "key": "password"})

    def test_reloader(self):
        objs = render(support.values_file(CHART / "ci" / "reloader-values.yaml"))
        spec = support.pod_spec(workload(objs))
        (reloader,) = [c for c in spec["containers"] if c["name"] == "config-reloader"]
        self.assertIn("--reload-url=http://127.0.0.1:9612/-/reload", reloader["args"])
        self.assertIn("--watched-dir=/etc/ftp_exporter/config", reloader["args"])
        self.assertIn("--watched-dir=/etc/ftp_exporter/secrets", reloader["args"])
        annotations = workload(objs)["spec"]["template"]["metadata"].get("annotations", {})
        self.assertNotIn("checksum/config", annotations, "with the reloader a change must not roll the pods")
        with self.assertRaises(hp.HelmError) as e:
            render({"reloader": {"enabled": True}, "web": {"config": {"basic_auth_users": {"a": "$2y$10$x"}}}})
        self.assertIn("reloader.enabled cannot be combined with web.config", str(e.exception))

    def test_shards_render_a_statefulset(self):
        objs = render(support.values_file(CHART / "ci" / "shards-values.yaml"))
        self.assertNotIn("Deployment", kinds(objs))
        sts = one(objs, "StatefulSet")
        self.assertEqual(sts["spec"]["replicas"], 3)
        self.assertEqual(sts["spec"]["podManagementPolicy"], "Parallel")
        args = exporter(support.pod_spec(sts))["args"]
        self.assertIn("--shard.count=3", args)
        self.assertIn("--shard.index-from-hostname", args)
        headless = one(objs, "Service", sts["spec"]["serviceName"])
        self.assertEqual(headless["spec"]["clusterIP"], "None")
        # One list of targets for every shard.
        self.assertEqual(len(config_of(objs)["targets"]), 4)
        with self.assertRaises(hp.HelmError) as e:
            render({"shards": 3, "replicas": 2})
        self.assertIn("set shards or replicas", str(e.exception))

    def test_host_network_active_mode_wires_address_and_ports(self):
        objs = render(support.values_file(CHART / "ci" / "hostnetwork-active-values.yaml"))
        spec = support.pod_spec(workload(objs))
        self.assertIs(spec["hostNetwork"], True)
        self.assertEqual(spec["dnsPolicy"], "ClusterFirstWithHostNet")
        active = config_of(objs)["defaults"]["active"]
        self.assertEqual(active, {"advertise_address": "192.0.2.10", "port_range": "40000-40063"})
        np = one(objs, "NetworkPolicy")
        self.assertEqual(np["spec"]["ingress"][1]["ports"], [{"port": 40000, "endPort": 40063, "protocol": "TCP"}])
        text = support.notes(support.values_file(CHART / "ci" / "hostnetwork-active-values.yaml"))
        self.assertIn('"privileged" level', text)
        self.assertNotIn("WARNING: active mode", text)

    def test_notes_warn_about_active_mode_only_when_it_cannot_work(self):
        self.assertIn("WARNING: active mode is configured", support.notes())
        self.assertNotIn("WARNING", support.notes(support.values_file(CHART / "ci" / "passive-only-values.yaml")))
        self.assertNotIn("WARNING", support.notes({"active": {"advertiseAddress": "198.51.100.4"}}))

    def test_fullname_longer_than_63_characters(self):
        values = support.values_file(CHART / "ci" / "long-fullname-values.yaml")
        self.assertGreater(len(values["fullnameOverride"]), 63)
        objs = render(values)
        names = {o["metadata"]["name"] for o in objs}
        for o in objs:
            support.check_names(support.clean(o), o["kind"])
        self.assertEqual(len(one(objs, "StatefulSet")["metadata"]["name"]), 52)
        for suffix in ("-web", "-dashboard", "-headless"):
            (n,) = [n for n in names if n.endswith(suffix)]
            self.assertEqual(len(n), 63, n)

    def test_accepts_global_and_enabled_as_a_dependency_does(self):
        objs = render({"global": {"imageRegistry": "registry.example"}, "enabled": True})
        self.assertIn("Deployment", kinds(objs))


class Sidecar(unittest.TestCase):
    def test_sidecar_mode_renders_only_what_a_sidecar_needs(self):
        objs = render(support.values_file(CHART / "ci" / "sidecar-values.yaml"))
        self.assertEqual(kinds(objs), ["ConfigMap", "ConfigMap", "PodMonitor", "PrometheusRule", "Secret"])
        pm = one(objs, "PodMonitor")
        self.assertEqual(pm["spec"]["podMetricsEndpoints"][0]["port"], "ftpexp-metrics")
        self.assertEqual(pm["spec"]["podMetricsEndpoints"][0]["interval"], "30s")
        self.assertEqual(pm["spec"]["selector"]["matchLabels"], {"app.kubernetes.io/instance": "rel"})

    def example(self, values=None):
        return render(values or {}, chart=support.example_chart())

    def check_pod(self, objs, native):
        dep = [o for o in objs if o["kind"] == "Deployment"]
        self.assertEqual(len(dep), 1)
        spec = support.pod_spec(dep[0])
        where = "initContainers" if native else "containers"
        names = [c["name"] for c in spec.get(where, [])]
        self.assertIn("ftp-exporter", names)
        c = exporter(spec)
        self.assertEqual(c.get("restartPolicy"), "Always" if native else None)
        # The exporter's own container passes "restricted" in a pod whose FTP server runs as root.
        self.assertEqual(support.restricted_violations(spec, only={"ftp-exporter"}), [])
        self.assertEqual(c["readinessProbe"]["httpGet"]["path"], "/-/ready")
        self.assertNotIn("ftp", json.dumps(c["readinessProbe"]).replace("ftpexp-metrics", ""))
        containers = spec["containers"] + spec.get("initContainers", [])
        ports = [p["name"] for c in containers for p in c.get("ports", [])]
        self.assertEqual(len(ports), len(set(ports)), ports)
        volumes = [v["name"] for v in spec["volumes"]]
        self.assertEqual(len(volumes), len(set(volumes)), volumes)
        for c in containers:
            for m in c.get("volumeMounts", []):
                self.assertIn(m["name"], volumes)
        ftp = [c for c in spec["containers"] if c["name"] == "ftp-server"][0]
        ref = ftp["env"][-1]["valueFrom"]["secretKeyRef"]
        self.assertEqual(ref["name"], one(objs, "Secret")["metadata"]["name"])
        return spec

    def test_example_with_ordinary_sidecar(self):
        objs = self.example()
        for o in objs:
            support.validate(o)
        spec = self.check_pod(objs, native=False)
        self.assertEqual(config_of(objs)["targets"][0]["address"], "127.0.0.1:21")
        self.assertEqual(spec.get("initContainers"), None)

    def test_example_with_native_sidecar(self):
        objs = self.example({"ftp-exporter": {"sidecar": {"native": True}}})
        for o in objs:
            support.validate(o, versions=("1.29.0", "1.33.0"))
        self.check_pod(objs, native=True)

    def test_native_sidecar_is_refused_below_1_29(self):
        values = {"ftp-exporter": {"sidecar": {"native": True}, "kubeVersionOverride": "1.28.5"}}
        with self.assertRaises(hp.HelmError) as e:
            self.example(values)
        self.assertIn("sidecar.native needs Kubernetes 1.29 or later", str(e.exception))
        self.assertIn("1.28.5", str(e.exception))
        # The cluster's own version counts when there is no override (Helm
        # renders with v1.36 here); `helm lint` only logs a template's fail.
        self.example({"ftp-exporter": {"sidecar": {"native": True}}})

    def test_sidecar_templates_need_sidecar_mode(self):
        with self.assertRaises(hp.HelmError) as e:
            self.example({"ftp-exporter": {"mode": "standalone"}})
        self.assertIn("mode: sidecar", str(e.exception))

    def test_example_config_change_rolls_the_pod(self):
        def checksum(values):
            dep = one(self.example(values), "Deployment")
            return dep["spec"]["template"]["metadata"]["annotations"]["checksum/config"]

        self.assertEqual(checksum({}), checksum({}))
        self.assertNotEqual(checksum({}), checksum({"ftp-exporter": {"secret": {"passwords": {"ftp-server": "other"}}}}))


class Schema(unittest.TestCase):
    def refused(self, values, *needles):
        with self.assertRaises(hp.HelmError) as e:
            render(values)
        for n in needles:
            self.assertIn(n, str(e.exception))

    def test_unknown_keys_are_refused_with_their_name(self):
        self.refused({"replica": 2}, "replica")
        self.refused({"serviceMonitor": {"enabled": True, "intervall": "30s"}}, "intervall")
        self.refused({"config": {"target": []}}, "target")

    def test_bad_mode_is_refused(self):
        self.refused({"mode": "daemonset"}, "mode")

    def test_port_out_of_range_is_refused(self):
        self.refused({"web": {"port": 70000}}, "web", "port")
        self.refused({"service": {"port": 0}}, "service", "port")
        self.refused({"active": {"portRange": "50000-"}}, "portRange")

    def test_types_are_checked(self):
        self.refused({"shards": "three"}, "shards")
        self.refused({"image": {"pullPolicy": "Sometimes"}}, "pullPolicy")


class Rollout(unittest.TestCase):
    def test_chart_version_bump_leaves_the_pod_template_unchanged(self):
        for values in ({}, support.values_file(CHART / "ci" / "shards-values.yaml")):
            before = workload(render(values))
            after = workload(render(values, chart=support.with_chart_version("9.9.9")))
            self.assertNotEqual(before["metadata"]["labels"], after["metadata"]["labels"])  # the bump is seen
            self.assertEqual(before["spec"]["template"], after["spec"]["template"])

    def test_config_and_password_changes_roll_the_pods(self):
        def checksum(values):
            return workload(render(values))["spec"]["template"]["metadata"]["annotations"]["checksum/config"]

        base = support.values_file(CHART / "ci" / "secret-values.yaml")
        other_config = json.loads(json.dumps(base))
        other_config["config"]["defaults"]["interval"] = "30s"
        other_password = json.loads(json.dumps(base))
        other_password["secret"]["passwords"]["backup"] = "changed"
        self.assertEqual(checksum(base), checksum(base))
        self.assertNotEqual(checksum(base), checksum(other_config))
        self.assertNotEqual(checksum(base), checksum(other_password))


class Versions(unittest.TestCase):
    def test_app_version_is_the_crate_version_and_the_image_label(self):
        cargo = (REPO / "Cargo.toml").read_text()
        version = next(l.split('"')[1] for l in cargo.splitlines() if l.startswith("version = "))
        self.assertEqual(support.values_file(CHART / "Chart.yaml")["appVersion"], version)
        self.assertIn(f"ARG VERSION={version}", (REPO / "Dockerfile").read_text())

    def test_readme_values_table_is_current(self):
        self.assertEqual(
            values_table.readme_table(CHART / "README.md"),
            values_table.table(CHART),
            "regenerate it: .cache/k8s-venv/bin/python tests/k8s/values_table.py helm/ftp-exporter",
        )

    def test_every_value_is_documented(self):
        """helm-docs style: every key of values.yaml has a `# --` comment,
        or is inside a documented map, or only holds documented keys."""
        nodes = []  # (indent, key, documented, parent index)
        stack = []
        lines = (CHART / "values.yaml").read_text().splitlines()
        for i, line in enumerate(lines):
            m = re.match(r"^(\s*)([A-Za-z_][\w-]*):", line)
            if not m:
                continue
            indent = len(m.group(1))
            j = i - 1
            while j >= 0 and lines[j].lstrip().startswith("# @"):
                j -= 1
            documented = j >= 0 and lines[j].lstrip().startswith("# --")
            while stack and nodes[stack[-1]][0] >= indent:
                stack.pop()
            nodes.append((indent, m.group(2), documented, stack[-1] if stack else None))
            stack.append(len(nodes) - 1)
        children = {i: [k for k, n in enumerate(nodes) if n[3] == i] for i in range(len(nodes))}

        def covered_by_ancestor(i):
            p = nodes[i][3]
            return p is not None and (nodes[p][2] or covered_by_ancestor(p))

        def ok(i):
            return nodes[i][2] or covered_by_ancestor(i) or (children[i] and all(ok(c) for c in children[i]))

        self.assertGreater(len(nodes), 100)
        self.assertEqual([nodes[i][1] for i in range(len(nodes)) if not ok(i)], [])

if __name__ == "__main__":
    unittest.main()
