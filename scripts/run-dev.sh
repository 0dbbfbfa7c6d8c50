#!/usr/bin/env bash
# `make run`: the embedded store, a demo upstream, a dev token and the curl lines that show
# a request passing, a revocation through the admin API, and the same request refused.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=.build/debug
DIR=.run
PROXY_PORT=${PORTCULLIS_DEV_PROXY_PORT:-8080}
ADMIN_PORT=${PORTCULLIS_DEV_ADMIN_PORT:-8081}
UPSTREAM_PORT=${PORTCULLIS_DEV_UPSTREAM_PORT:-8000}
# Portcullis refuses PORTCULLIS_* variables it does not know: these are this script's only.
unset PORTCULLIS_DEV_PROXY_PORT PORTCULLIS_DEV_ADMIN_PORT PORTCULLIS_DEV_UPSTREAM_PORT
mkdir -p "$DIR"

# A dev secret and admin token, made once and kept in .run/ (git-ignored).
[ -s "$DIR/jwt-secret" ] || head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$DIR/jwt-secret"
[ -s "$DIR/admin-token" ] || head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$DIR/admin-token"
ADMIN_TOKEN=$(cat "$DIR/admin-token")

cat > "$DIR/portcullis.yaml" <<YAML
# Written by scripts/run-dev.sh for \`make run\`.
proxy:
  listen: "127.0.0.1:$PROXY_PORT"
  upstream: "http://127.0.0.1:$UPSTREAM_PORT"
  public_paths: ["/public/*"]
jwt:
  algorithms: [HS256]
  secret_file: "$DIR/jwt-secret"
revocation:
  store: memory
  file: "$DIR/revocations.log"
admin:
  listen: "127.0.0.1:$ADMIN_PORT"
  token_file: "$DIR/admin-token"
YAML

pids=()
cleanup() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo; echo "stopped."
}
trap cleanup EXIT
# Ctrl-C is how this is meant to end: stop the children, exit 0.
trap 'cleanup; exit 0' INT TERM

"$BIN/portcullis-demo-upstream" "$UPSTREAM_PORT" &
pids+=($!)
"$BIN/portcullis" serve --config "$DIR/portcullis.yaml" &
pids+=($!)

for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$ADMIN_PORT/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$ADMIN_PORT/readyz" >/dev/null || { echo "portcullis did not become ready" >&2; exit 1; }

JTI="dev-$(date +%s)"
TOKEN=$("$BIN/portcullis" mint --config "$DIR/portcullis.yaml" --sub dev-user --ttl 1h --jti "$JTI")

cat <<TEXT

Portcullis is up: proxy http://127.0.0.1:$PROXY_PORT -> demo upstream http://127.0.0.1:$UPSTREAM_PORT,
admin API http://127.0.0.1:$ADMIN_PORT (embedded store, file $DIR/revocations.log).

Operators' console: http://127.0.0.1:$ADMIN_PORT/ui/
Admin token (paste it into the console; also in $DIR/admin-token):
$ADMIN_TOKEN

Dev token (sub dev-user, jti $JTI, valid 1h):
$TOKEN

1. The request passes (200, the upstream echoes X-Auth-Subject):
   curl -i -H "Authorization: Bearer $TOKEN" http://127.0.0.1:$PROXY_PORT/hello

2. Revoke the token through the admin API (201):
   curl -i -X POST -H "Authorization: Bearer $ADMIN_TOKEN" -H "Content-Type: application/json" \\
        -d '{"jti": "$JTI", "expires_at": $(( $(date +%s) + 3600 ))}' http://127.0.0.1:$ADMIN_PORT/v1/revocations

3. The same request is refused (401 RevokedTokenError):
   curl -i -H "Authorization: Bearer $TOKEN" http://127.0.0.1:$PROXY_PORT/hello

4. Who revoked what (the audit, newest first):
   $BIN/portcullis audit --admin-url http://127.0.0.1:$ADMIN_PORT --admin-token $ADMIN_TOKEN

Ctrl-C stops everything.
TEXT

wait
