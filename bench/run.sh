#!/usr/bin/env bash
# `make bench`: measure Portcullis against nginx and HAProxy on this machine.
#
# Starts, all on 127.0.0.1 and inside one temp dir:
#   - an upstream: nginx serving a fixed ~300-byte JSON, one worker;
#   - a reference proxy: nginx as a plain reverse proxy (one worker, upstream
#     keepalive) in front of that upstream;
#   - the peer: HAProxy, one thread, checking the same HS256 token as the
#     Portcullis HS256 rows with jwt_verify (alg pinned to HS256, exp checked,
#     no revocation) in front of the same upstream;
#   - Portcullis (release build) in front of the same upstream, once per
#     row: HS256 with the embedded store and with Redis, each with 1,000 and
#     with 1,000,000 revoked jtis; HS256 with 10,000 distinct tokens rotated by
#     wrk (bench/rotate_tokens.lua); RS256 and ES256 (one repeated token);
#     HS256 with two event-loop threads.
# Drives each with wrk (same connections, bounded duration, warm-up first) and
# prints one table: req/s, p50, p99, RSS, CPU time per request of the server
# under test (and of the upstream), errors, and throughput as a ratio to the
# nginx proxy and to the HAProxy row, p99 as a ratio to the nginx proxy, all
# measured in the same run — absolute numbers depend on the machine, the
# ratios are what can be compared across machines. Below the
# table, the checks: RSS against a target, revocation-check cost 1k vs 1M
# entries, two threads vs one, and allocations per request (an extra pass with
# an LD_PRELOAD malloc counter, bench/malloc_count.c) against a budget.
# The report is also written, with the machine and settings, to bench/last-run.md.
#
# Rows are declared in define_rows below; adding a row is one line there.
# One row puts nginx with auth_request in front of the upstream and Portcullis's
# forward-auth listener (authz.listen) behind it: a team keeping nginx.
#
# Settings (environment):
#   BENCH_DURATION=10       seconds of each measured wrk run
#   BENCH_WARMUP=2          seconds of unmeasured wrk run before each measured one (0: none)
#   BENCH_CONNECTIONS=64    wrk -c, the same for every row
#   BENCH_WRK_THREADS=1     wrk -t
#   BENCH_ROUNDS=1          >1: run all rows, then all rows again...; report the median per row
#   BENCH_ONLY=REGEX        only rows whose name matches (case-insensitive ERE); the
#                           reference row "nginx proxy" and the peer row "haproxy
#                           jwt_verify HS256" always run. e.g. BENCH_ONLY=nginx
#   BENCH_SKIP_BUILD=1      do not run `swift build -c release --product portcullis`
#   BENCH_BINARY=PATH       Portcullis executable (default .build/release/portcullis)
#   BENCH_READY_TIMEOUT=60  seconds to wait for Portcullis /readyz
#   BENCH_PIN=0             do not pin wrk and the servers to separate CPUs
#   BENCH_REPORT=PATH       where to write the Markdown report (default bench/last-run.md)
#   BENCH_NO_GIT=1          do not ask git for the commit (e.g. while the repo is busy)
#   BENCH_BULK_SEED_ABOVE=10000  rows with more revoked jtis than this (and --seed auto)
#                           are seeded in bulk before Portcullis starts: the embedded
#                           store's journal file written directly, Redis with
#                           redis-cli --pipe; up to this many go through the admin API
#   BENCH_RSS_TARGET_MB=64  RSS under load every Portcullis row is checked against
#   BENCH_FLAT_TOLERANCE=10 percent: 1M-entry rows within this of the 1k-entry rows'
#                           req/s count as "flat"
#   BENCH_ALLOC=0           skip the allocations-per-request pass
#   BENCH_PROPAGATION=0     skip bench/propagation.py (revocation propagation between two
#                           instances on one Redis, cache off and on; Sentinel failover time)
#   BENCH_ALLOC_BUDGET=N    allocation calls per proxied request allowed (PASS/OVER)
#   BENCH_DISTINCT_TOKENS=10000  how many distinct tokens the rotating-token row cycles through
#
# Exit status: 0; 1 on a setup failure; 3 when a row got non-2xx/3xx answers
# (its req/s would measure error responses, not the proxy).

set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")

DURATION=${BENCH_DURATION:-10}
WARMUP=${BENCH_WARMUP:-2}
CONNECTIONS=${BENCH_CONNECTIONS:-64}
WRK_THREADS=${BENCH_WRK_THREADS:-1}
ROUNDS=${BENCH_ROUNDS:-1}
ONLY=${BENCH_ONLY:-}
SKIP_BUILD=${BENCH_SKIP_BUILD:-0}
BINARY=${BENCH_BINARY:-$ROOT/.build/release/portcullis}
READY_TIMEOUT=${BENCH_READY_TIMEOUT:-60}
PIN=${BENCH_PIN:-1}
REPORT=${BENCH_REPORT:-$HERE/last-run.md}
NO_GIT=${BENCH_NO_GIT:-0}
BULK_SEED_ABOVE=${BENCH_BULK_SEED_ABOVE:-10000}
RSS_TARGET_MB=${BENCH_RSS_TARGET_MB:-64}
FLAT_TOLERANCE=${BENCH_FLAT_TOLERANCE:-10}
ALLOC=${BENCH_ALLOC:-1}
PROPAGATION=${BENCH_PROPAGATION:-1}
# Measured 2026-11-23 on the 2-vCPU reference machine (HS256, memory store, 1k
# revoked): 25.4 allocation calls per request; the budget leaves
# a little room for noise (idle background, connection setup) and no more.
ALLOC_BUDGET=${BENCH_ALLOC_BUDGET:-28}
DISTINCT_TOKENS=${BENCH_DISTINCT_TOKENS:-10000}

# Every other row's ratios are relative to this one.
REFERENCE_ROW="nginx proxy"
# The peer: every row's throughput is also given relative to this one.
PEER_ROW="haproxy jwt_verify HS256"

# The upstream's answer: a fixed JSON object of 299 bytes, a typical small API reply.
UPSTREAM_BODY='{"id":"7f3c2a9e-5b1d-4c8e-9a6f-2d4b8e1c3f70","object":"account","status":"active","owner":{"name":"Ada Lovelace","email":"ada@example.com"},"plan":{"name":"team","seats":25,"renews_at":"2025-12-01T00:00:00Z"},"features":["sso","audit_log","webhooks"],"usage":{"requests_today":18234,"quota":100000}}'

log() { printf 'bench: %s\n' "$*" >&2; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }

for setting in DURATION CONNECTIONS WRK_THREADS ROUNDS READY_TIMEOUT RSS_TARGET_MB ALLOC_BUDGET DISTINCT_TOKENS; do
    [[ ${!setting} =~ ^[1-9][0-9]*$ ]] || die "BENCH_$setting must be a positive integer, got '${!setting}'"
done
[[ $WARMUP =~ ^[0-9]+$ ]] || die "BENCH_WARMUP must be a whole number of seconds, got '$WARMUP'"
[[ $BULK_SEED_ABOVE =~ ^[0-9]+$ ]] || die "BENCH_BULK_SEED_ABOVE must be a whole number, got '$BULK_SEED_ABOVE'"
[[ $FLAT_TOLERANCE =~ ^[0-9]+$ ]] || die "BENCH_FLAT_TOLERANCE must be a whole number of percent, got '$FLAT_TOLERANCE'"
((CONNECTIONS >= WRK_THREADS)) || die "BENCH_CONNECTIONS must be >= BENCH_WRK_THREADS"

# Portcullis reads PORTCULLIS_* from the environment on top of its config file
# (and rejects unknown ones); a stray variable in the caller's shell must not
# change what is measured.
for var in "${!PORTCULLIS_@}"; do unset "$var"; done

# ---------------------------------------------------------------------------
# Processes and cleanup: everything started is killed on any exit.

TMP=$(mktemp -d "${TMPDIR:-/tmp}/portcullis-bench.XXXXXX")
STARTED_PIDS=()
WRK_PID=""

