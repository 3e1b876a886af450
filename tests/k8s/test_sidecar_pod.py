"""The sidecar, run: the example chart (helm/examples/ftp-server-with-sidecar)
rendered by Helm's engine and run with `podman kube play --network host`:
an FTP server container (Debian's Pure-FTPd, built here in the interface of
the public image the chart names) and the exporter sidecar
(localhost/ftp_exporter:dev) in one pod, one password from one Secret for
both. The exporter must report the server up over 127.0.0.1 in both modes.
Ports are picked free on the host's loopback (host networking: two runs on
one machine must not clash); everything is torn down, also on failure.
"""

import os
import secrets
import tempfile
import unittest

import support

PID = os.getpid()
FTP_IMAGE = f"localhost/ftp-exporter-test-pureftpd:{PID}"
RELEASE = f"sc{PID}"


def setUpModule():
    support.require_image()
    support.build_ftp_server_image(FTP_IMAGE)


def tearDownModule():
    support.podman("rmi", "-f", FTP_IMAGE, check=False)


class SidecarPod(unittest.TestCase):
    def test_example_chart_uses_the_capabilities_pure_ftpd_needs(self):
        values = support.values_file(support.EXAMPLE / "values.yaml")
        caps = values["ftpServer"]["securityContext"]["capabilities"]
        self.assertEqual((caps["drop"], caps["add"]), (["ALL"], support.PURE_FTPD_CAPS))

    def test_ftp_server_pod_with_exporter_sidecar_reports_both_modes_up(self):
        ftp_port, web_port = support.free_port(), support.free_port()
        password = secrets.token_urlsafe(16)
        repository, tag = support.IMAGE.rsplit(":", 1)
        values = {
            "ftpServer": {"image": FTP_IMAGE, "port": ftp_port, "passivePorts": support.passive_range()},
            "ftp-exporter": {
                "image": {"repository": repository, "tag": tag},
                "web": {"port": web_port, "listenAddress": f"127.0.0.1:{web_port}"},
                "config": {
                    "defaults": {"interval": "10s", "timeout": "10s"},
                    "targets": [
                        {
                            "name": "ftp-server",
                            "address": f"127.0.0.1:{ftp_port}",
                            "username": "monitor",
                            "password_file": "/etc/ftp_exporter/secrets/ftp-server",
                        }
                    ],
                },
                "secret": {"passwords": {"ftp-server": password}},
            },
        }
        objs = support.render(values, chart=support.example_chart(), name=RELEASE)
        pod = f"{RELEASE}-ftp-server-with-sidecar-pod-0"
        with tempfile.TemporaryDirectory() as d, support.KubePlay(objs, d) as play:
            play.up()
            exporter = f"{pod}-ftp-exporter"
            ftp = f"{pod}-ftp-server"

            def logs():
                return "".join(f"\n--- {c} ---\n{support.container_logs(c)}" for c in (ftp, exporter))

            text = support.wait_both_up(web_port, "ftp-server", 150, logs)
            info = [l for l in text.splitlines() if l.startswith("ftp_target_info{")]
            self.assertEqual(len(info), 1, info)
            self.assertIn(f'address="127.0.0.1:{ftp_port}"', info[0])
            self.assertNotIn(password, text + logs())

            # The sidecar runs as the chart says, whatever the FTP server does.
            pid = int(support.podman("inspect", "-f", "{{.State.Pid}}", exporter).stdout)
            self.assertEqual(support.process_security(pid), support.HARDENED)
            ftp_pid = int(support.podman("inspect", "-f", "{{.State.Pid}}", ftp).stdout)
            self.assertEqual(support.proc_status(ftp_pid)["Uid"][0], "0")
        left = support.podman("pod", "ps", "--filter", f"name={pod}", "--format", "{{.Name}}").stdout
        self.assertEqual(left.strip(), "", "the pod was not removed")
        left = support.podman("secret", "ls", "--format", "{{.Name}}").stdout.split()
        self.assertFalse([s for s in left if s.startswith(RELEASE)], left)


if __name__ == "__main__":
    unittest.main()
