#!/usr/bin/env bash
# The benchmark, one command: builds the release `kosh` and `kosh-bench`, then on each
# database loads the demands, makes their bills with kosh's own fetch-bill (in-process),
# measures fetch-bill at random over every bill (first over BENCH_SCALE_BILLS of them, for the
# scaling ratio), bill making, CASH payments, the online flow and demand _create in calls of
# 500, and the database's floor for a payment's six writes. PostgreSQL runs in a scratch
# database (created here, dropped after); SQLite in a scratch folder. Results: a Markdown
# table on stdout and in bench/results/<stamp>.md, raw JSON in bench/results/<stamp>-<db>.json.
# See BENCHMARKS.md.
#
# Knobs (environment):
#   BENCH_BILLS         bills made (one per demand) and fetched at random (1000000)
#   BENCH_SCALE_BILLS   fetch-bill is first measured with this many bills (10000; 0: not)
#   BENCH_CONCURRENCY   clients of fetch-bill, payments, online flow and the floor (64)
#   BENCH_DURATION      seconds per timed phase                      (20)
#   BENCH_TYPED_BILLS   bills made by kosh's fetch-bill in-process; the rest are copied from them (10000)
#   BENCH_QUICK=1       a check that it works: 20000 bills (1000 made by fetch-bill), 2000 for the
#                       scaling phase, 4 s phases
#   BENCH_DBS           databases to run                             ("postgres sqlite")
#   BENCH_PERF=1        perf record -a --call-graph dwarf (whole machine) during every timed phase;
#                       reports go to bench/results/<stamp>-<db>-<phase>.perf.txt
#   BENCH_PG            PostgreSQL server URL without database (postgres://postgres@127.0.0.1:5432)
#   BENCH_PHASES        phases to run, comma-separated, of fetch (with the scaling phase), make,
#                       pay, flow, demands and floor               (all); e.g. BENCH_PHASES=demands
#                       measures demand _create alone on a freshly started kosh
#   BENCH_NO_BUILD=1    use the binaries already built
#   BENCH_BIN_DIR       where kosh and kosh-bench are                 (target/release)
# Also passed through: BENCH_MAKE_DEMANDS, BENCH_MAKE_CONCURRENCY (8), BENCH_DEMAND_BATCH (500),
# BENCH_DEMAND_CONCURRENCY (8), BENCH_PAY_BILLS, BENCH_FLOW_BILLS, BENCH_NO_FLOW, BENCH_KOSH,
# BENCH_KOSH_LOG.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${BENCH_QUICK:-0}" = 1 ]; then
  : "${BENCH_BILLS:=20000}" "${BENCH_SCALE_BILLS:=2000}" "${BENCH_TYPED_BILLS:=1000}" "${BENCH_DURATION:=4}"
fi
export BENCH_BILLS=${BENCH_BILLS:-1000000}
export BENCH_SCALE_BILLS=${BENCH_SCALE_BILLS:-10000}
export BENCH_TYPED_BILLS=${BENCH_TYPED_BILLS:-10000}
export BENCH_CONCURRENCY=${BENCH_CONCURRENCY:-64}
export BENCH_DURATION=${BENCH_DURATION:-20}
dbs=${BENCH_DBS:-postgres sqlite}
bin=${BENCH_BIN_DIR:-target/release}
export BENCH_KOSH=${BENCH_KOSH:-$bin/kosh}
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
  echo "- knobs: BENCH_BILLS=$BENCH_BILLS BENCH_SCALE_BILLS=$BENCH_SCALE_BILLS BENCH_CONCURRENCY=$BENCH_CONCURRENCY BENCH_DURATION=$BENCH_DURATION"
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
    perf_args=(--perf-dir "$work/perf")
  fi
  echo "- $db: load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$results/$stamp.md"
  "$bin/kosh-bench" --database-url "$url" --data-dir "$work/$db" \
    --out "$results/$stamp-$db.json" --label "$db" "${perf_args[@]}" | tee -a "$results/$stamp.md"
  echo "- $db: load average after the run: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$results/$stamp.md"
  if [ "$db" = postgres ]; then
    psql "$pg/postgres" -qc "DROP DATABASE IF EXISTS $scratch WITH (FORCE)" >/dev/null
    scratch=""
  fi
done
# The profiles, after every database has run (turning them into reports takes minutes of
# CPU, which would otherwise land in the next database's measurements).
if [ "${BENCH_PERF:-0}" = 1 ]; then
  for db in $dbs; do
    [ -f "$results/$stamp-$db.json" ] || continue
    # One report per profiled phase: the whole machine's split, then kosh's samples.
    python3 - "$results/$stamp-$db.json" <<'PY' | while read -r data pid bench slug; do
import json, os, sys
r = json.load(open(sys.argv[1]))
phases = r["phases"] + ([r["scaling"]["small"]] if r.get("scaling") else [])
for p in phases:
    if p.get("perf_data") and os.path.exists(p["perf_data"]):
        slug = os.path.basename(p["perf_data"]).removesuffix(".perf.data")
        print(p["perf_data"], p["kosh_pid"], r["bench_pid"], slug)
PY
      bench/perf-summary.py "$data" "$pid" "$bench" > "$results/$stamp-$slug.perf.txt" || true
      rm -f "$data"
    done
  done
fi
echo "results: $results/$stamp.md"
