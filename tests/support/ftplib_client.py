"""Second FTP client for the harness self-test (tests/real_servers.rs).

curl is the main client, but Debian 12's curl 7.88.1 fails every active-mode
FTPS transfer ("sa_addr inet_ntop() failed", curl issue #10622, fixed in
curl 8.0), so the active + TLS cells use Python's ftplib instead. Two fixes
over plain ftplib.FTP_TLS: the data connection resumes the control TLS
session (vsftpd require_ssl_reuse, ProFTPD's default), and implicit FTPS
(TLS before the banner) is supported.

Usage: ftplib_client.py PORT USER MODE TLS CAFILE ACTION [ARGS]; password in
FTP_TEST_PASSWORD. ACTION: list DIR | get REMOTE LOCAL | put LOCAL REMOTE.
"""

import ftplib
import os
import ssl
import sys


class Client(ftplib.FTP_TLS):
    implicit = False

    def connect(self, host, port, timeout):
        if not self.implicit:
            return super().connect(host, port, timeout)
        self.host, self.port, self.timeout = host, port, timeout
        import socket
        raw = socket.create_connection((host, port), timeout)
        self.sock = self.context.wrap_socket(raw, server_hostname=host)
        self.af = self.sock.family
        self.file = self.sock.makefile("r", encoding=self.encoding)
        self.welcome = self.getresp()
        return self.welcome

    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            conn = self.context.wrap_socket(conn, server_hostname=self.host,
                                            session=self.sock.session)
        return conn, size


def main():
    port, user, mode, tls, cafile, action, *args = sys.argv[1:]
    ctx = ssl.create_default_context(cafile=cafile)
    ftp = Client(context=ctx, timeout=20)
    ftp.implicit = tls == "implicit"
    ftp.connect("127.0.0.1", int(port), 20)
    if tls == "explicit":
        ftp.auth()
    ftp.login(user, os.environ["FTP_TEST_PASSWORD"], secure=False)
    ftp.prot_p()
    ftp.set_pasv(mode == "passive")
    if action == "list":
        lines = []
        ftp.retrlines("LIST " + args[0], lines.append)
        print("\n".join(lines))
    elif action == "get":
        with open(args[1], "wb") as f:
            ftp.retrbinary("RETR " + args[0], f.write)
    elif action == "put":
        with open(args[0], "rb") as f:
            ftp.storbinary("STOR " + args[1], f)
    else:
        sys.exit("unknown action " + action)
    ftp.quit()


if __name__ == "__main__":
    main()