# The processes (a space-separated list) and all their descendants (nginx master
# -> workers; the auth_request row measures nginx and Portcullis together).
tree_pids() {
    local root child
    for root in $1; do
        printf '%s\n' "$root"
        for child in $(pgrep -P "$root" || true); do tree_pids "$child"; done
    done
}

cleanup() {
    local pid pids=() _
    [[ -n $WRK_PID ]] && pids+=("$WRK_PID")
    for pid in "${STARTED_PIDS[@]}"; do
        # Collect workers now: if the master has to be SIGKILLed they would be orphaned.
        mapfile -t -O "${#pids[@]}" pids < <(tree_pids "$pid")
    done
    if ((${#pids[@]})); then
        kill -TERM "${pids[@]}" 2>/dev/null || true
        # nginx stops at once on TERM; Portcullis drains first. Give both ~5s.
        for _ in $(seq 50); do
            kill -0 "${pids[@]}" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "${pids[@]}" 2>/dev/null || true
        wait 2>/dev/null || true
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'log "interrupted, stopping everything"; exit 130' INT
trap 'log "terminated, stopping everything"; exit 143' TERM

# ---------------------------------------------------------------------------
# Tools

SUDO=()
[[ $(id -u) == 0 ]] || SUDO=(sudo)

apt_install() {
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >&2
}

ensure_tools() {
    local missing=()
    # Debian puts nginx in /usr/sbin, which a non-root PATH may lack.
    [[ :$PATH: == *:/usr/sbin:* ]] || PATH=$PATH:/usr/sbin
    if ! command -v nginx >/dev/null; then
        # nginx-light is the small build; newer Debian only has nginx.
        if apt-cache show nginx-light >/dev/null 2>&1; then missing+=(nginx-light); else missing+=(nginx); fi
    fi
    command -v wrk >/dev/null || missing+=(wrk)
    command -v curl >/dev/null || missing+=(curl)
    command -v python3 >/dev/null || missing+=(python3)
    command -v pgrep >/dev/null || missing+=(procps)
    command -v openssl >/dev/null || missing+=(openssl)
    # redis-tools: redis-cli, for bulk seeding (--pipe) and readiness checks.
    command -v redis-server >/dev/null || missing+=(redis-server)
    command -v redis-cli >/dev/null || missing+=(redis-tools)
    command -v cc >/dev/null || missing+=(gcc libc6-dev)
    # The peer row; Debian 12 has 2.6, which has jwt_verify.
    command -v haproxy >/dev/null || missing+=(haproxy)
    ((${#missing[@]})) || return 0
    log "installing ${missing[*]}"
    if ! apt_install "${missing[@]}"; then
        # Usually stale or absent package lists (fresh container); refresh once.
        log "install failed; running apt-get update and retrying"
        "${SUDO[@]}" apt-get update -q >&2
        apt_install "${missing[@]/#nginx-light/nginx}"
    fi
    if ! { command -v nginx && command -v wrk && command -v haproxy; } >/dev/null; then
        die "nginx, wrk or haproxy still missing after installing ${missing[*]}"
    fi
}

# ---------------------------------------------------------------------------
# CPU pinning: the reference methodology is "wrk -c64 on one core, every
# server process pinned to the other", so load generator and servers do not
# steal each other's CPU and every row gets the same single server core.

#
# A row with two event-loop threads needs two CPUs for Portcullis. It gets
# the servers' CPU 1 plus CPU 2 when there is one; on a 2-CPU machine the only
# second CPU is wrk's, so that row's Portcullis runs on CPUs 0-1 and shares
# wrk's core — it cannot show scaling there (the report says so).
CPUS=$(nproc)
WRK_PIN=()
SERVER_PIN=()
WIDE_PIN=()
PIN_NOTE="none"
WIDE_NOTE="not pinned"
if [[ $PIN == 1 ]] && command -v taskset >/dev/null && ((CPUS >= 2)); then
    WRK_PIN=(taskset -c 0)
    SERVER_PIN=(taskset -c 1)
    PIN_NOTE="wrk on CPU 0, every server process (upstream included) on CPU 1"
    if ((CPUS >= 3)); then
        WIDE_PIN=(taskset -c 1-2)
        WIDE_NOTE="Portcullis on CPUs 1-2 (CPU 1 shared with the upstream), wrk alone on CPU 0"
    else
        WIDE_PIN=(taskset -c 0-1)
        WIDE_NOTE="Portcullis on CPUs 0-1, sharing CPU 0 with wrk and CPU 1 with the upstream"
    fi
    PIN_NOTE+="; multi-thread rows: $WIDE_NOTE"
fi

# ---------------------------------------------------------------------------
# Small helpers

USED_PORTS=" "
# free_port VAR: a currently free loopback port, never one handed out before
# in this run (the kernel may offer the same ephemeral port twice).
# (The local has an unusual name so it cannot shadow the caller's VAR.)
free_port() {
    local free_port_candidate
    while :; do
        free_port_candidate=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
        [[ $USED_PORTS == *" $free_port_candidate "* ]] || break
    done
    USED_PORTS+="$free_port_candidate "
    printf -v "$1" '%s' "$free_port_candidate"
}

# short_count N: 10000 -> 10k, 1000000 -> 1M, 1234 -> 1234 (for row names).
short_count() {
    if (($1 % 1000000 == 0)); then echo "$(($1 / 1000000))M"
    elif (($1 % 1000 == 0)); then echo "$(($1 / 1000))k"
    else echo "$1"; fi
}

random_hex() { python3 -c "import secrets; print(secrets.token_hex($1))"; }

# http_status URL [curl args...]: the status code, 000 when nothing answered.
http_status() {
    curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@" || true
}

# wait_for_http WHAT PID URL TIMEOUT LOGFILE [STATUS]: until URL answers
# STATUS (200); fail clearly, with the log's tail, if the process dies or the
# time runs out.
wait_for_http() {
    local what=$1 pid=$2 url=$3 timeout=$4 logfile=$5 expected=${6:-200} deadline status
    deadline=$((SECONDS + timeout))
    while :; do
        status=$(http_status "$url")
        [[ $status == "$expected" ]] && return 0
        if ! kill -0 "$pid" 2>/dev/null; then
            log "$what exited before $url answered; last lines of $logfile:"
            tail -n 30 "$logfile" >&2 || true
            die "$what did not start"
        fi
        if ((SECONDS >= deadline)); then
            log "$what: $url still answers '$status', not $expected, after ${timeout}s; last lines of $logfile:"
            tail -n 30 "$logfile" >&2 || true
            die "$what never became ready"
        fi
        sleep 0.2
    done
}

# Sum of VmRSS (kB) over a process and its descendants (nginx: master + workers).
tree_rss_kb() {
    local total=0 pid kb
    for pid in $(tree_pids "$1"); do
        kb=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
        total=$((total + ${kb:-0}))
    done
    printf '%s\n' "$total"
}

# CPU time used so far by a process and its descendants (nginx: master +
# workers; Portcullis: all its threads), as "USER SYS" in clock ticks
# (CLK_TCK per second): utime and stime, fields 14 and 15 of /proc/PID/stat.
# The comm field (2) may hold spaces, so fields are counted after its ")".
CLK_TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)
tree_cpu_ticks() {
    local user=0 sys=0 pid stat rest fields=()
    for pid in $(tree_pids "$1"); do
        stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
        rest=${stat##*) }
        # rest starts at field 3 (state): utime is its 12th word, stime its 13th.
        read -r -a fields <<<"$rest"
        user=$((user + fields[11]))
        sys=$((sys + fields[12]))
    done
    printf '%s %s\n' "$user" "$sys"
}

# ---------------------------------------------------------------------------
# HS256 tokens: one secret and one token shared by every HS* Portcullis row
# and the HAProxy row, so the peer checks exactly what Portcullis checks.
# bench/mint_tokens.py signs in `portcullis mint`'s claim shape
# (sub, type, fresh, iat, exp, jti); 64 hex characters are a key long enough
# for HS256/384/512 (the UTF-8 bytes of the string are the key, for both).

HS_SECRET=""
HS_TOKEN=""
# 24 h: a long run (several rounds of the 1M rows) must not outlive its token.
TOKEN_TTL=86400
ensure_hs_token() {
    [[ -z $HS_TOKEN ]] || return 0
    HS_SECRET=$(random_hex 32)
    HS_TOKEN=$(mint_hs) || die "bench/mint_tokens.py failed"
}

# mint_hs [mint_tokens.py options...]: tokens for HS_SECRET on stdout.
mint_hs() {
    python3 "$HERE/mint_tokens.py" --secret "$HS_SECRET" --ttl "$TOKEN_TTL" "$@"
}

# refusal_checks WHAT URL STATUS: before a checking proxy is measured, a token
# that must not pass gets STATUS (its documented refusal), never the
# upstream's 200 — so a row cannot be fast by not checking. Against HS_SECRET:
# a bad signature, an expired token, a token labelled HS384 (signed HS384), a
# token labelled HS512 whose signature is a valid HS256 one (only an alg pin
# refuses it) and alg "none". (A request without a token is checked by the
# callers: HAProxy answers it 401 too, Portcullis 401 where these get 422.)
refusal_checks() {
    local what=$1 url=$2 expected=$3 kind token status args
    for kind in "a bad signature" "an expired exp" "alg HS384" \
        "alg HS512 over an HS256 signature" "alg none"; do
        case $kind in
            "a bad signature") args=(--tamper) ;;
            "an expired exp") args=(--ttl -60) ;;
            "alg HS384") args=(--alg HS384) ;;
            "alg HS512 over an HS256 signature") args=(--alg HS512 --sign-as HS256) ;;
            "alg none") args=(--alg none) ;;
        esac
        token=$(mint_hs "${args[@]}") || die "bench/mint_tokens.py failed"
        status=$(http_status -H "Authorization: Bearer $token" "$url")
        [[ $status == "$expected" ]] ||
            die "$what: a request with $kind got $status, expected $expected; it does not check what it should, nothing measured"
    done
}

# ---------------------------------------------------------------------------
# nginx: upstream and reference proxy

NGINX_BUILD_FLAGS=""
nginx_temp_paths() {  # nginx_temp_paths NAME: temp dirs inside TMP, not the packaged /var/lib/nginx
    local name=$1 module
    printf '    client_body_temp_path %s;\n' "$TMP/nginx-$name-temp/client_body"
    printf '    proxy_temp_path %s;\n' "$TMP/nginx-$name-temp/proxy"
    # Only for modules this nginx was built with: an unknown directive is fatal.
    for module in fastcgi uwsgi scgi; do
        [[ $NGINX_BUILD_FLAGS == *"--without-http_${module}_module"* ]] ||
            printf '    %s_temp_path %s;\n' "$module" "$TMP/nginx-$name-temp/$module"
    done
}

# start_nginx NAME HTTP_BLOCK_BODY: sets NGINX_PID.
start_nginx() {
    local name=$1 http_body=$2 conf=$TMP/nginx-$1.conf
    [[ -n $NGINX_BUILD_FLAGS ]] || NGINX_BUILD_FLAGS=$(nginx -V 2>&1)
    mkdir -p "$TMP/nginx-$name-temp"
    cat >"$conf" <<EOF
daemon off;
master_process on;
worker_processes 1;
error_log $TMP/nginx-$name-error.log warn;
pid $TMP/nginx-$name.pid;
events { worker_connections 4096; }
http {
    access_log off;
$(nginx_temp_paths "$name")
    # nginx closes a client connection after 1000 requests by default, which
    # would make wrk reconnect all the time; measure steady keep-alive instead.
    keepalive_requests 1000000;
    keepalive_timeout 300s;
$http_body
}
EOF
    # -e: the error log before the config is read would otherwise go to /var/log/nginx.
    "${SERVER_PIN[@]}" nginx -p "$TMP/" -e "$TMP/nginx-$name-error.log" -c "$conf" \
        >"$TMP/nginx-$name.out" 2>&1 &
    NGINX_PID=$!
    STARTED_PIDS+=("$NGINX_PID")
}

UPSTREAM_PID=""
UPSTREAM_PORT=""
ensure_upstream() {
    [[ -z $UPSTREAM_PID ]] || return 0
    free_port UPSTREAM_PORT
    start_nginx upstream "    server {
        listen 127.0.0.1:$UPSTREAM_PORT;
        location / {
            default_type application/json;
            return 200 '$UPSTREAM_BODY';
        }
    }"
    UPSTREAM_PID=$NGINX_PID
    wait_for_http "upstream nginx" "$UPSTREAM_PID" "http://127.0.0.1:$UPSTREAM_PORT/" 10 \
        "$TMP/nginx-upstream-error.log"
}

PROXY_PID=""
PROXY_PORT=""
ensure_nginx_proxy() {
    [[ -z $PROXY_PID ]] || return 0
    ensure_upstream
    free_port PROXY_PORT
    start_nginx proxy "    upstream upstream_pool {
        server 127.0.0.1:$UPSTREAM_PORT;
        keepalive 64;
        keepalive_requests 1000000;
    }
    server {
        listen 127.0.0.1:$PROXY_PORT;
        location / {
            proxy_pass http://upstream_pool;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
        }
    }"
    PROXY_PID=$NGINX_PID
    wait_for_http "nginx proxy" "$PROXY_PID" "http://127.0.0.1:$PROXY_PORT/" 10 \
        "$TMP/nginx-proxy-error.log"
}

