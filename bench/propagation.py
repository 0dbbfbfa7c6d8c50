#!/usr/bin/env python3
"""Revocation propagation and Sentinel failover, measured on loopback.

Two figures of issue 12's "Bench" bullet, neither of which wrk can measure:

1. Propagation. Two Portcullis processes, A and B, share one redis-server and
   sit in front of one tiny upstream. For each of N revocations (default 200):
   a fresh HS256 token with its own jti is minted (the claim shape of
   bench/mint_tokens.py), B answers it once (200; with the local cache on, B
   now holds "not revoked" for it), the jti is revoked through A's admin API
   (POST /v1/revocations), and B is polled with the token over one keep-alive
   connection, back to back, until it answers 401. The figure is the time from
   A's 201 (its response head received) to B's first 401 (its response head
   received); a poll costs one loopback round trip, which bounds the
   resolution. Run once with `revocation.local_cache: off` and once with
   `tracking` (target: p99 <= 100 ms with tracking). Each revocation is bounded
   (--wait, default 5 s): a timeout counts as a failure and is reported.

2. Sentinel failover (--sentinel; on by default when redis-sentinel is in
   PATH). A master, one replica and three Sentinels (quorum 2,
   down-after-milliseconds 1000, failover-timeout 5000), one Portcullis with
   `revocation.redis_sentinels` and `fail_mode: closed`. One keep-alive
   connection sends requests back to back, alternating a valid token and a
   revoked one; the master is killed with SIGKILL. Reported: kill -> first
   `+switch-master` announced by any Sentinel (this script subscribes to all
   three), kill -> and switch -> the first 200 for the valid token after its
   first non-200 (the answers from the new master), the non-200 answers seen
   (503s), and whether the revoked token was ever admitted (it must never be).
   Target: answers from the new master within 5 s of the switch.

Everything runs on 127.0.0.1, in a temp dir, and is stopped on exit (also on
Ctrl-C or SIGTERM). The report (Markdown) goes to stdout and, with --report,
to a file. Exit 0 when the measurements ran (a missed target is reported as
MISS, not an error); 1 when the setup failed; 130 when interrupted.

    bench/propagation.py [--binary PATH] [--revocations N] [--report FILE]
                         [--sentinel | --no-sentinel] [--wait SECONDS]
"""

import argparse
import base64
import hashlib
import hmac
import http.client
import json
import os
import platform
import secrets
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# The upstream's answer: the same 299-byte JSON bench/run.sh serves.
UPSTREAM_BODY = (
    b'{"id":"7f3c2a9e-5b1d-4c8e-9a6f-2d4b8e1c3f70","object":"account","status":"active",'
    b'"owner":{"name":"Ada Lovelace","email":"ada@example.com"},"plan":{"name":"team",'
    b'"seats":25,"renews_at":"2025-12-01T00:00:00Z"},"features":["sso","audit_log","webhooks"],'
    b'"usage":{"requests_today":18234,"quota":100000}}'
)

JTI_KEY = "portcullis:jti:{jti}"
SENTINEL_MASTER = "mymaster"
PROPAGATION_TARGET_MS = 100.0
FAILOVER_TARGET_S = 5.0
WARMUP_REVOCATIONS = 5


class SetupError(Exception):
    """The benchmark could not be set up (exit 1)."""


class Interrupted(BaseException):
    """SIGTERM; handled like Ctrl-C."""


_T0 = time.monotonic()


