"""A real TLS client for the web-config tests: Python's own ssl + urllib
(stdlib only), as a scraper or a script would use them.

  https_client.py get URL [--cafile F] [--insecure] [--cert F --key F]
                  [--user U --password P] [--max-tls12]
      prints "STATUS <code>" and the body, or "TLSERROR <message>"
  https_client.py time URL --cafile F --cert F --key F --rounds N U:P [U:P ...]
      prints JSON {"U:P": [seconds, ...]}: the credentials in turn, N rounds,
      each a fresh connection, timed from connect to the answer; "-" sends
      no credentials at all
"""
import argparse
import base64
import json
import ssl
import sys
import time
import urllib.error
import urllib.request


def context(args):
    ctx = ssl.create_default_context(cafile=args.cafile)
    if args.insecure:
        # As the kubelet's HTTPS probes: no certificate verification.
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if args.cert:
        ctx.load_cert_chain(args.cert, args.key)
    if getattr(args, "max_tls12", False):
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def request(url, ctx, user=None, password=None):
    req = urllib.request.Request(url)
    if user is not None:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("command", choices=["get", "time"])
    p.add_argument("url")
    p.add_argument("--cafile")
    p.add_argument("--insecure", action="store_true")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--user")
    p.add_argument("--password")
    p.add_argument("--max-tls12", action="store_true")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("credentials", nargs="*")
    args = p.parse_intermixed_args()
    ctx = context(args)
    if args.command == "get":
        try:
            status, body = request(args.url, ctx, args.user, args.password)
        except (ssl.SSLError, urllib.error.URLError, ConnectionError) as e:
            print(f"TLSERROR {e}")
            return
        print(f"STATUS {status}")
        print(body)
        return
    times = {c: [] for c in args.credentials}
    for _ in range(args.rounds):
        for c in args.credentials:
            user, password = c.split(":", 1) if c != "-" else (None, None)
            start = time.perf_counter()
            status, _ = request(args.url, ctx, user, password)
            times[c].append(time.perf_counter() - start)
            if status != 401:
                sys.exit(f"{user}: expected 401, got {status}")
    print(json.dumps(times))


if __name__ == "__main__":
    main()
