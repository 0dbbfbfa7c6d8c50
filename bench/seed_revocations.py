#!/usr/bin/env python3
"""Fill a Portcullis revocation store with COUNT revoked jtis PREFIX0..PREFIX(COUNT-1).

Three ways, chosen with --mode:

  api      POST /v1/revocations {"jti": ..., "expires_at": now+TTL} for each
           entry, each of which must answer 201, over one keep-alive
           connection. Exercises the real write path, but the embedded store
           fsyncs every change (~800/s): fine for thousands, not for 1M.
  journal  Write the embedded store's journal (revocation.file) directly,
           BEFORE Portcullis starts: one JSON object a line, exactly what
           RevocationJournal writes for a revoke —
               {"expires_at":<unix seconds>,"jti":"<jti>","op":"revoke"}
           (sorted keys). Portcullis replays and compacts it at start and logs
           "revocation store ready ... entries=N".
  redis    Write the Redis protocol (RESP) for `SET <key> 1 EX <ttl>` per entry
           to stdout, for `redis-cli --pipe` — the commands the Redis store's
           revoke sends, key from the jti key template (--key-template, default
           portcullis:jti:{jti} like revocation.jti_key).

The benchmark token's own jti is never among the entries, so the measured
requests all pass the store check (a lookup that misses, which is the common
case in production).
"""

import argparse
import http.client
import json
import sys
import time


def seed_api(args):
    with open(args.token_file, encoding="utf-8") as f:
        admin_token = f.read().strip()
    host, port = args.admin.rsplit(":", 1)
    headers = {"Authorization": f"Bearer {admin_token}",
               "Content-Type": "application/json"}
    expires_at = int(time.time()) + args.ttl

    conn = http.client.HTTPConnection(host, int(port), timeout=30)
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


def seed_journal(args):
    expires_at = int(time.time()) + args.ttl
    # json.dumps of the jti: the prefix is ours, but stay correct for any string.
    with open(args.journal, "w", encoding="utf-8") as f:
        for n in range(args.count):
            jti = json.dumps(f"{args.prefix}{n}")
            f.write(f'{{"expires_at":{expires_at},"jti":{jti},"op":"revoke"}}\n')


def resp_command(*parts):
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def seed_redis(args):
    if "{jti}" not in args.key_template:
        sys.exit("seed_revocations: --key-template must contain {jti}")
    out = sys.stdout.buffer
    ttl = str(args.ttl)
    batch = []
    for n in range(args.count):
        key = args.key_template.replace("{jti}", f"{args.prefix}{n}")
        batch.append(resp_command("SET", key, "1", "EX", ttl))
        if len(batch) >= 10000:
            out.write(b"".join(batch))
            batch.clear()
    out.write(b"".join(batch))
    out.flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", choices=["api", "journal", "redis"], default="api")
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--prefix", default="bench-revoked-")
    ap.add_argument("--ttl", type=int, default=3600, help="seconds until the entries expire")
    ap.add_argument("--admin", help="api: host:port of admin.listen")
    ap.add_argument("--token-file",
                    help="api: file holding admin.token (kept off the command line)")
    ap.add_argument("--journal", help="journal: the revocation.file to write (replaced)")
    ap.add_argument("--key-template", default="portcullis:jti:{jti}",
                    help="redis: revocation.jti_key")
    args = ap.parse_args()

    started = time.monotonic()
    if args.mode == "api":
        if not (args.admin and args.token_file):
            ap.error("--mode api needs --admin and --token-file")
        seed_api(args)
    elif args.mode == "journal":
        if not args.journal:
            ap.error("--mode journal needs --journal")
        seed_journal(args)
    else:
        seed_redis(args)
    elapsed = time.monotonic() - started
    what = {"api": "through the admin API", "journal": f"into {args.journal}",
            "redis": "as RESP for redis-cli --pipe"}[args.mode]
    print(f"seed_revocations: {args.count} revocations {what} in {elapsed:.1f}s "
          f"({args.count / elapsed if elapsed else 0:,.0f}/s)", file=sys.stderr)


if __name__ == "__main__":
    main()
