#!/usr/bin/env python3
"""Crash harness: kills `kosh serve` with SIGKILL under load, again and again, and checks
after every restart that nothing acknowledged was lost and the books still balance
(reliability/check_invariants.py).

    KILLS=50 DB=both reliability/crash.py              # the long run (RELIABILITY.md)
    KILLS=5 CLIENTS=4 KILL_MAX_MS=1500 DB=both reliability/crash.py   # the CI run

Each round: start kosh on the same scratch database (SQLite data folder, or a scratch
PostgreSQL database that is created and dropped), wait for /ready, move kosh's manual clock
(KOSH_CLOCK=manual) five minutes on, retry with their Idempotency-Key the CASH payments
whose answer the last kill swallowed, run a reconciliation pass (the PENDING online payments
the kill interrupted get settled at the SANDBOX gateway, or failed when the payer never
reached it), check the invariants against the database, then let CLIENTS threads drive
load — demand create, fetch-bill, then either a CASH payments/_create or the online flow
(pg _create, SANDBOX pay page choosing SUCCESS or, one time in seven, FAILURE, _update) —
while a ticker moves the clock on with real time, and SIGKILL kosh after a random delay.
At the end the SQLite run also checks the checker (reliability/mutations.py).

Every answer kosh acknowledged (HTTP 200 with a receipt, a transaction answered SUCCESS or
FAILURE) goes to a journal (JSON lines) before the kill; the checker proves each is still
there. Knobs (environment variables): KOSH_BIN (default target/release/kosh, else
target/debug/kosh), KILLS (50, per database), DB (sqlite|postgres|both), CLIENTS (6),
KILL_MIN_MS / KILL_MAX_MS (200 / 3000: the random delay), SEED, OUT (work folder, kept
when a violation is found or KEEP=1), PGURL (postgres://postgres@127.0.0.1:5432).
Exit status 1 on any violation, each printed.
"""

from __future__ import annotations

import http.client
import itertools
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import check_invariants  # noqa: E402
import mutations  # noqa: E402

ADMIN_PASSWORD = "Crash@2026kosh"
BASIC_CLIENT = "Basic ZWdvdi11c2VyLWNsaWVudDo="
TENANTS = ["pb.amritsar", "pb.jalandhar", "pb.mohali"]
# PT's 2019-20 period in the demo master data (as the black-box tests use).
PERIOD_FROM, PERIOD_TO = 1_554_076_800_000, 1_585_679_399_000
HTTP_TIMEOUT = 20
# How far kosh's clock moves at each restart: beyond twice the reconciliation age (1 minute).
RECONCILE_GAP_MS = 5 * 60 * 1000
# While load runs, a ticker moves kosh's clock this much this often (roughly real time), so
# payments of one round do not all share one instant.
TICK_MS = 100


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def kosh_binary() -> str:
    if os.environ.get("KOSH_BIN"):
        return os.environ["KOSH_BIN"]
    for candidate in ("target/release/kosh", "target/debug/kosh"):
        if (ROOT / candidate).exists():
            return str(ROOT / candidate)
    sys.exit("crash.py: no kosh binary (cargo build --release -p kosh-server, or set KOSH_BIN)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class InDoubt(Exception):
    """The request may have reached kosh, but no answer came back."""


class Http:
    """One keep-alive connection per client thread."""

    def __init__(self, port: int):
        self.port = port
        self.conn: http.client.HTTPConnection | None = None

    def request(self, method, path, body=None, headers=None, form=None):
        """(status, parsed JSON or text, headers). Raises InDoubt when no answer came."""
        hdrs = dict(headers or {})
        if form is not None:
            data = form.encode()
            hdrs.setdefault("content-type", "application/x-www-form-urlencoded")
        elif body is not None:
            data = json.dumps(body).encode()
            hdrs["content-type"] = "application/json"
        else:
            data = None
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=HTTP_TIMEOUT)
            try:
                self.conn.request(method, path, body=data, headers=hdrs)
                resp = self.conn.getresponse()
                raw = resp.read()
            except ConnectionRefusedError as e:
                self.close()
                raise ConnectionRefusedError(str(e)) from e
            except (OSError, http.client.HTTPException) as e:
                self.close()
                # A kept-alive connection the server closed between requests: say it once more
                # on a fresh one only when nothing could have been processed (no bytes came).
                if attempt == 0 and isinstance(e, http.client.RemoteDisconnected) and method == "GET":
                    continue
                raise InDoubt(f"{method} {path}: {e!r}") from e
            text = raw.decode("utf-8", "replace")
            try:
                parsed = json.loads(text) if text else None
            except json.JSONDecodeError:
                parsed = text
            return resp.status, parsed, resp.headers
        raise AssertionError("unreachable")

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class Journal:
    """Acknowledged answers, one JSON line each, flushed before the next request."""

    def __init__(self, path: Path):
        self.path = path
        self.file = open(path, "a", encoding="utf-8")
        self.lock = threading.Lock()
        self.counts = Counter()

    def add(self, entry: dict):
        with self.lock:
            self.file.write(json.dumps(entry, sort_keys=True) + "\n")
            self.file.flush()
            self.counts[entry["kind"] + ("" if entry["kind"] == "receipt" else "_" + entry["status"])] += 1

    def close(self):
        self.file.close()


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.counts = Counter()
        self.errors = Counter()
        self.samples: dict[str, str] = {}

    def count(self, what: str, n: int = 1):
        with self.lock:
            self.counts[what] += n

    def error(self, step: str, status: int, body):
        code = ""
        if isinstance(body, dict) and body.get("Errors"):
            code = body["Errors"][0].get("code", "")
        key = f"{step} {status} {code}".strip()
        with self.lock:
            self.errors[key] += 1
            self.samples.setdefault(key, json.dumps(body)[:400] if not isinstance(body, str) else body[:400])


