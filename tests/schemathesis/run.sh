#!/usr/bin/env bash
# A schema-driven fuzzer nobody here wrote checks the OpenAPI document
# against the service: schemathesis (PyPI) reads /openapi.json of a spawned
# service (embedded store, loopback only) and sends every operation
# generated requests — valid and invalid — as the platform's admin. It must
# find no server error and no answer the document does not describe
# (status, content type, headers, body schema), and no invalid input
# accepted. Bounded: a fixed seed and example count, so it stops by itself
# and fails the same way twice.
#
# Left out: the two operations that end the fuzzer's own session (sign-out,
# password change), and the `positive_data_acceptance` check, which expects
# every request the schema allows to succeed — ours refuse well-formed
# values the domain rejects (a taken e-mail, a partner created directly)
# with a precise 4xx, which is the API doing its job.
set -euo pipefail
cd "$(dirname "$0")/../.."

VERSION=4.32.5
VENV=${SCHEMATHESIS_VENV:-target/schemathesis-venv}
if [ ! -x "$VENV/bin/st" ] || ! "$VENV/bin/st" --version | grep -q "$VERSION"; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet "schemathesis==$VERSION"
fi

cargo build --locked --quiet --bin portal-ledger
BIN=target/debug/portal-ledger
DATA=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
SERVER=""
cleanup() {
    if [ -n "$SERVER" ]; then
        kill "$SERVER" 2>/dev/null || true
        wait "$SERVER" 2>/dev/null || true
    fi
    rm -rf "$DATA" 2>/dev/null || true
}
trap cleanup EXIT

unset DATABASE_URL
PASSWORD=$("$BIN" --data-dir "$DATA" bootstrap --email root@fuzz.example 2>/dev/null |
    sed -n 's/.*one-time password: //p')
# Without rate limits: the fuzzer is one client sending hundreds of
# commands a second, and a 429 would hide the handler it meant to reach.
"$BIN" --data-dir "$DATA" serve --listen "127.0.0.1:$PORT" --rate-per-second 0 \
    >"$DATA/serve.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 60); do
    curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break
    sleep 0.5
done
TOKEN=$(curl -sf -X POST "http://127.0.0.1:$PORT/v1/sessions" \
    -H 'content-type: application/json' \
    -d "{\"email\":\"root@fuzz.example\",\"password\":\"$PASSWORD\"}" |
    python3 -c 'import sys, json; print(json.load(sys.stdin)["token"])')

"$VENV/bin/st" run "http://127.0.0.1:$PORT/openapi.json" \
    -H "Authorization: Bearer $TOKEN" \
    --checks all --exclude-checks positive_data_acceptance \
    --mode all --max-examples "${SCHEMATHESIS_EXAMPLES:-25}" --seed 1 --workers 2 \
    --exclude-path /v1/sessions/current --exclude-path /v1/me/password \
    --no-color
