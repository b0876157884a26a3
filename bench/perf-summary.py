#!/usr/bin/env python3
"""Summarises a whole-machine `perf record` of one benchmark phase: CPU share per process
(kosh, the database, the load generator, everything else), then kosh's own samples by
shared object, by category (inclusive) and by symbol (self time).
Usage: perf-summary.py perf.data KOSH_PID [BENCH_PID]"""
import collections, subprocess, sys

data, kosh = sys.argv[1], int(sys.argv[2])
bench = int(sys.argv[3]) if len(sys.argv) > 3 else None
# --no-inline: resolving inlined frames runs addr2line per address, minutes per phase here.
out = subprocess.run(["perf", "script", "--no-inline", "-i", data, "-F", "comm,pid,ip,sym,dso"],
                     capture_output=True, text=True).stdout
by_proc, by_dso, by_sym = collections.Counter(), collections.Counter(), collections.Counter()
by_cat = collections.Counter()
# Inclusive categories: a sample counts for every category found anywhere in its call chain.
CATEGORIES = [
    ("sqlx (driver, row decoding, statement cache)", ("sqlx",)),
    ("sqlx postgres protocol", ("sqlx_postgres",)),
    ("sqlx sqlite", ("sqlx_sqlite", "sqlite3")),
    ("serde_json (parse and print JSON)", ("serde_json", "serde::")),
    ("hyper/axum (HTTP)", ("hyper::", "axum::", "hyper_util")),
    ("tower-http/tracing (middleware, logs)", ("tower_http", "tracing")),
    ("kosh gateway: token, user, roles (auth)", ("kosh_server::gateway", "kosh_identity", "kosh_access")),
    ("kosh billing", ("kosh_billing",)),
    ("kosh collection", ("kosh_collection",)),
    ("kosh platform", ("kosh_platform",)),
    ("kernel: network send/recv", ("tcp_", "sock_", "__sys_sendto", "__sys_recvfrom", "unix_stream")),
    ("kernel: fsync/file writes", ("fsync", "ext4_", "jbd2", "vfs_write", "__x64_sys_pwrite")),
    ("malloc/free", ("malloc", "free", "realloc", "cfree")),
    ("scheduler / futex wake-ups", ("futex", "schedule", "try_to_wake_up")),
]
total = kosh_total = 0
for block in out.split("\n\n"):
    lines = [l for l in block.strip().split("\n") if l.strip()]
    if not lines:
        continue
    head = lines[0].strip().rsplit(None, 1)
    if len(head) < 2:
        continue
    comm, pid = head[0], head[1]
    try:
        pid = int(pid)
    except ValueError:
        continue
    total += 1
    if pid == kosh:
        proc = "kosh"
    elif pid == bench:
        proc = "kosh-bench (load generator)"
    elif comm.startswith("postgres"):
        proc = "postgres"
    else:
        proc = "other: " + comm
    by_proc[proc] += 1
    if pid == kosh and len(lines) > 1:
        kosh_total += 1
        frame = lines[1].strip().split(None, 1)
        rest = frame[1] if len(frame) > 1 else "?"
        sym, _, dso = rest.rpartition(" (")
        dso = dso.rstrip(")").rsplit("/", 1)[-1]
        by_dso[dso] += 1
        by_sym[(sym.split("+0x")[0][:110], dso)] += 1
        chain = " ".join(lines[1:])
        for name, keys in CATEGORIES:
            if any(k in chain for k in keys):
                by_cat[name] += 1
print(f"samples: {total} (cpu-clock, all CPUs)\n\nCPU share by process:")
for p, n in by_proc.most_common(12):
    print(f"  {100*n/total:5.1f}%  {p}")
print(f"\nkosh's samples ({kosh_total}) by shared object:")
for d, n in by_dso.most_common(8):
    print(f"  {100*n/max(kosh_total,1):5.1f}%  {d}")
print("\nkosh's samples by category (inclusive; a sample may count in several):")
for name, _ in CATEGORIES:
    print(f"  {100*by_cat[name]/max(kosh_total,1):5.1f}%  {name}")
print("\nkosh's hottest symbols (self):")
for (s, d), n in by_sym.most_common(40):
    print(f"  {100*n/max(kosh_total,1):5.1f}%  {s}  [{d}]")