# ---------------------------------------------------------------------------
# HAProxy: the peer. One thread, on the servers' CPU, in front of the same
# upstream with server-side keep-alive (connections reused across clients,
# like nginx's keepalive pool). Per request: the bearer token from
# Authorization; its header's alg must be exactly HS256; jwt_verify with HS256
# and the shared secret must return 1; exp (as an integer) must be later than
# now. Anything else is denied with 401. No revocation: HAProxy has no store.

HAPROXY_PID=""
HAPROXY_PORT=""
ensure_haproxy() {
    [[ -z $HAPROXY_PID ]] || return 0
    ensure_upstream
    ensure_hs_token
    free_port HAPROXY_PORT
    local conf=$TMP/haproxy.cfg
    # The secret is hex, so it needs no escaping inside the double quotes.
    cat >"$conf" <<EOF
global
    nbthread 1
    maxconn 4096
    pidfile $TMP/haproxy.pid

defaults
    mode http
    timeout connect 5s
    timeout client 300s
    timeout server 300s
    timeout http-keep-alive 300s
    http-reuse always

frontend jwt
    bind 127.0.0.1:$HAPROXY_PORT
    http-request set-var(txn.bearer) http_auth_bearer
    http-request set-var(txn.jwt_alg) var(txn.bearer),jwt_header_query('\$.alg')
    http-request deny deny_status 401 unless { var(txn.jwt_alg) -m str HS256 }
    http-request deny deny_status 401 unless { var(txn.bearer),jwt_verify("HS256","$HS_SECRET") -m int 1 }
    http-request set-var(txn.now) date
    http-request set-var(txn.exp_left) var(txn.bearer),jwt_payload_query('\$.exp','int'),sub(txn.now)
    http-request deny deny_status 401 unless { var(txn.exp_left) -m int gt 0 }
    default_backend upstream

backend upstream
    server upstream 127.0.0.1:$UPSTREAM_PORT
EOF
    haproxy -c -q -f "$conf" >"$TMP/haproxy-check.log" 2>&1 ||
        die "haproxy rejects its configuration: $(cat "$TMP/haproxy-check.log")"
    # -db: foreground, no master process: the PID is the one process serving.
    "${SERVER_PIN[@]}" haproxy -db -f "$conf" >"$TMP/haproxy.log" 2>&1 &
    HAPROXY_PID=$!
    STARTED_PIDS+=("$HAPROXY_PID")
    # Without a token it must already refuse; that also waits for the listener.
    wait_for_http "haproxy" "$HAPROXY_PID" "http://127.0.0.1:$HAPROXY_PORT/" 10 "$TMP/haproxy.log" 401
    refusal_checks "haproxy" "http://127.0.0.1:$HAPROXY_PORT/" 401
}

