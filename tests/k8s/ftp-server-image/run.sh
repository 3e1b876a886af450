#!/bin/sh
# Entry point of the test FTP server image (tests/k8s/support.py builds it
# from Debian's Pure-FTPd, unpacked in .cache/servers/pure-ftpd). It takes
# the interface of the widely used stilliard/pure-ftpd image that the
# example chart names, so the chart runs unchanged with either: the user
# comes from FTP_USER_NAME / FTP_USER_PASS / FTP_USER_HOME, and the
# arguments are pure-ftpd's own.
set -eu
: "${FTP_USER_NAME:?}" "${FTP_USER_PASS:?}" "${FTP_USER_HOME:?}"
# A restarted container keeps its files: start from an empty user list.
: >/etc/pure-ftpd/pureftpd.passwd
# pure-pw asks for the password twice; -m writes /etc/pure-ftpd/pureftpd.pdb.
printf '%s\n%s\n' "$FTP_USER_PASS" "$FTP_USER_PASS" |
    /usr/bin/pure-pw useradd "$FTP_USER_NAME" -u 1000 -g 1000 -d "$FTP_USER_HOME" -m >/dev/null
unset FTP_USER_PASS
exec /usr/sbin/pure-ftpd "$@"