def receipts_of(answer: dict) -> list[dict]:
    out = []
    for p in answer.get("Payments") or []:
        for d in p.get("paymentDetails") or []:
            out.append({
                "kind": "receipt",
                "tenant": p["tenantId"],
                "receipt": d["receiptNumber"],
                "bill_id": d["billId"],
                "payment_id": p["id"],
                "amount_paise": check_invariants.paise(d["totalAmountPaid"]),
            })
    return out


class Load:
    """The clients of one round, and what they leave in doubt for the next."""

    def __init__(self, port: int, token: str, tag: str, rng: random.Random, journal: Journal,
                 stats: Stats, seq: itertools.count):
        self.port, self.token, self.tag = port, token, tag
        self.rng, self.journal, self.stats, self.seq = rng, journal, stats, seq
        self.stop = threading.Event()
        self.lock = threading.Lock()
        # (Idempotency-Key, body, raced) of CASH payments whose answer the kill swallowed.
        self.in_doubt: list[tuple[str, dict, bool]] = []

    def ri(self):
        return {"RequestInfo": {"apiId": "Rainmaker", "authToken": self.token}}

    def client(self, seed: int):
        rng = random.Random(seed)
        http_ = Http(self.port)
        try:
            while not self.stop.is_set():
                try:
                    self.one_flow(http_, rng)
                except (ConnectionRefusedError, InDoubt):
                    # kosh is gone (killed): the round is over for this client.
                    if self.stop.is_set():
                        return
                    self.stats.count("transport_errors")
                    time.sleep(0.01)
        finally:
            http_.close()

    def one_flow(self, h: Http, rng: random.Random):
        n = next(self.seq)
        tenant = TENANTS[n % len(TENANTS)]
        code = f"CRASH-{self.tag}-{n}"
        tax = rng.randint(100, 5000)
        cess = rng.randint(0, 200)
        details = [{"taxHeadMasterCode": "PT_TAX", "taxAmount": tax, "collectionAmount": 0}]
        if cess:
            details.append({"taxHeadMasterCode": "PT_FIRE_CESS", "taxAmount": cess, "collectionAmount": 0})
        body = {**self.ri(), "Demands": [{
            "tenantId": tenant, "consumerCode": code, "consumerType": "BUILTUP", "businessService": "PT",
            "taxPeriodFrom": PERIOD_FROM, "taxPeriodTo": PERIOD_TO, "demandDetails": details}]}
        status, answer, _ = h.request("POST", "/billing-service/demand/_create", body)
        if status != 201:
            return self.stats.error("demand", status, answer)
        self.stats.count("demands")
        status, answer, _ = h.request(
            "POST",
            f"/billing-service/bill/v2/_fetchbill?tenantId={tenant}&businessService=PT&consumerCode={code}",
            self.ri())
        if status != 201 or not answer.get("Bill"):
            return self.stats.error("fetchbill", status, answer)
        bill = answer["Bill"][0]
        self.stats.count("bills")
        pick = rng.random()
        if pick < 0.1:
            self.race(h, bill, rng)
        elif pick < 0.6:
            self.cash(h, bill)
        else:
            self.online(h, bill, rng)

    RACE_STAGES = ("start", "created", "paid_at_gateway", "updated")

    def race(self, h: Http, bill: dict, rng: random.Random):
        """A counter clerk and an online payer pay the same bill: the clerk's CASH payment
        goes in alongside the online flow's step after a randomly chosen stage of it."""
        stage = rng.choice(self.RACE_STAGES)
        go = threading.Event()

        def reached(name: str):
            if name == stage:
                go.set()

        def clerk():
            go.wait()
            other = Http(self.port)
            try:
                self.cash(other, bill, raced=True)
            except (ConnectionRefusedError, InDoubt):
                pass
            finally:
                other.close()
        thread = threading.Thread(target=clerk, daemon=True)
        thread.start()
        try:
            self.online(h, bill, rng, raced=True, reached=reached)
        finally:
            go.set()
            thread.join()
        self.stats.count("races")

    def cash(self, h: Http, bill: dict, raced: bool = False):
        key = f"crash-{self.tag}-{bill['id']}"
        body = {**self.ri(), "Payment": {
            "tenantId": bill["tenantId"], "totalAmountPaid": bill["totalAmount"], "paymentMode": "CASH",
            "paidBy": "Crash", "payerName": "Crash Payer", "mobileNumber": "9876543210",
            "paymentDetails": [{"billId": bill["id"], "totalDue": bill["totalAmount"],
                                "totalAmountPaid": bill["totalAmount"], "businessService": "PT"}]}}
        try:
            status, answer, _ = h.request("POST", "/collection-services/payments/_create", body,
                                          headers={"Idempotency-Key": key})
        except (InDoubt, ConnectionRefusedError) as e:
            if isinstance(e, InDoubt):
                with self.lock:
                    self.in_doubt.append((key, body, raced))
            raise
        if status != 200:
            return self.stats.error("race_payment" if raced else "payment", status, answer)
        for entry in receipts_of(answer):
            self.journal.add(entry)
        self.stats.count("cash_payments")

    def online(self, h: Http, bill: dict, rng: random.Random, raced: bool = False,
               reached=lambda stage: None):
        step = "race_" if raced else ""
        reached("start")
        callback = f"http://127.0.0.1:{self.port}/pg-service/transaction/v1/_update"
        body = {**self.ri(), "Transaction": {
            "tenantId": bill["tenantId"], "txnAmount": bill["totalAmount"], "module": "PT",
            "billId": bill["id"], "consumerCode": bill["consumerCode"], "productInfo": "Crash payment",
            "gateway": "SANDBOX", "callbackUrl": callback,
            "taxAndPayments": [{"billId": bill["id"], "amountPaid": bill["totalAmount"]}],
            "user": {"name": "Crash Payer", "mobileNumber": "9876543210", "tenantId": "pb"}}}
        status, created, _ = h.request("POST", "/pg-service/transaction/v1/_create", body)
        if status != 200:
            return self.stats.error(step + "pg_create", status, created)
        self.stats.count("pg_created")
        reached("created")
        redirect = created["Transaction"]["redirectUrl"]
        query = redirect.split("?", 1)[1] if "?" in redirect else ""
        outcome = "SUCCESS" if rng.random() < 0.85 else "FAILURE"
        status, answer, headers = h.request("POST", "/pg-service/sandbox/pay", form=f"{query}&outcome={outcome}")
        if status != 303:
            return self.stats.error(step + "sandbox_pay", status, answer)
        reached("paid_at_gateway")
        location = urllib.parse.urlsplit(headers["location"])
        path = location.path + ("?" + location.query if location.query else "")
        status, answer, _ = h.request("POST", path, self.ri())
        if status != 200:
            return self.stats.error(step + "pg_update", status, answer)
        txn = answer["Transaction"][0]
        reached("updated")
        if txn["txnStatus"] != outcome or (outcome == "SUCCESS" and not txn.get("receipt")):
            if txn["txnStatus"] in ("SUCCESS", "FAILURE"):
                self.journal.add({"kind": "txn", "txn_id": txn["txnId"], "status": txn["txnStatus"],
                                  "receipt": txn.get("receipt")})
            return self.stats.error(f"{step}pg_update_{outcome}_became_{txn['txnStatus']}", status, answer)
        self.journal.add({"kind": "txn", "txn_id": txn["txnId"], "status": txn["txnStatus"],
                          "receipt": txn.get("receipt")})
        self.stats.count(f"online_{outcome.lower()}")