# haproxy_row NAME
haproxy_row() {
    local name=$1 version
    row_selected "$name" || return 0
    ensure_haproxy
    bench_row "$name" "$HAPROXY_PID" "http://127.0.0.1:$HAPROXY_PORT/" -H "Authorization: Bearer $HS_TOKEN"
    version=$(haproxy -v 2>/dev/null | awk 'NR == 1 { print $3 }')
    ROW_NOTES+=("$name: HAProxy $version, nbthread 1, server keep-alive (http-reuse always); http_auth_bearer, \`jwt_header_query('\$.alg')\` must be HS256, \`jwt_verify(\"HS256\", secret)\` must be 1, \`exp\` must be after now; no revocation. Same secret and token as the Portcullis HS256 rows; checked before measuring to refuse (401) a bad signature, an expired token, alg HS384, alg HS512 over an HS256 signature, alg none and no token")
}

# ---------------------------------------------------------------------------
# Portcullis

PORTCULLIS_CHECKED=""
ensure_portcullis_binary() {
    [[ -z $PORTCULLIS_CHECKED ]] || return 0
    if [[ $SKIP_BUILD != 1 ]]; then
        command -v swift >/dev/null || die "swift not found; build elsewhere and set BENCH_SKIP_BUILD=1 BENCH_BINARY=..."
        log "building: swift build -c release --product portcullis"
        (cd "$ROOT" && swift build -c release --product portcullis) >&2
    fi
    [[ -x $BINARY ]] || die "no Portcullis executable at $BINARY (build it, or set BENCH_BINARY)"
    local help
    help=$("$BINARY" --help 2>&1 || true)
    if ! { grep -qw serve <<<"$help" && grep -qw mint <<<"$help"; }; then
        die "$BINARY --help lists no 'serve' and 'mint' subcommands; the benchmark needs both"
    fi
    PORTCULLIS_CHECKED=1
}

# start_portcullis ID ALG STORE THREADS REVOKED SEED PIN_KIND [COUNTER_FILE]: a
# Portcullis in front of the upstream with a fresh key, REVOKED other jtis in
# its store (SEED: api = through the admin API after start; bulk = journal file
# or redis-cli --pipe before start), and a token minted for it. PIN_KIND:
# servers (CPU 1 with the other servers) or wide (two CPUs, see above).
# COUNTER_FILE: run it under the malloc_count.so preload, counting there.
# HS* rows use the shared HS_SECRET and measure with HS_TOKEN (the HAProxy
# row's token); `portcullis mint` must still produce a token that passes.
# Sets PC_PID, PC_PORT, PC_TOKEN, PC_READY_SECONDS, PC_SEED_NOTE.
start_portcullis() {
    local id=$1 alg=$2 store=$3 threads=$4 revoked=$5 seed=$6 pin_kind=$7 counter_file=${8:-}
    local dir=$TMP/portcullis-$id port admin_port admin_token jwt_yaml store_yaml token status
    local redis_port="" started ready_timeout
    mkdir -p "$dir"
    free_port port
    free_port admin_port
    admin_token=$(random_hex 16)

    local mint_args=()
    case $alg in
        HS256 | HS384 | HS512)
            ensure_hs_token
            jwt_yaml="{ algorithms: [$alg], secret: \"$HS_SECRET\" }"
            ;;
        RS256 | RS384 | RS512 | PS256 | PS384 | PS512 | ES256 | ES384 | ES512 | EdDSA)
            # A fresh key pair; the gate gets the public half, `mint` signs with the private one.
            case $alg in
                RS* | PS*) openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$dir/private.pem" 2>/dev/null ;;
                ES256) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/private.pem" ;;
                ES384) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$dir/private.pem" ;;
                ES512) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-521 -out "$dir/private.pem" ;;
                EdDSA) openssl genpkey -algorithm ED25519 -out "$dir/private.pem" ;;
            esac || die "row $id: openssl could not make a $alg key"
            openssl pkey -in "$dir/private.pem" -pubout -out "$dir/public.pem" || die "row $id: openssl pkey failed"
            jwt_yaml="{ algorithms: [$alg], public_key_file: \"$dir/public.pem\" }"
            mint_args=(--private-key-file "$dir/private.pem")
            ;;
        *) die "row $id: unknown algorithm $alg" ;;
    esac

    local seed_args=(--count "$revoked" --prefix bench-revoked-)
    PC_SEED_NOTE="none revoked"
    case $store in
        memory)
            store_yaml="{ store: memory, file: \"$dir/revocations.log\" }"
            if ((revoked > 0)) && [[ $seed == bulk ]]; then
                # Written before start; Portcullis replays (and compacts) it while starting.
                python3 "$HERE/seed_revocations.py" --mode journal --journal "$dir/revocations.log" "${seed_args[@]}" ||
                    die "row $id: could not write the revocation journal"
                PC_SEED_NOTE="revocation.file written before start"
            fi
            ;;
        redis|redis-cache)
            # Its own redis-server, on the servers' CPU like every other server process.
            # redis-cache: the same with revocation.local_cache: tracking.
            free_port redis_port
            (cd "$dir" && exec "${SERVER_PIN[@]}" redis-server --port "$redis_port" --bind 127.0.0.1 \
                --save "" --appendonly no --dir "$dir") >"$dir/redis.log" 2>&1 &
            STARTED_PIDS+=("$!")
            local tries=0
            until redis-cli -p "$redis_port" ping 2>/dev/null | grep -q PONG; do
                ((++tries < 100)) || die "row $id: redis-server did not start (see $dir/redis.log)"
                sleep 0.05
            done
            # The key template is the default, written out so the seeder and Portcullis agree.
            local cache_yaml=""
            [[ $store == redis-cache ]] && cache_yaml=", local_cache: tracking"
            store_yaml="{ store: redis, redis_url: \"redis://127.0.0.1:$redis_port/0\", jti_key: \"portcullis:jti:{jti}\"$cache_yaml }"
            if ((revoked > 0)) && [[ $seed == bulk ]]; then
                # The SETs the store's revoke sends (SET key 1 EX ttl), pipelined.
                python3 "$HERE/seed_revocations.py" --mode redis --key-template "portcullis:jti:{jti}" "${seed_args[@]}" |
                    redis-cli -p "$redis_port" --pipe >"$dir/redis-pipe.log" 2>&1 ||
                    die "row $id: redis-cli --pipe failed: $(tail -n 5 "$dir/redis-pipe.log")"
                grep -q "errors: 0, replies: $revoked\$" "$dir/redis-pipe.log" ||
                    die "row $id: redis-cli --pipe: $(tail -n 3 "$dir/redis-pipe.log")"
                status=$(redis-cli -p "$redis_port" dbsize)
                [[ $status == "$revoked" ]] || die "row $id: Redis holds $status keys after seeding $revoked"
                PC_SEED_NOTE="redis-cli --pipe before start"
            fi
            ;;
        *) die "row $id: unknown store $store" ;;
    esac

    # log level info: one line at start reports what the store loaded; nothing
    # is logged per request at info.
    cat >"$dir/portcullis.yaml" <<YAML
