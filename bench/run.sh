#!/usr/bin/env bash
# The benchmark, one command: builds the release `kosh` and `kosh-bench`, then on each
# database loads the demands, starts kosh, measures fetch-bill, CASH payments and the online
# flow at a fixed concurrency, and measures the database's own floor for one payment's SQL.
# PostgreSQL runs in a scratch database (created here, dropped after); SQLite in a scratch
# folder. Results: a Markdown table on stdout and in bench/results/<stamp>.md, raw JSON in
# bench/results/<stamp>-<db>.json. See BENCHMARKS.md.
#
# Knobs (environment):
#   BENCH_DEMANDS       demands loaded                       (1000000)
#   BENCH_CONCURRENCY   clients in every phase and the floor (64)
#   BENCH_DURATION      seconds per timed phase              (20)
#   BENCH_QUICK=1       a check that it works: 20000 demands, 10 s phases
#   BENCH_DBS           databases to run                     ("postgres sqlite")
#   BENCH_PERF=1        perf record -a --call-graph dwarf (whole machine) during the payment phase; reports go
#                       to bench/results/<stamp>-<db>.perf*.txt
#   BENCH_PG            PostgreSQL server URL without database (postgres://postgres@127.0.0.1:5432)
#   BENCH_NO_BUILD=1    use the binaries already in target/release
# Also passed through: BENCH_PAY_BILLS, BENCH_FLOW_BILLS, BENCH_NO_FLOW, BENCH_KOSH_LOG.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${BENCH_QUICK:-0}" = 1 ]; then
  : "${BENCH_DEMANDS:=20000}" "${BENCH_DURATION:=10}"
fi
export BENCH_DEMANDS=${BENCH_DEMANDS:-1000000}
export BENCH_CONCURRENCY=${BENCH_CONCURRENCY:-64}
export BENCH_DURATION=${BENCH_DURATION:-20}
dbs=${BENCH_DBS:-postgres sqlite}
pg=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}

if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
  cargo build --release -p kosh-server -p kosh-bench
fi

stamp=$(date -u +%Y%m%dT%H%M%SZ)
results=bench/results
mkdir -p "$results"
work=$(mktemp -d /tmp/kosh-bench.XXXXXX)
scratch=""
cleanup() {
  if [ -n "$scratch" ]; then
    psql "$pg/postgres" -qc "DROP DATABASE IF EXISTS $scratch WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

{
  echo "## kosh benchmark $stamp"
  echo
  echo "- machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -m | awk '/Mem:/ {print $2}') MiB"
  echo "- git: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')"
  echo "- knobs: BENCH_DEMANDS=$BENCH_DEMANDS BENCH_CONCURRENCY=$BENCH_CONCURRENCY BENCH_DURATION=$BENCH_DURATION"
  echo
} | tee "$results/$stamp.md"

for db in $dbs; do
  case "$db" in
    postgres)
      scripts/ensure-postgres
      scratch="kosh_bench_$(date +%s)_$$"
      psql "$pg/postgres" -qc "CREATE DATABASE $scratch" >/dev/null
      url="$pg/$scratch"
      ;;
    sqlite)
      mkdir -p "$work/sqlite-db"
      url="sqlite://$work/sqlite-db/kosh.db"
      ;;
    *) echo "unknown database $db (postgres or sqlite)" >&2; exit 2 ;;
  esac
  perf_args=()
  if [ "${BENCH_PERF:-0}" = 1 ]; then
    perf_args=(--perf-pay "$work/$db.perf.data")
  fi
  echo "- $db: load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$results/$stamp.md"
  target/release/kosh-bench --database-url "$url" --data-dir "$work/$db" \
    --out "$results/$stamp-$db.json" --label "$db" "${perf_args[@]}" | tee -a "$results/$stamp.md"
  echo "- $db: load average after the run: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$results/$stamp.md"
  if [ "${BENCH_PERF:-0}" = 1 ] && [ -f "$work/$db.perf.data" ]; then
    bench/perf-summary.py "$work/$db.perf.data" "$results/$stamp-$db.json" > "$results/$stamp-$db.perf.txt" || true
    kosh_pid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["kosh_pid"])' "$results/$stamp-$db.json")
    perf report -i "$work/$db.perf.data" --stdio --children --pid "$kosh_pid" --percent-limit 3 -g none \
      --sort symbol 2>/dev/null | grep -v '^$' | cut -c1-160 | head -n 120 >> "$results/$stamp-$db.perf.txt" || true
  fi
  if [ "$db" = postgres ]; then
    psql "$pg/postgres" -qc "DROP DATABASE IF EXISTS $scratch WITH (FORCE)" >/dev/null
    scratch=""
  fi
done
echo "results: $results/$stamp.md"
