#!/usr/bin/env python3
"""Fill a Portcullis revocation store through its admin API.

Writes COUNT revocations `{"jti": PREFIX+N, "expires_at": now+TTL}` with
POST /v1/revocations, each of which must answer 201. One keep-alive
connection, requests sent back to back: 10,000 entries take a second or two
instead of the minutes 10,000 curl processes would. The benchmark token's own
jti is never among them, so the measured requests all pass the store check
(a lookup that misses, which is the common case in production).
"""

import argparse
import http.client
import json
import sys
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--admin", required=True, help="host:port of admin.listen")
    ap.add_argument("--token-file", required=True,
                    help="file holding admin.token (kept off the command line)")
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--prefix", default="bench-revoked-")
    ap.add_argument("--ttl", type=int, default=3600, help="seconds until expires_at")
    args = ap.parse_args()

    with open(args.token_file, encoding="utf-8") as f:
        admin_token = f.read().strip()
    host, port = args.admin.rsplit(":", 1)
    headers = {"Authorization": f"Bearer {admin_token}",
               "Content-Type": "application/json"}
    expires_at = int(time.time()) + args.ttl

    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    started = time.monotonic()
    for n in range(args.count):
        body = json.dumps({"jti": f"{args.prefix}{n}", "expires_at": expires_at})
        for attempt in (1, 2):
            try:
                conn.request("POST", "/v1/revocations", body, headers)
                resp = conn.getresponse()
                answer = resp.read()
                break
            except (http.client.HTTPException, ConnectionError):
                # The server may close an idle/old keep-alive connection; one
                # reconnect is normal, a second failure is not.
                conn.close()
                if attempt == 2:
                    raise
                conn = http.client.HTTPConnection(host, int(port), timeout=30)
        if resp.status != 201:
            sys.exit(f"seed_revocations: POST /v1/revocations #{n} -> "
                     f"{resp.status} {answer[:300]!r}")
        if resp.getheader("Connection", "").lower() == "close":
            conn.close()
            conn = http.client.HTTPConnection(host, int(port), timeout=30)
    conn.close()
    elapsed = time.monotonic() - started
    print(f"seeded {args.count} revocations in {elapsed:.1f}s "
          f"({args.count / elapsed if elapsed else 0:,.0f}/s)", file=sys.stderr)


if __name__ == "__main__":
    main()