proxy: { listen: "127.0.0.1:$port", upstream: "http://127.0.0.1:$UPSTREAM_PORT", threads: $threads }
jwt: $jwt_yaml
revocation: $store_yaml
admin: { listen: "127.0.0.1:$admin_port", token: "$admin_token" }
log: { level: info }
${PC_EXTRA_YAML:-}
YAML
    # --routes N: N-1 routes the measured path does not match, then a catch-all that decides,
    # so every request walks the whole table (the worst case).
    if ((${PO_ROUTES:-0} > 0)); then
        {
            echo "routes:"
            local r
            for ((r = 1; r < PO_ROUTES; r++)); do echo "  - { path: \"/api/v$r/*\", methods: [GET, POST], scopes: [\"api:v$r\"] }"; done
            echo "  - { path: \"/*\", token_type: access }"
        } >>"$dir/portcullis.yaml"
    fi
    (umask 077 && printf '%s\n' "$admin_token" >"$dir/admin-token")

    local pin=("${SERVER_PIN[@]}") env=()
    [[ $pin_kind == wide ]] && pin=("${WIDE_PIN[@]}")
    [[ -n $counter_file ]] && env=(env "MALLOC_COUNT_FILE=$counter_file" "LD_PRELOAD=$MALLOC_COUNT_SO")
    # Replaying a large journal takes a while (it is parsed line by line at start).
    ready_timeout=$READY_TIMEOUT
    [[ $store == memory && $seed == bulk ]] && ready_timeout=$((READY_TIMEOUT + revoked / 2000))
    started=$SECONDS
    # cwd in the temp dir so any file Portcullis writes by default stays there.
    (cd "$dir" && exec "${env[@]}" "${pin[@]}" "$BINARY" serve --config "$dir/portcullis.yaml") \
        >"$dir/serve.log" 2>&1 &
    PC_PID=$!
    STARTED_PIDS+=("$PC_PID")
    ((revoked > 100000)) && log "portcullis ($id): starting with $revoked revoked jtis (${PC_SEED_NOTE}); this takes a while"
    wait_for_http "portcullis ($id)" "$PC_PID" "http://127.0.0.1:$admin_port/readyz" \
        "$ready_timeout" "$dir/serve.log"
    # Also waits for the proxy listener, which may open after the admin one.
    # And a proxy that lets everything through would be fast for the wrong reason.
    wait_for_http "portcullis ($id) proxy, request without a token" "$PC_PID" \
        "http://127.0.0.1:$port/" 10 "$dir/serve.log" 401
    PC_READY_SECONDS=$((SECONDS - started))
    grep -q "event_loop_threads=$threads " "$dir/serve.log" ||
        die "portcullis ($id): serve.log does not report event_loop_threads=$threads: $(grep -m1 event_loop_threads "$dir/serve.log")"

    token=$("$BINARY" mint --config "$dir/portcullis.yaml" "${mint_args[@]}" --sub bench-user --ttl 1h 2>"$dir/mint.err") ||
        die "portcullis mint failed: $(cat "$dir/mint.err")"
    token=${token//[[:space:]]/}
    [[ $token =~ ^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$ ]] ||
        die "portcullis mint did not print one JWT; got: ${token:0:200}"
    if [[ $alg == HS256 ]]; then
        # The same bad tokens HAProxy must refuse; Portcullis answers them 422.
        refusal_checks "portcullis ($id)" "http://127.0.0.1:$port/" 422
        status=$(http_status -H "Authorization: Bearer $token" "http://127.0.0.1:$port/")
        [[ $status == 200 ]] || die "portcullis ($id): the token from portcullis mint got $status, expected 200"
        # Measured with the token the HAProxy row uses (mint_tokens.py, mint's claim shape).
        token=$HS_TOKEN
    fi

    if ((revoked > 0)); then
        if [[ $seed == api ]]; then
            python3 "$HERE/seed_revocations.py" --mode api --admin "127.0.0.1:$admin_port" \
                --token-file "$dir/admin-token" "${seed_args[@]}"
            PC_SEED_NOTE="admin API after start"
        elif [[ $store == memory ]]; then
            # The replay must have loaded every line written.
            grep -q "entries=$revoked .*revocation store ready" "$dir/serve.log" ||
                die "portcullis ($id): the store did not load $revoked entries from the journal: $(grep -m1 'revocation store ready' "$dir/serve.log")"
        fi
        status=$(http_status -H "Authorization: Bearer $admin_token" \
            "http://127.0.0.1:$admin_port/v1/revocations/bench-revoked-$((revoked - 1))")
        [[ $status == 200 ]] || die "portcullis ($id): a seeded revocation is not found (GET -> $status)"
        # The store must really be consulted: a token carrying a seeded jti is refused.
        # (`mint --jti` is beyond the contract; skip the check on a build without it.)
        local mint_help revoked_token
        mint_help=$("$BINARY" mint --help 2>&1 || true)
        if [[ $mint_help == *--jti* ]]; then
            revoked_token=$("$BINARY" mint --config "$dir/portcullis.yaml" "${mint_args[@]}" --sub bench-user --ttl 1h \
                --jti bench-revoked-0 2>>"$dir/mint.err") || die "portcullis mint --jti failed: $(cat "$dir/mint.err")"
            revoked_token=${revoked_token//[[:space:]]/}
            status=$(http_status -H "Authorization: Bearer $revoked_token" "http://127.0.0.1:$port/")
            [[ $status == 401 ]] || die "portcullis ($id): a token with a revoked jti got $status, expected 401"
        else
            log "portcullis ($id): mint has no --jti; not checking that a revoked jti is refused"
        fi
    fi

    PC_PORT=$port
    PC_TOKEN=$token
}

# ---------------------------------------------------------------------------
# Rows

ROW_NAMES=()
ROW_PIDS=()
ROW_URLS=()
ROW_ARGS=()   # extra wrk arguments, shell-quoted for eval
ROW_NOTES=()  # what each row is, for the report

# The reference and the peer always run: every row's ratios need them.
row_selected() {
    [[ $1 == "$REFERENCE_ROW" || $1 == "$PEER_ROW" || -z $ONLY ]] || grep -Eiq -- "$ONLY" <<<"$1"
}

# bench_row NAME PID URL [wrk args...]: measure URL, sampling the RSS and the
# CPU time of PID (and its children). Extra args go to wrk as they are (-H ...,
# -s script.lua). The row must answer 200 with those headers before it is
# measured; when the token comes from a script instead, set ROW_CHECK_TOKEN
# to one it sends (it is used once and cleared).
ROW_CHECK_TOKEN=""
bench_row() {
    local name=$1 pid=$2 url=$3 status
    shift 3
    local curl_args=() args=("$@") i
    for ((i = 0; i < ${#args[@]}; i++)); do
        if [[ ${args[i]} == -H || ${args[i]} == --header ]]; then
            curl_args+=(-H "${args[i + 1]}")
        fi
    done
    [[ -z $ROW_CHECK_TOKEN ]] || curl_args+=(-H "Authorization: Bearer $ROW_CHECK_TOKEN")
    ROW_CHECK_TOKEN=""
    status=$(http_status "${curl_args[@]}" "$url")
    if [[ $status != 200 ]]; then
        log "row '$name': $url answered $status before the run, expected 200; body:"
        curl -s --max-time 5 "${curl_args[@]}" "$url" | head -c 500 >&2 || true
        echo >&2
        die "row '$name' is not serving; nothing measured"
    fi
    ROW_NAMES+=("$name")
    ROW_PIDS+=("$pid")
    ROW_URLS+=("$url")
    # printf with no arguments would still print one empty, quoted word.
    if (($#)); then ROW_ARGS+=("$(printf '%q ' "$@")"); else ROW_ARGS+=(""); fi
}

# nginx_row NAME upstream|proxy
nginx_row() {
    local name=$1 which=$2
    row_selected "$name" || return 0
    case $which in
        upstream)
            ensure_upstream
            bench_row "$name" "$UPSTREAM_PID" "http://127.0.0.1:$UPSTREAM_PORT/"
            ROW_NOTES+=("$name: nginx return 200 with a fixed 299-byte JSON, 1 worker")
            ;;
        proxy)
            ensure_nginx_proxy
            bench_row "$name" "$PROXY_PID" "http://127.0.0.1:$PROXY_PORT/"
            ROW_NOTES+=("$name: nginx proxy_pass to the upstream, 1 worker, upstream keepalive 64, HTTP/1.1")
            ;;
        *) die "nginx_row: unknown kind '$which'" ;;
    esac
}

# nginx_auth_request_row NAME: what a team keeping nginx would see. nginx (1 worker,
# like the reference proxy) with auth_request to Portcullis's forward-auth listener
# (HS256, memory store, 1k revoked, authz.deny_status: 401), in front of the same
# upstream; nginx copies X-Auth-Subject upstream. CPU and RSS are nginx's and
# Portcullis's together.
nginx_auth_request_row() {
    local name=$1 authz_port port
    row_selected "$name" || return 0
    ensure_portcullis_binary
    ensure_upstream
    free_port authz_port
    PORTCULLIS_COUNT=$((PORTCULLIS_COUNT + 1))
    PC_EXTRA_YAML="authz: { listen: \"127.0.0.1:$authz_port\", deny_status: 401 }" \
        start_portcullis "$PORTCULLIS_COUNT" HS256 memory 1 1000 api servers
    free_port port
    start_nginx auth "    upstream upstream_pool {
        server 127.0.0.1:$UPSTREAM_PORT;
        keepalive 64;
        keepalive_requests 1000000;
    }
    upstream portcullis_authz {
        server 127.0.0.1:$authz_port;
        keepalive 64;
        keepalive_requests 1000000;
    }
    server {
        listen 127.0.0.1:$port;
        location / {
            auth_request /_portcullis;
            auth_request_set \$portcullis_subject \$upstream_http_x_auth_subject;
            proxy_set_header X-Auth-Subject \$portcullis_subject;
            proxy_pass http://upstream_pool;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
        }
        location = /_portcullis {
            internal;
            proxy_pass http://portcullis_authz;
            proxy_pass_request_body off;
            proxy_set_header Content-Length \"\";
            proxy_set_header X-Original-Method \$request_method;
            proxy_set_header X-Original-URI \$request_uri;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
        }
    }"
    # Without a token nginx must already refuse: the check really goes to Portcullis.
    wait_for_http "nginx auth_request" "$NGINX_PID" "http://127.0.0.1:$port/" 10 "$TMP/nginx-auth-error.log" 401
    bench_row "$name" "$NGINX_PID $PC_PID" "http://127.0.0.1:$port/" -H "Authorization: Bearer $PC_TOKEN"
    ROW_NOTES+=("$name: nginx (1 worker, upstream keepalive 64) auth_request to Portcullis's authz.listen (keepalive 64, X-Original-URI/-Method), HS256, memory store, 1k revoked jtis (seeded: $PC_SEED_NOTE), 1 event-loop thread, the HAProxy row's token; CPU and RSS are nginx's plus Portcullis's")
}

# portcullis_options ARGS...: parse portcullis_row's options into PO_*.
portcullis_options() {
    PO_ALG=HS256 PO_STORE=memory PO_THREADS=1 PO_REVOKED=1000 PO_SEED=auto PO_CPUS=servers PO_TOKENS=1 PO_ROUTES=0
    while (($#)); do
        (($# >= 2)) || die "portcullis_row: option '$1' needs a value"
        case $1 in
            --alg) PO_ALG=$2 ;;
            --store) PO_STORE=$2 ;;
            --threads) PO_THREADS=$2 ;;
            --revoked) PO_REVOKED=$2 ;;
            --seed) PO_SEED=$2 ;;
            --cpus) PO_CPUS=$2 ;;
            --tokens) PO_TOKENS=$2 ;;
            --routes) PO_ROUTES=$2 ;;
            *) die "portcullis_row: unknown option '$1'" ;;
        esac
        shift 2
    done
    [[ $PO_THREADS =~ ^[1-9][0-9]*$ ]] || die "portcullis_row: --threads must be a positive integer"
    [[ $PO_REVOKED =~ ^[0-9]+$ ]] || die "portcullis_row: --revoked must be a whole number"
    [[ $PO_TOKENS =~ ^[1-9][0-9]*$ ]] || die "portcullis_row: --tokens must be a positive integer"
    [[ $PO_TOKENS == 1 || $PO_ALG == HS256 ]] || die "portcullis_row: --tokens above 1 needs --alg HS256"
    case $PO_SEED in
        api | bulk) ;;
        auto) if ((PO_REVOKED > BULK_SEED_ABOVE)); then PO_SEED=bulk; else PO_SEED=api; fi ;;
        *) die "portcullis_row: --seed must be api, bulk or auto, got '$PO_SEED'" ;;
    esac
    case $PO_CPUS in
        servers | wide) ;;
        *) die "portcullis_row: --cpus must be servers or wide, got '$PO_CPUS'" ;;
    esac
}

