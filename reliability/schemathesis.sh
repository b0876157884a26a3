#!/usr/bin/env bash
# schemathesis (property-based API testing, from PyPI) against a real `kosh serve`, for every
# route in /openapi.json, signed in as the administrator. Passes only with zero 5xx answers
# (`not_a_server_error`) and zero answers that break their declared schema
# (`response_schema_conformance`).
#
#   reliability/schemathesis.sh          # short: bounded to ~75 s of testing, for CI
#   reliability/schemathesis.sh long     # long: 20 minutes (KOSH_ST_MAX_TIME seconds)
#
# Environment: KOSH_BIN (a built kosh binary; default: build target/debug/kosh),
# KOSH_ST_SEED (schemathesis seed, default 1 in short mode, random in long mode),
# KOSH_ST_MAX_TIME (long mode's time budget, seconds), SCHEMATHESIS (the schemathesis
# command; default: on PATH, else a virtualenv under target/schemathesis-venv, created with
# `pip install schemathesis` on first use). Reports go to target/schemathesis/.
set -euo pipefail

mode=${1:-short}
root=$(cd "$(dirname "$0")/.." && pwd)
case "$mode" in
short) max_time=75 examples=30 seed=${KOSH_ST_SEED:-1} ;;
long) max_time=${KOSH_ST_MAX_TIME:-1200} examples=1000 seed=${KOSH_ST_SEED:-} ;;
*)
    echo "usage: $0 [short|long]" >&2
    exit 2
    ;;
esac

st=${SCHEMATHESIS:-}
if [ -z "$st" ]; then
    if command -v schemathesis >/dev/null; then
        st=schemathesis
    else
        venv="$root/target/schemathesis-venv"
        # A virtualenv moved from elsewhere keeps its old paths and cannot run: make it anew.
        if ! "$venv/bin/schemathesis" --version >/dev/null 2>&1; then
            rm -rf "$venv"
            python3 -m venv "$venv"
            "$venv/bin/pip" install -q 'schemathesis>=4,<5'
        fi
        st="$venv/bin/schemathesis"
    fi
fi

bin=${KOSH_BIN:-}
if [ -z "$bin" ]; then
    cargo build -q --manifest-path "$root/Cargo.toml" -p kosh-server
    bin="$root/target/debug/kosh"
fi

data=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
# DIGIT's password rules: 8 to 15 characters, a digit, upper and lower case, one of @#$%.
password="St@9$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')"
# Generated requests include wrong passwords: keep the login throttle out of the way of the
# administrator's own sign-in (it is tested in the black-box tests).
KOSH_ADMIN_PASSWORD="$password" KOSH_DATA_DIR="$data" KOSH_LISTEN="127.0.0.1:$port" \
    KOSH_LOG=warn "$bin" serve >"$data/kosh.log" 2>&1 &
pid=$!
cleanup() {
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rm -rf "$data"
}
trap cleanup EXIT

for _ in $(seq 1 300); do
    curl -fs "$base/health" >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || {
        cat "$data/kosh.log" >&2
        exit 1
    }
    sleep 0.2
done

token=$(curl -fs "$base/user/oauth/token" -H 'Authorization: Basic ZWdvdi11c2VyLWNsaWVudDo=' \
    -d 'grant_type=password&scope=read&username=admin&tenantId=pb&userType=EMPLOYEE' \
    --data-urlencode "password=$password" |
    python3 -c 'import sys, json; print(json.load(sys.stdin)["access_token"])')

report="$root/target/schemathesis"
mkdir -p "$report"
seed_args=()
[ -n "$seed" ] && seed_args=(--seed "$seed")
status=0
# The administrator's token goes in the Authorization header (the gateway reads
# RequestInfo.authToken, then auth-token, then "Bearer"). `_logout` would revoke it mid-run
# and leave every later request a 401; it is exercised by the black-box tests instead.
"$st" --no-color run "$base/openapi.json" \
    -H "Authorization: Bearer $token" \
    --checks not_a_server_error,response_schema_conformance \
    --suppress-health-check=filter_too_much \
    --exclude-path /user/_logout \
    --max-time "$max_time" --max-examples "$examples" "${seed_args[@]}" \
    --workers 2 --request-timeout 30 \
    --report junit,ndjson --report-dir "$report" || status=$?

if grep -Eq 'panicked|ERROR' "$data/kosh.log"; then
    echo "kosh logged errors during the run:" >&2
    grep -E 'panicked|ERROR' "$data/kosh.log" | head -20 >&2
    status=1
fi
kill -0 "$pid" 2>/dev/null || {
    echo "kosh died during the run" >&2
    status=1
}
exit "$status"