class Kosh:
    """One `kosh serve` process on the scratch database."""

    def __init__(self, binary: str, env: dict, log: Path):
        self.binary, self.env, self.log = binary, env, log
        self.proc: subprocess.Popen | None = None
        self.port = 0

    def start(self) -> float:
        self.port = free_port()
        env = {**self.env, "KOSH_LISTEN": f"127.0.0.1:{self.port}"}
        began = time.monotonic()
        with open(self.log, "a") as log:
            self.proc = subprocess.Popen([self.binary, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = began + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"kosh exited with {self.proc.returncode} on start; see {self.log}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    pass
                h = Http(self.port)
                status, _, _ = h.request("GET", "/ready")
                h.close()
                if status == 200:
                    return time.monotonic() - began
            except (OSError, InDoubt):
                pass
            time.sleep(0.02)  # polling for readiness, not timing a test
        raise RuntimeError(f"kosh not ready after 60 s; see {self.log}")

    def kill(self):
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


class BusinessClock:
    """kosh's manual clock, carried across restarts (kosh starts it at the wall clock)."""

    def __init__(self):
        self.now_ms = int(time.time() * 1000)
        self.lock = threading.Lock()

    def set(self, port: int, now_ms: int):
        h = Http(port)
        status, body, _ = h.request("POST", "/_kosh/clock", {"nowMs": now_ms})
        h.close()
        if status != 200:
            raise RuntimeError(f"setting the clock: {status} {body}")
        with self.lock:
            self.now_ms = body["nowMs"]

    def after_restart(self, port: int):
        self.set(port, max(self.now_ms, int(time.time() * 1000)) + RECONCILE_GAP_MS)

    def tick(self, port: int, stop: threading.Event):
        h = Http(port)
        try:
            while not stop.wait(TICK_MS / 1000):
                status, body, _ = h.request("POST", "/_kosh/clock", {"advanceMs": TICK_MS})
                if status == 200:
                    with self.lock:
                        self.now_ms = max(self.now_ms, body["nowMs"])
        except (OSError, InDoubt):
            pass  # kosh was killed
        finally:
            h.close()


def sign_in(port: int) -> str:
    form = urllib.parse.urlencode({"grant_type": "password", "scope": "read", "username": "admin",
                                   "password": ADMIN_PASSWORD, "tenantId": "pb", "userType": "EMPLOYEE"})
    h = Http(port)
    status, body, _ = h.request("POST", "/user/oauth/token", form=form,
                                headers={"authorization": BASIC_CLIENT})
    h.close()
    if status != 200:
        raise RuntimeError(f"admin sign-in failed: {status} {body}")
    return body["access_token"]


def retry_in_doubt(port: int, token: str, in_doubt, journal: Journal, stats: Stats, bad: list):
    """A swallowed answer, asked again with its key, must be a payment made exactly once.
    The key is claimed before any check, so a refusal proves the first attempt made nothing:
    losing a race, or a bill that expired at midnight (kosh's clock moves at each restart).
    Answers the bills refused as expired: the checker then requires them unpaid."""
    h = Http(port)
    expired = []
    for key, body, raced in in_doubt:
        body = {**body, "RequestInfo": {"apiId": "Rainmaker", "authToken": token}}
        status, answer, _ = h.request("POST", "/collection-services/payments/_create", body,
                                      headers={"Idempotency-Key": key})
        if status == 400 and raced:
            stats.count("in_doubt_retried_lost_race")
            continue
        codes = [e.get("code") for e in (answer or {}).get("Errors") or []] if isinstance(answer, dict) else []
        if status == 400 and codes == ["BILL_EXPIRED"]:
            stats.count("in_doubt_retried_bill_expired")
            expired.extend((d["billId"], body["Payment"]["tenantId"]) for d in body["Payment"]["paymentDetails"])
            continue
        if status != 200:
            bad.append(f"retry of in-doubt payment {key}: {status} {json.dumps(answer)[:300]}")
            continue
        for entry in receipts_of(answer):
            journal.add(entry)
        stats.count("in_doubt_retried")
    h.close()
    return expired


def reconcile(port: int, token: str, stats: Stats, bad: list):
    h = Http(port)
    # A pass examines at most 200 (kosh's batch) and marks them, so a full batch means more
    # may be due: the bills paid elsewhere stay PENDING and are asked about at every pass.
    for _ in range(20):
        status, answer, _ = h.request("POST", "/pg-service/transaction/v1/_reconcile",
                                      {"RequestInfo": {"authToken": token}})
        if status != 200:
            bad.append(f"reconciliation answered {status} {json.dumps(answer)[:300]}")
            break
        report = answer["Reconciliation"]
        stats.count("reconciled_success", report["succeeded"])
        stats.count("reconciled_failure", report["failed"])
        if report["examined"] < 200:
            break
    h.close()


class Database:
    """A scratch database: a SQLite data folder, or a PostgreSQL database made for the run."""

    def __init__(self, kind: str, work: Path):
        self.kind, self.work = kind, work
        self.env: dict[str, str] = {}
        if kind == "sqlite":
            data = work / "sqlite-data"
            data.mkdir(parents=True, exist_ok=True)
            self.env["KOSH_DATA_DIR"] = str(data)
            self.path = str(data / "kosh.db")
        else:
            base = os.environ.get("PGURL", "postgres://postgres@127.0.0.1:5432")
            self.name = f"kosh_crash_{os.getpid()}_{int(time.time())}"
            self.admin_url = f"{base}/postgres"
            self.url = f"{base}/{self.name}"
            subprocess.run([str(ROOT / "scripts/ensure-postgres")], check=True)
            self.psql(f"CREATE DATABASE {self.name}")
            self.env["KOSH_DATABASE_URL"] = self.url

    def psql(self, sql: str):
        subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", self.admin_url, "-c", sql],
                       check=True, stdout=subprocess.DEVNULL)

    def read(self):
        if self.kind == "sqlite":
            return check_invariants.read_sqlite(self.path)
        return check_invariants.read_postgres(self.url)

    def drop(self):
        if self.kind == "postgres":
            self.psql(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")


def run_database(kind: str, binary: str, kills: int, clients: int, rng: random.Random, work: Path):
    print(f"== {kind}: {kills} kills, {clients} clients, kosh {binary}", flush=True)
    work.mkdir(parents=True, exist_ok=True)
    db = Database(kind, work)
    journal = Journal(work / "journal.jsonl")
    stats = Stats()
    env = {**os.environ, **db.env,
           "KOSH_ADMIN_PASSWORD": ADMIN_PASSWORD,
           "KOSH_LOG": os.environ.get("KOSH_LOG", "warn"),
           # No background pass: one killed mid-pass would hold the lease for 5 minutes. The
           # harness asks for a pass after each restart instead, after moving kosh's clock
           # past RECONCILE_GAP_MS, so every PENDING transaction is due (and one the gateway
           # never heard of is old enough to fail).
           "KOSH_PG_RECONCILE_EVERY_SECONDS": "0",
           "KOSH_PG_RECONCILE_AFTER_MINUTES": "1",
           "KOSH_CLOCK": "manual",
           "KOSH_ACCESS_TOKEN_MINUTES": "1000000"}
    kosh = Kosh(binary, env, work / "kosh.log")
    kill_min = env_int("KILL_MIN_MS", 200) / 1000
    kill_max = env_int("KILL_MAX_MS", 3000) / 1000
    violations: list[str] = []
    seq = itertools.count()
    clock = BusinessClock()
    ready_times = []
    in_doubt: list = []
    token = ""
    started = time.monotonic()
    tag = f"{os.getpid()}{kind[0]}"
    try:
        for round_no in range(kills + 1):
            ready_times.append(kosh.start())
            clock.after_restart(kosh.port)
            if not token:
                token = sign_in(kosh.port)
            bad: list[str] = []
            unpaid = retry_in_doubt(kosh.port, token, in_doubt, journal, stats, bad)
            reconcile(kosh.port, token, stats, bad)
            found, figures = check_invariants.check(db.read(), str(journal.path), require_settled=True,
                                                    unpaid_bills=unpaid)
            bad.extend(found)
            for line in bad:
                print(f"VIOLATION ({kind}, after kill {round_no}): {line}", flush=True)
            violations.extend(f"after kill {round_no}: {b}" for b in bad)
            if round_no == kills:
                break
            load = Load(kosh.port, token, f"{tag}{round_no}", rng, journal, stats, seq)
            threads = [threading.Thread(target=load.client, args=(rng.random(),), daemon=True)
                       for _ in range(clients)]
            threads.append(threading.Thread(target=clock.tick, args=(kosh.port, load.stop), daemon=True))
            for t in threads:
                t.start()
            time.sleep(rng.uniform(kill_min, kill_max))  # the random moment of the kill
            # Clients finish the flow they are in (the kill cuts it) and start no other.
            load.stop.set()
            kosh.kill()
            for t in threads:
                t.join(timeout=HTTP_TIMEOUT + 5)
            in_doubt = load.in_doubt
            stats.count("kills")
            print(f"  kill {round_no + 1}/{kills}: {dict(journal.counts)} in doubt {len(in_doubt)}", flush=True)
        kosh.stop()
    finally:
        kosh.stop()
        journal.close()
    elapsed = time.monotonic() - started
    if kind == "sqlite" and not violations:
        # The checker saw nothing wrong; prove it would have (on copies of this database).
        missed = mutations.run(db.path, str(journal.path))
        for m in missed:
            violations.append(f"checker blind: {m}")
            print(f"VIOLATION ({kind}): checker blind: {m}", flush=True)
        print(f"  checker self-test: {len(mutations.MUTATIONS) - len(missed)} of "
              f"{len(mutations.MUTATIONS)} planted violations reported", flush=True)
    summary = {
        "database": kind, "kills": stats.counts["kills"], "seconds": round(elapsed, 1),
        "acknowledged": dict(journal.counts), "flows": dict(stats.counts),
        "final_state": figures, "ready_after_restart_s_max": round(max(ready_times), 2),
        "ready_after_restart_s_median": round(sorted(ready_times)[len(ready_times) // 2], 2),
        "refused_answers": dict(stats.errors), "violations": len(violations),
    }
    print(f"  summary: {json.dumps(summary, sort_keys=True)}", flush=True)
    for key, sample in stats.samples.items():
        print(f"  sample of '{key}': {sample}")
    if not violations and not os.environ.get("KEEP"):
        db.drop()
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"  kept: {work}" + (f" and database {db.name}" if kind == "postgres" else ""))
    return violations, summary


def main() -> int:
    binary = kosh_binary()
    kills = env_int("KILLS", 50)
    clients = env_int("CLIENTS", 6)
    which = os.environ.get("DB", "both")
    kinds = ["sqlite", "postgres"] if which == "both" else [which]
    seed = env_int("SEED", random.randrange(1 << 30))
    print(f"crash.py: SEED={seed}", flush=True)
    rng = random.Random(seed)
    out = Path(os.environ.get("OUT") or tempfile.mkdtemp(prefix="kosh-crash-"))
    all_bad = []
    for kind in kinds:
        bad, _ = run_database(kind, binary, kills, clients, rng, out / kind)
        all_bad.extend(f"{kind} {b}" for b in bad)
    if not os.environ.get("KEEP") and not all_bad:
        shutil.rmtree(out, ignore_errors=True)
    if all_bad:
        print(f"crash.py: {len(all_bad)} violation(s) (SEED={seed}):")
        for b in all_bad:
            print(f"  {b}")
        return 1
    print(f"crash.py: no violations (SEED={seed})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