# portcullis_row NAME [--alg HS256] [--store memory|redis] [--threads 1] [--revoked 1000]
#                     [--seed auto|api|bulk] [--cpus servers|wide] [--tokens 1]
# --seed auto: the admin API up to BENCH_BULK_SEED_ABOVE revoked jtis, bulk above.
# --cpus wide: Portcullis pinned to two CPUs (for --threads 2; see CPU pinning).
# --tokens N (HS256 only): wrk cycles through N distinct valid tokens, each
#   with its own jti, none revoked (bench/rotate_tokens.lua), instead of
#   repeating one.
PORTCULLIS_COUNT=0
portcullis_row() {
    local name=$1
    shift
    row_selected "$name" || return 0
    portcullis_options "$@"
    ensure_portcullis_binary
    ensure_upstream
    PORTCULLIS_COUNT=$((PORTCULLIS_COUNT + 1))
    start_portcullis "$PORTCULLIS_COUNT" "$PO_ALG" "$PO_STORE" "$PO_THREADS" "$PO_REVOKED" "$PO_SEED" "$PO_CPUS"
    local token_note="one token, repeated"
    if ((PO_TOKENS > 1)); then
        rotating_tokens "$PORTCULLIS_COUNT" "$PO_TOKENS" "http://127.0.0.1:$PC_PORT/"
        ROW_CHECK_TOKEN=$ROTATE_FIRST
        bench_row "$name" "$PC_PID" "http://127.0.0.1:$PC_PORT/" -s "$ROTATE_SCRIPT"
        token_note="$PO_TOKENS distinct tokens (own jti each, none revoked) cycled by wrk through bench/rotate_tokens.lua"
    else
        bench_row "$name" "$PC_PID" "http://127.0.0.1:$PC_PORT/" -H "Authorization: Bearer $PC_TOKEN"
    fi
    if [[ $PO_ALG == HS256 ]]; then
        if ((PO_TOKENS > 1)); then token_note+=", same secret as the HAProxy row"
        else token_note="one token, repeated: the HAProxy row's (same secret)"; fi
    fi
    local pin_note=""
    [[ $PO_CPUS == wide ]] && pin_note=", pinning: $WIDE_NOTE"
    ROW_NOTES+=("$name: $PO_ALG, $PO_STORE store, $PO_REVOKED revoked jtis (seeded: $PC_SEED_NOTE), $PO_THREADS event-loop thread(s)$pin_note, $token_note, ready ${PC_READY_SECONDS}s after start")
    # Every Portcullis row is held to the RSS target.
    printf 'rss\t%s\t%s\n' "$name" "$RSS_TARGET_MB" >>"$TMP/checks.tsv"
}

# rotating_tokens ID N URL: N distinct HS256 tokens for HS_SECRET in a file,
# and a wrk script cycling through them. Before the row is measured, the first,
# a middle and the last token must each get 200 from URL. Sets ROTATE_SCRIPT
# and ROTATE_FIRST (the first token).
rotating_tokens() {
    local id=$1 count=$2 url=$3 file=$TMP/tokens-$1.txt lines token status n
    mint_hs --count "$count" >"$file" || die "bench/mint_tokens.py --count $count failed"
    lines=$(wc -l <"$file")
    ((lines == count)) || die "row $id: $file holds $lines tokens, expected $count"
    n=$(cut -d. -f2 "$file" | sort -u | wc -l)
    ((n == count)) || die "row $id: only $n of the $count tokens are distinct"
    for n in 1 $(((count + 1) / 2)) "$count"; do
        token=$(sed -n "${n}p" "$file")
        status=$(http_status -H "Authorization: Bearer $token" "$url")
        [[ $status == 200 ]] || die "row $id: rotating token $n of $count got $status, expected 200"
    done
    ROTATE_FIRST=$(head -n 1 "$file")
    ROTATE_SCRIPT=$TMP/rotate-$id.lua
    # A wrapper naming the file, then the shared script ([[ ]]: a Lua string taken as is).
    printf 'token_file = [[%s]]\ndofile([[%s]])\n' "$file" "$HERE/rotate_tokens.lua" >"$ROTATE_SCRIPT"
}

