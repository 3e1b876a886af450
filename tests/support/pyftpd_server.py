"""pyftpdlib server for ftp_exporter's interop tests.

Started by tests/support/real_servers/pyftpdlib.rs with the venv that
ci/install-deps.sh builds (pinned pyftpdlib + pyOpenSSL). Binds the
loopback address it is given (127.0.0.1 or ::1). The password comes from FTP_TEST_PASSWORD so it is not in `ps`.
"""

import argparse
import logging
import os

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler, TLS_FTPHandler
from pyftpdlib.servers import FTPServer


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--address", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--root", required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--readonly", help="directory where the user may not write")
    p.add_argument("--log", required=True)
    p.add_argument("--masquerade", help="address to advertise in 227")
    p.add_argument("--passive-ports", help="first-last")
    p.add_argument("--max-cons", type=int)
    p.add_argument("--no-active", action="store_true")
    p.add_argument("--cert", help="explicit FTPS (AUTH TLS), TLS required on control and data")
    p.add_argument("--key")
    a = p.parse_args()

    # DEBUG logs every command and reply: the first thing to read when a cell fails.
    logging.basicConfig(filename=a.log, level=logging.DEBUG,
                        format="%(asctime)s %(levelname)s %(message)s")

    auth = DummyAuthorizer()
    auth.add_user(a.user, os.environ["FTP_TEST_PASSWORD"], a.root, perm="elradfmwMT")
    if a.readonly:
        auth.override_perm(a.user, a.readonly, perm="elr", recursive=True)

    base = TLS_FTPHandler if a.cert else FTPHandler

    class Handler(base):
        if a.no_active:
            def ftp_PORT(self, line):
                self.respond("502 Active mode disabled.")

            ftp_EPRT = ftp_PORT

    Handler.authorizer = auth
    Handler.banner = "pyftpdlib ready for ftp_exporter"
    if a.masquerade:
        Handler.masquerade_address = a.masquerade
    if a.passive_ports:
        first, last = (int(x) for x in a.passive_ports.split("-"))
        Handler.passive_ports = range(first, last + 1)
    if a.cert:
        Handler.certfile = a.cert
        Handler.keyfile = a.key
        Handler.tls_control_required = True
        Handler.tls_data_required = True

    assert a.address in ("127.0.0.1", "::1"), "loopback only"
    server = FTPServer((a.address, a.port), Handler)
    if a.max_cons:
        # pyftpdlib compares against its whole socket map, which also holds
        # the listening socket: one more than the sessions wanted.
        server.max_cons = a.max_cons + 1
    server.serve_forever()


if __name__ == "__main__":
    main()