def log(msg):
    print(f"propagation: [{time.monotonic() - _T0:5.1f}s] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# The upstream: a child process of this script (python3 propagation.py
# --upstream-child), so its work does not compete with the measuring loop for
# this interpreter's GIL.

def upstream_child():
    import http.server

    # Head and body in one write, and TCP_NODELAY: a head and a body written
    # separately under Nagle's algorithm wait for the proxy's delayed ACK
    # (40 ms on Linux) on every keep-alive request.
    response = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                % len(UPSTREAM_BODY)) + UPSTREAM_BODY
    head_only = response[:len(response) - len(UPSTREAM_BODY)]

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self):
            super().setup()
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def _answer(self, body):
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            self.wfile.write(response if body else head_only)
            self.wfile.flush()

        def do_GET(self):
            self._answer(True)

        def do_POST(self):
            self._answer(True)

        def do_HEAD(self):
            self._answer(False)

        def log_message(self, *args):
            pass

    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 128

    server = Server(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    # The parent closing our stdin (or dying) ends us too.
    threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()
    server.serve_forever()


# ---------------------------------------------------------------------------
# Processes

class Processes:
    def __init__(self, tmp):
        self.tmp = tmp
        self.procs = []  # (name, Popen, log path)
        self.used_ports = set()

    def free_port(self):
        for _ in range(100):
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            if port not in self.used_ports:
                self.used_ports.add(port)
                return port
        raise SetupError("no free loopback port")

    def start(self, name, argv, cwd=None, env=None, stdin=subprocess.DEVNULL, stdout=None):
        path = os.path.join(self.tmp, name + ".log")
        out = open(path, "ab")
        try:
            proc = subprocess.Popen(argv, cwd=cwd or self.tmp, env=env, stdin=stdin,
                                    stdout=stdout if stdout is not None else out, stderr=out,
                                    start_new_session=True)
        except OSError as e:
            raise SetupError(f"cannot start {name} ({argv[0]}): {e}")
        finally:
            out.close()
        self.procs.append((name, proc, path))
        return proc

    def log_tail(self, name, lines=20):
        for n, _, path in self.procs:
            if n == name:
                try:
                    with open(path, "rb") as f:
                        data = f.read().decode("utf-8", "replace").splitlines()
                    return "\n".join(data[-lines:])
                except OSError:
                    return ""
        return ""

    def stop(self, proc, timeout=5.0):
        if proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            try:
                proc.terminate()
            except ProcessLookupError:
                return
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                proc.kill()
            try:
                proc.wait(2)
            except subprocess.TimeoutExpired:
                pass

    def stop_all(self):
        # TERM all first, then wait: Portcullis drains, the rest stop at once.
        live = [p for _, p, _ in self.procs if p.poll() is None]
        for p in live:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                pass
        deadline = time.monotonic() + 5
        for p in live:
            try:
                p.wait(max(0.05, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for p in live:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
                try:
                    p.wait(2)
                except subprocess.TimeoutExpired:
                    pass
        for _, p, _ in self.procs:
            for f in (p.stdin, p.stdout):
                if f:
                    try:
                        f.close()
                    except OSError:
                        pass
        self.procs = []


def start_upstream(procs):
    proc = procs.start("upstream", [sys.executable, os.path.abspath(__file__), "--upstream-child"],
                       stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    line = b""
    deadline = time.monotonic() + 10
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    while not line.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or proc.poll() is not None:
            raise SetupError("the upstream did not start: " + procs.log_tail("upstream"))
        if sel.select(left):
            chunk = os.read(proc.stdout.fileno(), 64)
            if not chunk:
                raise SetupError("the upstream exited: " + procs.log_tail("upstream"))
            line += chunk
    sel.close()
    port = int(line.strip())
    status, _ = http_request(port, "GET", "/")
    if status != 200:
        raise SetupError(f"the upstream answers {status}")
    return port


# ---------------------------------------------------------------------------
# A small RESP client (redis-server and redis-sentinel), enough for PING,
# INFO, ROLE, EXISTS, SENTINEL ... and SUBSCRIBE.

class Resp:
    def __init__(self, port, timeout=1.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(out))

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def read(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return RespError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n).decode("utf-8", "replace")
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise ConnectionError(f"bad RESP line {line[:40]!r}")

    def call(self, *args):
        self.send(*args)
        return self.read()


class RespError(str):
    pass


def redis_call(port, *args, timeout=1.0):
    c = Resp(port, timeout)
    try:
        return c.call(*args)
    finally:
        c.close()


def wait_redis(procs, name, proc, port, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            if redis_call(port, "PING", timeout=0.5) == "PONG":
                return
        except OSError:
            pass
        if proc.poll() is not None:
            raise SetupError(f"{name} exited: {procs.log_tail(name)}")
        if time.monotonic() > deadline:
            raise SetupError(f"{name} does not answer PING after {timeout:.0f}s: {procs.log_tail(name)}")
        time.sleep(0.05)


def info_fields(text):
    out = {}
    for line in (text or "").splitlines():
        if ":" in line and not line.startswith("#"):
            k, v = line.split(":", 1)
            out[k.strip()] = v.strip()
    return out


def start_redis(procs, name, extra=()):
    port = procs.free_port()
    d = os.path.join(procs.tmp, name)
    os.makedirs(d, exist_ok=True)
    redis_server = shutil.which("redis-server")
    if not redis_server:
        raise SetupError("redis-server not found in PATH (apt-get install -y redis-server)")
    proc = procs.start(name, [redis_server, "--port", str(port), "--bind", "127.0.0.1",
                              "--save", "", "--appendonly", "no", "--dir", d, *extra], cwd=d)
    wait_redis(procs, name, proc, port)
    return proc, port


# ---------------------------------------------------------------------------
# HTTP

def http_request(port, method, path, headers=None, body=None, timeout=2.0):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


class KeepAlive:
    """One keep-alive connection; reconnects when the server closed it."""

    def __init__(self, port, timeout=2.0):
        self.port = port
        self.timeout = timeout
        self.conn = None
        self.reconnects = 0

    def _connect(self):
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        self.conn.connect()
        self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def request(self, method, path, headers, body=None):
        """(status, body, time the response head arrived); status 0 on a connection error."""
        for attempt in (0, 1):
            try:
                if self.conn is None:
                    self._connect()
                self.conn.request(method, path, body=body, headers=headers)
                resp = self.conn.getresponse()
                t = time.perf_counter()
                data = resp.read()
                if resp.will_close:
                    self.close()
                return resp.status, data, t
            except (OSError, http.client.HTTPException):
                self.close()
                self.reconnects += 1
                # A keep-alive connection closed by the server between two
                # requests: retry once on a new one.
                if attempt:
                    return 0, b"", time.perf_counter()
        return 0, b"", time.perf_counter()

    def close(self):
        if self.conn is not None:
            try:
                self.conn.close()
            except OSError:
                pass
            self.conn = None


# ---------------------------------------------------------------------------
# Tokens: bench/mint_tokens.py's claim shape, the secret used as its UTF-8 bytes.

def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def segment(obj):
    return b64url(json.dumps(obj, separators=(",", ":"), sort_keys=True).encode("utf-8"))


def mint(secret, ttl=3600, jti=None):
    now = int(time.time())
    jti = jti or str(uuid.uuid4()).upper()
    claims = {"sub": "bench-user", "type": "access", "fresh": False,
              "iat": now, "exp": now + ttl, "jti": jti}
    signing_input = segment({"alg": "HS256", "typ": "JWT"}) + "." + segment(claims)
    mac = hmac.new(secret.encode("utf-8"), signing_input.encode("ascii"), hashlib.sha256).digest()
    return signing_input + "." + b64url(mac), jti, claims["exp"]


# ---------------------------------------------------------------------------
# Portcullis

class Portcullis:
    def __init__(self, name, proc, port, admin_port, admin_token, config):
        self.name, self.proc, self.port = name, proc, port
        self.admin_port, self.admin_token, self.config = admin_port, admin_token, config

    def admin_headers(self):
        return {"Authorization": "Bearer " + self.admin_token, "Content-Type": "application/json"}

    def revoke(self, conn, jti, expires_at):
        body = json.dumps({"jti": jti, "expires_at": expires_at}).encode()
        return conn.request("POST", "/v1/revocations", self.admin_headers(), body)

    def metrics(self):
        """The portcullis_revocation_cache_* samples of /metrics (empty if unavailable)."""
        out = {}
        for headers in ({}, {"Authorization": "Bearer " + self.admin_token}):
            try:
                status, data = http_request(self.admin_port, "GET", "/metrics", headers)
            except (OSError, http.client.HTTPException):
                return out
            if status == 200:
                for line in data.decode("utf-8", "replace").splitlines():
                    if line.startswith("portcullis_revocation_cache_"):
                        parts = line.split()
                        try:
                            out[parts[0].split("{")[0]] = out.get(parts[0].split("{")[0], 0) + float(parts[-1])
                        except (ValueError, IndexError):
                            pass
                return out
        return out


def portcullis_env():
    # Portcullis reads PORTCULLIS_* on top of its config (and rejects unknown
    # ones): a stray variable in the caller's shell must not change the run.
    return {k: v for k, v in os.environ.items() if not k.startswith("PORTCULLIS_")}


def start_portcullis(procs, binary, name, upstream_port, secret, revocation_yaml, ready_timeout):
    d = os.path.join(procs.tmp, name)
    os.makedirs(d, exist_ok=True)
    port, admin_port = procs.free_port(), procs.free_port()
    admin_token = secrets.token_hex(16)
    config = os.path.join(d, "portcullis.yaml")
    with open(config, "w") as f:
        f.write(
            f'proxy: {{ listen: "127.0.0.1:{port}", upstream: "http://127.0.0.1:{upstream_port}", threads: 1 }}\n'
            f'jwt: {{ algorithms: [HS256], secret: "{secret}" }}\n'
            f"revocation: {revocation_yaml}\n"
            f'admin: {{ listen: "127.0.0.1:{admin_port}", token: "{admin_token}" }}\n'
            f"log: {{ level: info }}\n")
    proc = procs.start(name, [binary, "serve", "--config", config], cwd=d, env=portcullis_env())
    pc = Portcullis(name, proc, port, admin_port, admin_token, config)
    deadline = time.monotonic() + ready_timeout
    last = "nothing"
    while True:
        try:
            status, _ = http_request(admin_port, "GET", "/readyz", timeout=1.0)
            last = str(status)
            if status == 200:
                break
        except (OSError, http.client.HTTPException) as e:
            last = type(e).__name__
        if proc.poll() is not None:
            raise SetupError(f"portcullis {name} exited (status {proc.returncode}):\n{procs.log_tail(name)}")
        if time.monotonic() > deadline:
            raise SetupError(f"portcullis {name}: /readyz answers {last}, not 200, after "
                             f"{ready_timeout:.0f}s:\n{procs.log_tail(name)}")
        time.sleep(0.05)
    # The proxy listener may open after the admin one; without a token it must refuse.
    while True:
        try:
            status, _ = http_request(port, "GET", "/", timeout=1.0)
            if status == 401:
                break
            raise SetupError(f"portcullis {name}: a request without a token got {status}, expected 401")
        except (OSError, http.client.HTTPException):
            pass
        if time.monotonic() > deadline:
            raise SetupError(f"portcullis {name}: the proxy listener never answered")
        time.sleep(0.05)
    token, _, _ = mint(secret)
    status, _ = http_request(port, "GET", "/", {"Authorization": "Bearer " + token})
    if status != 200:
        raise SetupError(f"portcullis {name}: a valid token got {status}, expected 200:\n{procs.log_tail(name)}")
    return pc


def resolve_binary(path):
    binary = path if os.path.isabs(path) else os.path.join(ROOT, path)
    if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        raise SetupError(f"no Portcullis executable at {binary} (build it, or pass --binary)")
    return binary


# ---------------------------------------------------------------------------
# 1. Propagation

def percentile(sorted_values, p):
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return float("nan")
    k = max(1, -(-len(sorted_values) * p // 100))  # ceil(n * p / 100)
    return sorted_values[int(k) - 1]


def run_propagation(procs, binary, upstream_port, cache, n, wait_s, ready_timeout):
    log(f"propagation, local_cache: {cache}: starting redis-server and Portcullis A and B")
    redis_proc, redis_port = start_redis(procs, f"redis-{cache}")
    secret = secrets.token_hex(32)
    rev = (f'{{ store: redis, redis_url: "redis://127.0.0.1:{redis_port}/0", '
           f'jti_key: "{JTI_KEY}", local_cache: {cache} }}')
    a = start_portcullis(procs, binary, f"portcullis-{cache}-A", upstream_port, secret, rev, ready_timeout)
    b = start_portcullis(procs, binary, f"portcullis-{cache}-B", upstream_port, secret, rev, ready_timeout)
    if cache == "tracking":
        # The cache is in use only once both Redis connections are set up.
        deadline = time.monotonic() + 5
        while b.metrics().get("portcullis_revocation_cache_in_use") != 1:
            if time.monotonic() > deadline:
                raise SetupError("portcullis B: portcullis_revocation_cache_in_use never became 1")
            time.sleep(0.05)
    admin = KeepAlive(a.admin_port)
    poll = KeepAlive(b.port)
    result = {"cache": cache, "latencies_ms": [], "timeouts": 0, "errors": [], "polls": 0,
              "stale_200": 0, "other_status": {}, "n": n}
    log(f"propagation, local_cache: {cache}: {WARMUP_REVOCATIONS} warm-up + {n} revocations")
    metrics_before = {}
    t_start = time.monotonic()
    for i in range(-WARMUP_REVOCATIONS, n):
        measured = i >= 0
        if i == 0:
            metrics_before = b.metrics()
            t_start = time.monotonic()
        token, jti, exp = mint(secret)
        headers = {"Authorization": "Bearer " + token}
        status, _, _ = poll.request("GET", "/", headers)
        if status != 200:
            raise SetupError(f"B answered {status} to a fresh valid token (revocation {i})")
        if cache == "tracking":
            # Seen twice: the second answer comes from B's cache if it filled.
            poll.request("GET", "/", headers)
        status, data, t0 = a.revoke(admin, jti, exp)
        if status != 201:
            raise SetupError(f"A answered {status} to POST /v1/revocations: {data[:200]!r}")
        deadline = t0 + wait_s
        got = None
        while True:
            status, _, t1 = poll.request("GET", "/", headers)
            if measured:
                result["polls"] += 1
            if status == 401:
                got = t1
                break
            if measured:
                if status == 200:
                    result["stale_200"] += 1
                else:
                    result["other_status"][status] = result["other_status"].get(status, 0) + 1
            if t1 >= deadline:
                break
        if not measured:
            continue
        if got is None:
            result["timeouts"] += 1
        else:
            result["latencies_ms"].append((got - t0) * 1000.0)
    result["seconds"] = time.monotonic() - t_start
    metrics_after = b.metrics()
    result["metrics"] = {k: metrics_after.get(k, 0) - metrics_before.get(k, 0)
                         for k in metrics_after if k.endswith("_total")}
    result["cache_in_use_after"] = metrics_after.get("portcullis_revocation_cache_in_use")
    admin.close()
    poll.close()
    for p in (a.proc, b.proc, redis_proc):
        procs.stop(p)
    return result


# ---------------------------------------------------------------------------
# 2. Sentinel failover

class SwitchWatcher:
    """Subscribes to +switch-master on every Sentinel; keeps the earliest announcement."""

    def __init__(self, ports):
        self.first = None  # (perf_counter, sentinel port, message)
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.ready = []
        self.threads = []
        for port in ports:
            c = Resp(port, timeout=0.2)
            c.send("SUBSCRIBE", "+switch-master")
            c.sock.settimeout(2.0)
            reply = c.read()
            if not (isinstance(reply, list) and reply and reply[0] == "subscribe"):
                raise SetupError(f"sentinel {port}: SUBSCRIBE +switch-master answered {reply!r}")
            c.sock.settimeout(0.2)
            t = threading.Thread(target=self._run, args=(c, port), daemon=True)
            t.start()
            self.threads.append((t, c))

    def _run(self, c, port):
        while not self.stop.is_set():
            try:
                msg = c.read()
            except socket.timeout:
                continue
            except (OSError, ConnectionError):
                return
            t = time.perf_counter()
            if isinstance(msg, list) and len(msg) == 3 and msg[0] == "message":
                with self.lock:
                    if self.first is None or t < self.first[0]:
                        self.first = (t, port, msg[2])

    def close(self):
        self.stop.set()
        for t, c in self.threads:
            t.join(1)
            c.close()


def sentinel_ready(port, want_replicas=1, want_others=2):
    reply = redis_call(port, "SENTINEL", "MASTER", SENTINEL_MASTER, timeout=0.5)
    if not isinstance(reply, list):
        return False
    fields = dict(zip(reply[0::2], reply[1::2]))
    return (int(fields.get("num-slaves", 0)) >= want_replicas
            and int(fields.get("num-other-sentinels", 0)) >= want_others
            and "s_down" not in fields.get("flags", "") and "o_down" not in fields.get("flags", ""))


def run_sentinel(procs, binary, upstream_port, ready_timeout, budget_s=20.0):
    log("sentinel: starting master, replica and three Sentinels")
    master_proc, master_port = start_redis(procs, "sentinel-master")
    replica_proc, replica_port = start_redis(procs, "sentinel-replica",
                                             ["--replicaof", "127.0.0.1", str(master_port)])
    deadline = time.monotonic() + 15
    while info_fields(redis_call(replica_port, "INFO", "replication")).get("master_link_status") != "up":
        if time.monotonic() > deadline:
            raise SetupError("the replica never linked to the master")
        time.sleep(0.05)
    sentinel_bin = shutil.which("redis-sentinel")
    sentinel_ports = []
    sentinel_procs = []
    for i in range(3):
        port = procs.free_port()
        d = os.path.join(procs.tmp, f"sentinel-{i}")
        os.makedirs(d, exist_ok=True)
        conf = os.path.join(d, "sentinel.conf")
        # Sentinel rewrites its config file (known peers, epochs): one file each.
        with open(conf, "w") as f:
            f.write(f"port {port}\nbind 127.0.0.1\ndaemonize no\ndir {d}\n"
                    f"logfile \"\"\n"
                    f"sentinel monitor {SENTINEL_MASTER} 127.0.0.1 {master_port} 2\n"
                    f"sentinel down-after-milliseconds {SENTINEL_MASTER} 1000\n"
                    f"sentinel failover-timeout {SENTINEL_MASTER} 5000\n"
                    f"sentinel parallel-syncs {SENTINEL_MASTER} 1\n")
        name = f"sentinel-{i}"
        proc = procs.start(name, [sentinel_bin, conf], cwd=d)
        wait_redis(procs, name, proc, port)
        sentinel_ports.append(port)
        sentinel_procs.append(proc)
    # Sentinels find each other through hello messages on the master (every
    # 2 s) and the replica through the master's INFO.
    deadline = time.monotonic() + 20
    while not all(sentinel_ready(p) for p in sentinel_ports):
        if time.monotonic() > deadline:
            raise SetupError("the Sentinels did not see each other and the replica within 20s")
        time.sleep(0.1)
    ck = redis_call(sentinel_ports[0], "SENTINEL", "CKQUORUM", SENTINEL_MASTER)
    if isinstance(ck, RespError):
        raise SetupError(f"SENTINEL CKQUORUM: {ck}")
    log("sentinel: the three Sentinels see each other and the replica; starting Portcullis")

    secret = secrets.token_hex(32)
    sentinels = ", ".join(f'"127.0.0.1:{p}"' for p in sentinel_ports)
    rev = (f'{{ store: redis, redis_url: "redis://127.0.0.1:6379/0", jti_key: "{JTI_KEY}", '
           f'redis_sentinels: [{sentinels}], redis_sentinel_master: {SENTINEL_MASTER}, '
           f'fail_mode: closed }}')
    pc = start_portcullis(procs, binary, "portcullis-sentinel", upstream_port, secret, rev, ready_timeout)

    valid, _, _ = mint(secret)
    revoked, revoked_jti, revoked_exp = mint(secret)
    admin = KeepAlive(pc.admin_port)
    status, data, _ = pc.revoke(admin, revoked_jti, revoked_exp)
    admin.close()
    if status != 201:
        raise SetupError(f"POST /v1/revocations answered {status}: {data[:200]!r}")
    # The revocation must be on the replica before the master dies, or the
    # failover would lose it (that is revocation.write_replicas's job, not
    # measured here).
    key = JTI_KEY.replace("{jti}", revoked_jti)
    deadline = time.monotonic() + 5
    while redis_call(replica_port, "EXISTS", key) != 1:
        if time.monotonic() > deadline:
            raise SetupError("the revocation did not reach the replica within 5s")
        time.sleep(0.01)

    watcher = SwitchWatcher(sentinel_ports)
    conn = KeepAlive(pc.port, timeout=2.0)
    hv = {"Authorization": "Bearer " + valid}
    hr = {"Authorization": "Bearer " + revoked}
    res = {"master_port": master_port, "replica_port": replica_port,
           "sentinel_ports": sentinel_ports, "counts": {"valid": {}, "revoked": {}},
           "revoked_admitted": 0, "non200_valid": 0, "non200_after_recovery": 0,
           "revoked_admitted_times": []}
    try:
        def one(which, headers):
            status, _, t = conn.request("GET", "/", headers)
            c = res["counts"][which]
            c[status] = c.get(status, 0) + 1
            if which == "revoked" and status == 200:
                res["revoked_admitted"] += 1
                res["revoked_admitted_times"].append(t)
            return status, t

        # Steady state first: a second of answers before the kill.
        t_end = time.perf_counter() + 1.0
        while time.perf_counter() < t_end:
            s, _ = one("valid", hv)
            if s != 200:
                raise SetupError(f"before the kill the valid token got {s}")
            s, _ = one("revoked", hr)
            if s != 401:
                raise SetupError(f"before the kill the revoked token got {s}")
        res["counts"] = {"valid": {}, "revoked": {}}
        log(f"sentinel: SIGKILL to the master (port {master_port})")
        t_kill = time.perf_counter()
        master_proc.kill()
        first_bad = None
        recovered = None
        stop_at = t_kill + budget_s
        after_recovery = None
        while True:
            s, t = one("valid", hv)
            if s != 200:
                res["non200_valid"] += 1
                if first_bad is None:
                    first_bad = t
                if recovered is not None:
                    res["non200_after_recovery"] += 1
            elif first_bad is not None and recovered is None:
                recovered = t
                after_recovery = t + 2.0  # keep checking for a while after
            one("revoked", hr)
            now = time.perf_counter()
            if after_recovery is not None and now >= after_recovery:
                break
            if now >= stop_at:
                break
        switch = watcher.first
        res["kill_to_switch_s"] = (switch[0] - t_kill) if switch else None
        res["switch_message"] = switch[2] if switch else None
        res["first_non200_s"] = (first_bad - t_kill) if first_bad else None
        res["kill_to_recovery_s"] = (recovered - t_kill) if recovered else None
        res["switch_to_recovery_s"] = (recovered - switch[0]) if (recovered and switch) else None
        res["budget_s"] = budget_s
        try:
            new = redis_call(sentinel_ports[0], "SENTINEL", "GET-MASTER-ADDR-BY-NAME", SENTINEL_MASTER)
            res["new_master"] = ":".join(new) if isinstance(new, list) else str(new)
        except OSError:
            res["new_master"] = "?"
        # The new master must hold the revocation, and Portcullis must refuse it.
        try:
            res["new_master_has_revocation"] = redis_call(replica_port, "EXISTS", key) == 1
        except OSError:
            res["new_master_has_revocation"] = False
        tail = procs.log_tail(pc.name, 400)
        res["log_switch"] = "Sentinel announced a new Redis master" in tail
        res["log_lookup_on_new"] = any(
            "redis.connection=lookup" in line and f"redis.node=127.0.0.1:{replica_port}" in line
            and "connected to Redis" in line for line in tail.splitlines())
    finally:
        conn.close()
        watcher.close()
    for p in [pc.proc, replica_proc, *sentinel_procs]:
        procs.stop(p)
    return res


# ---------------------------------------------------------------------------
# Report

def fmt_ms(v):
    return "n/a" if v != v else (f"{v:.2f}" if v < 10 else f"{v:.1f}")


def fmt_s(v):
    if v is None:
        return "n/a"
    return f"{v * 1000:.1f} ms" if abs(v) < 1 else f"{v:.2f} s"


def report(args, binary, props, sent, sentinel_note, started):
    lines = ["## Revocation propagation and Sentinel failover (bench/propagation.py)", ""]
    lines.append(f"- Date: {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}; "
                 f"machine: {platform.system()} {platform.release()} {platform.machine()}, "
                 f"{os.cpu_count()} CPUs; {redis_version()}")
    lines.append(f"- Binary: `{binary}` ({binary_version(binary)}); all processes on 127.0.0.1, HS256, `threads: 1`, "
                 f"`fail_mode: closed` (the default), key template `{JTI_KEY}`")
    lines.append(f"- Run time: {time.monotonic() - started:.1f} s")
    lines.append("")
    if props:
        lines.append("### Propagation: revoke through A, time until B first answers 401")
        lines.append("")
        lines.append(f"Two Portcullis (A, B) on one redis-server, both with the same `local_cache`. "
                     f"Per revocation: a fresh token (own jti) answered 200 by B "
                     f"(twice with the cache on, so B holds it), `POST /v1/revocations` to A, then B "
                     f"polled back to back on one keep-alive connection until 401; measured from "
                     f"A's 201 to B's first 401 (response heads received). "
                     f"N = {args.revocations} revocations after {WARMUP_REVOCATIONS} unmeasured; "
                     f"each bounded at {args.wait:g} s (a timeout is a failure).")
        lines.append("")
        lines.append("| local_cache | N | p50 ms | p99 ms | max ms | timeouts | polls/revocation | "
                     "stale 200s after the 201 | other answers | B cache hits/misses/invalidations |")
        lines.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |")
        for r in props:
            lat = sorted(r["latencies_ms"])
            others = ", ".join(f"{k}: {v}" for k, v in sorted(r["other_status"].items())) or "none"
            m = r["metrics"]
            cm = "—"
            if r["cache"] == "tracking":
                cm = (f"{m.get('portcullis_revocation_cache_hits_total', 0):.0f} / "
                      f"{m.get('portcullis_revocation_cache_misses_total', 0):.0f} / "
                      f"{m.get('portcullis_revocation_cache_invalidations_total', 0):.0f}")
            lines.append(f"| `{r['cache']}` | {r['n']} | {fmt_ms(percentile(lat, 50))} | "
                         f"{fmt_ms(percentile(lat, 99))} | {fmt_ms(lat[-1] if lat else float('nan'))} | "
                         f"{r['timeouts']} | {r['polls'] / max(1, r['n']):.1f} | {r['stale_200']} | "
                         f"{others} | {cm} |")
        lines.append("")
        for r in props:
            if r["cache"] != "tracking":
                continue
            lat = sorted(r["latencies_ms"])
            p99 = percentile(lat, 99)
            ok = r["timeouts"] == 0 and lat and p99 <= PROPAGATION_TARGET_MS
            why = f"p99 {fmt_ms(p99)} ms"
            if r["timeouts"]:
                why += f", {r['timeouts']} revocation(s) never reached B within {args.wait:g} s"
            if r.get("cache_in_use_after") != 1:
                ok = False
                why += "; B's cache was not in use at the end (portcullis_revocation_cache_in_use != 1)"
            hits = r["metrics"].get("portcullis_revocation_cache_hits_total", 0)
            if hits < r["n"]:
                ok = False
                why += (f"; B's cache answered only {hits:.0f} lookups for {r['n']} tokens seen twice "
                        f"(the cache was not exercised)")
            lines.append(f"- **{'PASS' if ok else 'MISS'}** propagation with `local_cache: tracking`: "
                         f"{why} (target p99 ≤ {PROPAGATION_TARGET_MS:g} ms)")
        for r in props:
            if r["cache"] == "off":
                lat = sorted(r["latencies_ms"])
                lines.append(f"- With `local_cache: off` every request reads Redis, so B refuses on its first "
                             f"poll after the 201: p50 {fmt_ms(percentile(lat, 50))} ms is one round trip "
                             f"(no target){'; ' + str(r['timeouts']) + ' timeout(s)' if r['timeouts'] else ''}")
        lines.append("")
    lines.append("### Sentinel failover: SIGKILL to the master")
    lines.append("")
    if sent is None:
        lines.append(f"- Not run: {sentinel_note}")
    else:
        s = sent
        lines.append(f"Master 127.0.0.1:{s['master_port']}, one replica 127.0.0.1:{s['replica_port']}, "
                     f"three Sentinels (quorum 2, `down-after-milliseconds 1000`, `failover-timeout 5000`), "
                     f"one Portcullis with `redis_sentinels` (all three) and `fail_mode: closed`. One keep-alive "
                     f"connection alternates a valid token and a revoked one (its revocation confirmed on the "
                     f"replica before the kill), back to back, from 1 s before the kill until 2 s after the "
                     f"valid token is answered 200 again (at most {s['budget_s']:g} s).")
        lines.append("")
        lines.append("| measure | value |")
        lines.append("| --- | ---: |")
        lines.append(f"| kill → first `+switch-master` from a Sentinel | {fmt_s(s['kill_to_switch_s'])} |")
        lines.append(f"| kill → first non-200 for the valid token | {fmt_s(s['first_non200_s'])} |")
        lines.append(f"| kill → first 200 after that (new master) | {fmt_s(s['kill_to_recovery_s'])} |")
        lines.append(f"| switch → first 200 from the new master | {fmt_s(s['switch_to_recovery_s'])} |")
        v, rv = s["counts"]["valid"], s["counts"]["revoked"]
        lines.append(f"| valid token: answers after the kill | "
                     + ", ".join(f"{k or 'conn error'}: {n}" for k, n in sorted(v.items())) + " |")
        lines.append(f"| 503s seen (valid + revoked token) | {v.get(503, 0) + rv.get(503, 0)} |")
        lines.append(f"| valid token: non-200s in the 2 s after the first 200 again | {s['non200_after_recovery']} |")
        lines.append(f"| revoked token: answers after the kill | "
                     + ", ".join(f"{k or 'conn error'}: {n}" for k, n in sorted(rv.items())) + " |")
        lines.append(f"| new master (Sentinel) | {s['new_master']} |")
        lines.append("")
        rec = s["switch_to_recovery_s"]
        if rec is None:
            why = ("no `+switch-master` seen" if s["kill_to_switch_s"] is None
                   else "the valid token was never answered 200 again" if s["first_non200_s"] is not None
                   else "no interruption seen at all (the kill went unnoticed?)")
            lines.append(f"- **MISS** answers from the new master within {FAILOVER_TARGET_S:g} s of the switch: {why}")
        else:
            ok = rec <= FAILOVER_TARGET_S
            lines.append(f"- **{'PASS' if ok else 'MISS'}** answers from the new master within "
                         f"{FAILOVER_TARGET_S:g} s of the switch: {fmt_s(rec)} "
                         f"({'after' if rec >= 0 else 'before'} the first announcement)")
        admitted = s["revoked_admitted"]
        lines.append(f"- **{'PASS' if admitted == 0 else 'FAIL'}** revoked token never admitted: "
                     f"{admitted} 200(s) for it"
                     + ("" if s["new_master_has_revocation"] else "; the new master lacks the revocation key"))
        if s["log_switch"] and s["log_lookup_on_new"]:
            lines.append(f"- Portcullis log: `Sentinel announced a new Redis master`, then its lookup connection "
                         f"`connected to Redis` on 127.0.0.1:{s['replica_port']} (the promoted replica)")
        else:
            lines.append("- Note: the Portcullis log lacks "
                         + ("`Sentinel announced a new Redis master`" if not s["log_switch"] else
                            f"a lookup connection to 127.0.0.1:{s['replica_port']}"))
    lines.append("")
    return "\n".join(lines)


def binary_version(binary):
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10,
                             env=portcullis_env())
        return (out.stdout.strip() or out.stderr.strip() or "?").splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        return "version ?"


def redis_version():
    try:
        out = subprocess.run([shutil.which("redis-server") or "redis-server", "--version"],
                             capture_output=True, text=True, timeout=5).stdout
        return out.split(" sha=")[0].strip() or "redis-server ?"
    except (OSError, subprocess.SubprocessError):
        return "redis-server ?"


# ---------------------------------------------------------------------------

def main():
    if len(sys.argv) == 2 and sys.argv[1] == "--upstream-child":
        upstream_child()
        return 0
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--binary", default=".build/release/portcullis",
                    help="Portcullis executable; relative paths are to the repo root "
                         "(default .build/release/portcullis)")
    ap.add_argument("--revocations", type=int, default=200, help="revocations per configuration (>= 200; default 200)")
    ap.add_argument("--wait", type=float, default=5.0, help="seconds a revocation may take to reach B (default 5)")
    ap.add_argument("--report", help="also write the Markdown report to this file")
    ap.add_argument("--ready-timeout", type=float, default=30.0, help="seconds to wait for /readyz (default 30)")
    have_sentinel = shutil.which("redis-sentinel") is not None
    ap.add_argument("--sentinel", dest="sentinel", action="store_true", default=have_sentinel,
                    help="run the failover measurement (default: when redis-sentinel is in PATH)")
    ap.add_argument("--no-sentinel", dest="sentinel", action="store_false")
    ap.add_argument("--keep", action="store_true",
                    help="keep the temp dir (configs, logs) and print its path")
    ap.add_argument("--no-propagation", dest="propagation", action="store_false", default=True,
                    help="skip the propagation measurement (only the Sentinel one)")
    args = ap.parse_args()
    if args.revocations < 200:
        ap.error("--revocations must be at least 200 (the issue's figure is over >= 200)")
    if not 0 < args.wait <= 60:
        ap.error("--wait must be in (0, 60] seconds")

    started = time.monotonic()

    def on_term(signum, frame):
        raise Interrupted()
    signal.signal(signal.SIGTERM, on_term)

    tmp = tempfile.mkdtemp(prefix="portcullis-propagation.")
    procs = Processes(tmp)
    try:
        binary = resolve_binary(args.binary)
        if not shutil.which("redis-server"):
            raise SetupError("redis-server not found in PATH (apt-get install -y redis-server)")
        sentinel_note = ""
        if args.sentinel and not have_sentinel:
            raise SetupError("--sentinel: redis-sentinel not found in PATH (apt-get install -y redis-sentinel)")
        if not args.sentinel:
            sentinel_note = ("redis-sentinel not in PATH" if not have_sentinel else "--no-sentinel")
        upstream_port = start_upstream(procs)
        props = []
        if args.propagation:
            for cache in ("off", "tracking"):
                props.append(run_propagation(procs, binary, upstream_port, cache, args.revocations,
                                             args.wait, args.ready_timeout))
        sent = run_sentinel(procs, binary, upstream_port, args.ready_timeout) if args.sentinel else None
        text = report(args, binary, props, sent, sentinel_note, started)
        print(text)
        if args.report:
            with open(args.report, "w") as f:
                f.write(text + "\n")
            log(f"report written to {args.report}")
        return 0
    except SetupError as e:
        log(f"error: {e}")
        return 1
    except (KeyboardInterrupt, Interrupted):
        log("interrupted, stopping everything")
        return 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        procs.stop_all()
        if args.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