# flat_check LABEL ROW_SMALL ROW_LARGE: the report compares the two rows (the
# revocation-check cost should not grow with the number of entries).
flat_check() {
    row_selected "$2" && row_selected "$3" || return 0
    printf 'flat\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$FLAT_TOLERANCE" >>"$TMP/checks.tsv"
}

# scaling_check ROW_ONE ROW_MORE THREADS: the report prints ROW_MORE / ROW_ONE
# with what this machine can and cannot show about it.
scaling_check() {
    row_selected "$1" && row_selected "$2" || return 0
    local note
    if [[ $PIN != 1 || ${#WIDE_PIN[@]} -eq 0 ]]; then
        note="nothing pinned: wrk, the upstream and Portcullis share all $CPUS CPUs, so this ratio does not isolate thread scaling"
    elif ((CPUS < 4)); then
        note="scaling cannot be verified on this $CPUS-CPU machine: $WIDE_NOTE, while the 1-thread row has CPU 1 (shared with the upstream) and wrk has CPU 0 to itself; the limit here is the CPU shared by wrk, the upstream and Portcullis, not Portcullis's threads. Verifying needs at least 4 CPUs: wrk on its own core(s), the upstream on its own, and $3 cores for Portcullis (the 1-thread row on one of them)"
    else
        note="$WIDE_NOTE; the upstream shares CPU 1 with one Portcullis thread, so a ratio below ${3}x may be the upstream's limit; for a clean figure give the upstream its own core too"
    fi
    printf 'scaling\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$note" >>"$TMP/checks.tsv"
}

# alloc_row NAME [portcullis_row options]: an extra Portcullis like that row
# but running under the malloc_count.so preload; measured after the table's
# rows (the counter's atomics must not slow a row of the table) by
# measure_allocations. At most one.
ALLOC_NAME=""
alloc_row() {
    local name=$1
    shift
    [[ $ALLOC == 1 ]] || return 0
    row_selected "$name" || return 0
    [[ -z $ALLOC_NAME ]] || die "alloc_row: only one allocation row"
    portcullis_options "$@"
    ensure_portcullis_binary
    ensure_upstream
    build_malloc_count
    PORTCULLIS_COUNT=$((PORTCULLIS_COUNT + 1))
    ALLOC_COUNTER=$TMP/malloc-count-$PORTCULLIS_COUNT.bin
    start_portcullis "$PORTCULLIS_COUNT" "$PO_ALG" "$PO_STORE" "$PO_THREADS" "$PO_REVOKED" "$PO_SEED" "$PO_CPUS" \
        "$ALLOC_COUNTER"
    ALLOC_NAME=$name
    ALLOC_PID=$PC_PID
    ALLOC_URL="http://127.0.0.1:$PC_PORT/"
    ALLOC_TOKEN=$PC_TOKEN
    ROW_NOTES+=("$name (allocation pass, not in the table): $PO_ALG, $PO_STORE store, $PO_REVOKED revoked jtis (seeded: $PC_SEED_NOTE), $PO_THREADS event-loop thread(s), LD_PRELOAD=malloc_count.so")
}

MALLOC_COUNT_SO=""
build_malloc_count() {
    [[ -z $MALLOC_COUNT_SO ]] || return 0
    command -v cc >/dev/null || die "no C compiler (cc) for bench/malloc_count.c; install gcc or set BENCH_ALLOC=0"
    cc -O2 -shared -fPIC -o "$TMP/malloc_count.so" "$HERE/malloc_count.c" -ldl 2>"$TMP/malloc_count.err" ||
        die "compiling bench/malloc_count.c failed: $(cat "$TMP/malloc_count.err")"
    MALLOC_COUNT_SO=$TMP/malloc_count.so
}

# The benchmark. Order is the table's order. Add rows here.
define_rows() {
    nginx_row      "upstream direct (nginx)"               upstream
    nginx_row      "$REFERENCE_ROW"                        proxy
    nginx_auth_request_row "nginx auth_request to portcullis HS256 memory 1k revoked"
    haproxy_row    "$PEER_ROW"
    portcullis_row "portcullis HS256 memory 1k revoked"    --alg HS256 --store memory --revoked 1000
    # 1M entries: seeded in bulk (--seed auto), the journal file written before start.
    portcullis_row "portcullis HS256 memory 1M revoked"    --alg HS256 --store memory --revoked 1000000
    # A token not seen before on every request: more distinct tokens than the
    # verified-token cache holds (4096 per event loop), cycled in order.
    portcullis_row "portcullis HS256 memory $(short_count "$DISTINCT_TOKENS") distinct tokens" \
                                                           --alg HS256 --store memory --revoked 1000 --tokens "$DISTINCT_TOKENS"
    portcullis_row "portcullis HS256 redis 1k revoked"     --alg HS256 --store redis  --revoked 1000
    portcullis_row "portcullis HS256 redis 1M revoked"     --alg HS256 --store redis  --revoked 1000000
    # 20 routes, the measured path matching only the last (the whole table walked per request).
    portcullis_row "portcullis HS256 memory 1k revoked, 20 routes" --alg HS256 --store memory --revoked 1000 --routes 20
    # revocation.local_cache: tracking: a token seen before costs no Redis round trip.
    portcullis_row "portcullis HS256 redis 1k revoked, local cache" --alg HS256 --store redis-cache --revoked 1000
    # One token repeated: the verified-token cache makes these cost about what HS256 does.
    portcullis_row "portcullis RS256 memory 1k revoked"    --alg RS256 --store memory --revoked 1000
    portcullis_row "portcullis ES256 memory 1k revoked"    --alg ES256 --store memory --revoked 1000
    portcullis_row "portcullis HS256 memory 2 threads"     --alg HS256 --store memory --revoked 1000 --threads 2 --cpus wide
    flat_check     "HS256 memory store" "portcullis HS256 memory 1k revoked" "portcullis HS256 memory 1M revoked"
    flat_check     "HS256 redis store"  "portcullis HS256 redis 1k revoked"  "portcullis HS256 redis 1M revoked"
    scaling_check  "portcullis HS256 memory 1k revoked" "portcullis HS256 memory 2 threads" 2
    alloc_row      "allocations: portcullis HS256 memory 1k revoked" --alg HS256 --store memory --revoked 1000
}

# ---------------------------------------------------------------------------
# Measuring

# measure_row INDEX ROUND: warm-up, then the measured run with an RSS sample
# taken a second before its end (when the server's memory has settled), and
# the CPU time (user, sys) of the row's server process tree and of the
# upstream's read just before wrk starts and just after it ends: report.py
# divides the difference by the requests wrk completed. Neither includes wrk
# or redis-server; the upstream is reported on its own.
measure_row() {
    local i=$1 round=$2 rss out cpu0 cpu1 up0="- -" up1="- -"
    local name=${ROW_NAMES[i]} url=${ROW_URLS[i]} args=()
    eval "args=(${ROW_ARGS[i]})"
    local wrk=("${WRK_PIN[@]}" wrk -t"$WRK_THREADS" -c"$CONNECTIONS")

    if ((WARMUP > 0)); then
        log "[round $round/$ROUNDS] $name: warm-up ${WARMUP}s"
        "${wrk[@]}" -d"${WARMUP}s" "${args[@]}" "$url" >/dev/null ||
            die "wrk warm-up failed for '$name'"
    fi
    log "[round $round/$ROUNDS] $name: measuring ${DURATION}s"
    out=$TMP/wrk-$i-$round.txt
    local separate_upstream=0
    [[ ${ROW_PIDS[i]} != "$UPSTREAM_PID" ]] && separate_upstream=1
    cpu0=$(tree_cpu_ticks "${ROW_PIDS[i]}")
    ((separate_upstream)) && up0=$(tree_cpu_ticks "$UPSTREAM_PID")
    "${wrk[@]}" -d"${DURATION}s" --latency "${args[@]}" "$url" >"$out" 2>&1 &
    WRK_PID=$!
    sleep $((DURATION > 1 ? DURATION - 1 : 0))
    rss=$(tree_rss_kb "${ROW_PIDS[i]}")
    wait "$WRK_PID" || die "wrk failed for '$name': $(cat "$out")"
    WRK_PID=""
    cpu1=$(tree_cpu_ticks "${ROW_PIDS[i]}")
    ((separate_upstream)) && up1=$(tree_cpu_ticks "$UPSTREAM_PID")
    # name round wrk-output rss-kB, then CPU ticks before/after as "user sys" pairs: server, upstream.
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$round" "$out" "$rss" \
        "$cpu0" "$cpu1" "$up0" "$up1" >>"$TMP/results.tsv"
}

# The allocation counters of the alloc row's Portcullis, as one line of 8
# numbers (layout in malloc_count.c): allocs malloc calloc realloc memalign free bytes magic.
read_alloc_counts() {
    od -A n -t u8 -v "$ALLOC_COUNTER" | tr -s ' \n' ' ' | sed 's/^ //; s/ $//'
}

# measure_allocations: for the alloc row, the counters around an idle second
# (background: timers, sweeps) and around two wrk runs of different lengths
# (the count must grow with the requests). report.py divides by the requests
# wrk completed.
measure_allocations() {
    [[ -n $ALLOC_NAME ]] || return 0
    local wrk=("${WRK_PIN[@]}" wrk -t"$WRK_THREADS" -c"$CONNECTIONS") args=(-H "Authorization: Bearer $ALLOC_TOKEN")
    local short=$((DURATION / 3 > 1 ? DURATION / 3 : 1)) c0 c1 c2 c3 out1=$TMP/wrk-alloc-short.txt out2=$TMP/wrk-alloc-long.txt
    c0=$(read_alloc_counts)
    [[ ${c0##* } == 120265198301027 ]] ||
        die "the malloc counter file was not set up by the preload (got '$c0'); is $MALLOC_COUNT_SO loaded?"
    [[ ${c0%% *} -gt 0 ]] || die "the preload counted no allocations at all while Portcullis started"
    log "$ALLOC_NAME: warm-up $((WARMUP > 1 ? WARMUP : 1))s"
    "${wrk[@]}" -d"$((WARMUP > 1 ? WARMUP : 1))s" "${args[@]}" "$ALLOC_URL" >/dev/null ||
        die "wrk warm-up failed for '$ALLOC_NAME'"
    sleep 0.5
    c0=$(read_alloc_counts)
    sleep 1
    c1=$(read_alloc_counts)
    log "$ALLOC_NAME: measuring ${short}s, then ${DURATION}s"
    "${wrk[@]}" -d"${short}s" --latency "${args[@]}" "$ALLOC_URL" >"$out1" 2>&1 ||
        die "wrk failed for '$ALLOC_NAME': $(cat "$out1")"
    # Responses still in flight when wrk stops finish here (at most -c of them).
    sleep 0.5
    c2=$(read_alloc_counts)
    "${wrk[@]}" -d"${DURATION}s" --latency "${args[@]}" "$ALLOC_URL" >"$out2" 2>&1 ||
        die "wrk failed for '$ALLOC_NAME': $(cat "$out2")"
    sleep 0.5
    c3=$(read_alloc_counts)
    kill -0 "$ALLOC_PID" 2>/dev/null || die "'$ALLOC_NAME': Portcullis exited under the preload"
    printf 'alloc\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
        "$ALLOC_NAME" "$ALLOC_BUDGET" "$c0" "$c1" "$out1" "$c2" "$out2" "$c3" "$short" >>"$TMP/checks.tsv"
}

# The Markdown block above the results: enough to reproduce or distrust them.
write_metadata() {
    local commit="n/a" cpu command var settings note
    if [[ $NO_GIT != 1 ]] && command -v git >/dev/null; then
        commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo n/a)
        # Optional locks off: reading the status must not write the index under a working engineer.
        if [[ $commit != n/a && -n $(GIT_OPTIONAL_LOCKS=0 git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null || true) ]]; then
            commit+=" (with uncommitted changes)"
        fi
    fi
    cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
    command=""
    for var in "${!BENCH_@}"; do command+="$var=$(printf '%q' "${!var}") "; done
    command+="bench/run.sh"
    settings="wrk -t$WRK_THREADS -c$CONNECTIONS -d${DURATION}s --latency, warm-up ${WARMUP}s per row and round, $ROUNDS round(s)"
    {
        printf -- '- Date: %s\n' "$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
        printf -- '- Machine: %s, %s CPUs (%s)\n' "$(uname -srm)" "$(nproc)" "${cpu:-unknown CPU}"
        printf -- '- Load average before the run (1/5/15 min): %s\n' "$LOAD_AT_START"
        printf -- '- nginx: %s\n' "$(nginx -v 2>&1 | head -n 1 || true)"
        printf -- '- HAProxy: %s\n' "$(haproxy -v 2>&1 | head -n 1 || true)"
        printf -- '- wrk: %s\n' "$(wrk -v 2>&1 | head -n 1 | sed 's/ *Copyright.*//' || true)"
        printf -- '- Portcullis commit: %s\n' "$commit"
        # shellcheck disable=SC2016 # the backquotes are Markdown, not a command
        printf -- '- Command: `%s`\n' "$command"
        printf -- '- Settings: %s\n' "$settings"
        printf -- '- CPU pinning: %s\n' "$PIN_NOTE"
        printf -- '- Ratios: req/s relative to the "%s" row and to the "%s" row of this same run; p99 relative to "%s"\n' "$REFERENCE_ROW" "$PEER_ROW" "$REFERENCE_ROW"
        printf -- '- CPU per request: user+sys CPU time (/proc/PID/stat utime+stime, %s ticks/s) of the server under test over the measured wrk run, divided by the requests wrk completed. Counted: nginx master and worker; the HAProxy process; the Portcullis process (all threads). Not counted: wrk, redis-server, and the upstream nginx, whose CPU per request is its own column\n' "$CLK_TCK"
        printf -- '- Seeding revocations: through the admin API up to %s revoked jtis, in bulk above (embedded store: the journal file written before start; Redis: redis-cli --pipe), unless a row says otherwise\n' "$BULK_SEED_ABOVE"
        printf -- '- Targets: RSS under load < %s MB per Portcullis row; 1M-entry rows within %s%% of the 1k rows; at most %s allocation calls per request\n' "$RSS_TARGET_MB" "$FLAT_TOLERANCE" "$ALLOC_BUDGET"
        printf '\n## Rows\n\n'
        for note in "${ROW_NOTES[@]}"; do printf -- '- %s\n' "$note"; done
    } >"$TMP/meta.md"
}

main() {
    # Other work on the machine skews every row; the report records how busy it was.
    LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo n/a)
    ensure_tools
    log "temp dir $TMP; pinning: $PIN_NOTE"
    : >"$TMP/checks.tsv"
    define_rows
    ((${#ROW_NAMES[@]})) || die "no rows selected"

    local round i status=0
    # Rounds interleave the rows so a slow drift of the machine (another
    # process, thermal state) spreads over all rows instead of hitting one.
    for ((round = 1; round <= ROUNDS; round++)); do
        for i in "${!ROW_NAMES[@]}"; do measure_row "$i" "$round"; done
    done
    measure_allocations

    write_metadata
    echo
    python3 "$HERE/report.py" "$TMP/results.tsv" --reference "$REFERENCE_ROW" \
        --peer "$PEER_ROW" --peer-label "haproxy jwt" --clk-tck "$CLK_TCK" \
        --checks "$TMP/checks.tsv" --meta "$TMP/meta.md" --markdown "$REPORT" || status=$?
    log "report written to $REPORT"
    # Revocation propagation between two instances on one Redis (cache off and on) and the
    # time to follow a Sentinel failover: its own program, after the table.
    if [[ $PROPAGATION == 1 ]]; then
        log "propagation and Sentinel failover (bench/propagation.py)"
        if python3 "$HERE/propagation.py" --binary "$BINARY" --report "$TMP/propagation.md"; then
            { echo; cat "$TMP/propagation.md"; } >>"$REPORT"
        else
            log "bench/propagation.py failed; see its output above"
            status=1
        fi
    fi
    return "$status"
}

main "$@"
