#!/usr/bin/env python3
"""Checks kosh's money invariants (listed under "What it checks" below) straight from the
database, with no help from kosh itself: run it against any kosh database, running or not.

    reliability/check_invariants.py --sqlite kosh-data/kosh.db
    reliability/check_invariants.py --postgres postgres://postgres@127.0.0.1:5432/kosh
    ... [--journal crash-journal.jsonl] [--require-settled]

What it checks:
  1. every receipt in the journal (answers kosh acknowledged with HTTP 200) exists, still
     belongs to the same bill and payment and amount (never lost, never reused);
  2. no bill has two live payments, a live payment detail never belongs to a cancelled or
     dishonoured payment, and a bill is PAID/PARTIALLY_PAID exactly when it has a live
     payment, pointing at that payment;
  3. receipt numbers are unique per tenant;
  4. for every demand detail, collected = its amount at creation + the apportioned amounts
     of the live payments (each receipt's bill snapshot) on it; 0 <= collected <= tax for
     positive heads;
  5. every SUCCESS gateway transaction has exactly one receipt (payment) that matches the
     collection records, or, when its bills had been paid another way, exactly one refund
     due of its whole amount and no receipt; FAILURE and PENDING have neither; a
     transaction's bill claim and hold are live unless it failed or was closed (the gateway
     had no record of it); the SANDBOX gateway never took money for a transaction kosh
     failed; every journal transaction answered SUCCESS/FAILURE is still so;
  6. with --require-settled (after a reconciliation pass): no PENDING transaction whose
     gateway has a final answer is left, except those closed for want of a gateway record
     and those whose gateway answer has not been applied yet while another payment paid
     the bill (counted as double_collected).

Only the Python standard library: sqlite3 for SQLite, the `psql` client for PostgreSQL (one
read-only REPEATABLE READ transaction, so the checks see one snapshot even under load).
Exit status 1 when any invariant is broken, each violation printed on its own line.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import sys
from collections import defaultdict
from decimal import Decimal

# Portable SQL, the same for both databases; everything else happens in Python so that
# there is one body of checking code.
QUERIES = {
    "payments": "SELECT tenant_id, id, payment_status, payment_mode, transaction_number, "
    "total_amount_paid FROM egcl_payment",
    "details": "SELECT tenant_id, id, payment_id, bill_id, receipt_number, amount_paid, live, "
    "bill FROM egcl_paymentdetail",
    "bills": "SELECT tenant_id, id, status, payment_id, amount_paid FROM egbs_bill",
    "demand_details": "SELECT tenant_id, id, demand_id, tax_head_code, tax_amount, "
    "collection_amount FROM egbs_demand_detail",
    # Collections a demand detail was created with (DIGIT lets a demand arrive part-paid).
    "created_with": "SELECT da.tenant_id, da.detail_id, da.collection_amount "
    "FROM egbs_demand_detail_audit da JOIN egbs_demand_audit a "
    "ON a.tenant_id = da.tenant_id AND a.audit_id = da.demand_audit_id WHERE a.reason = 'CREATE'",
    "txns": "SELECT tenant_id, txn_id, txn_status, receipt, payment_id, txn_amount, gateway, "
    "closed_time, refund_id FROM eg_pg_transactions",
    "refunds": "SELECT tenant_id, id, channel, source_ref, amount, status FROM egcl_refund_due",
    "holds": "SELECT tenant_id, bill_id, holder_ref FROM egcl_bill_hold",
    "txn_payments": "SELECT tenant_id, txn_id, payment_id, receipt_numbers FROM eg_pg_txn_payment",
    "txn_bills": "SELECT tenant_id, txn_id, bill_id, live FROM eg_pg_txn_bills",
    "sandbox": "SELECT txn_id, status FROM pg_sandbox_payments",
}

DEAD_PAYMENT = {"CANCELLED", "DISHONOURED"}


def read_sqlite(path: str) -> dict[str, list[dict]]:
    conn = sqlite3.connect(path, timeout=30)
    conn.row_factory = sqlite3.Row
    try:
        # One read transaction: one snapshot for every query.
        conn.execute("BEGIN")
        return {name: [dict(r) for r in conn.execute(sql)] for name, sql in QUERIES.items()}
    finally:
        conn.close()


def read_postgres(url: str) -> dict[str, list[dict]]:
    names = list(QUERIES)
    script = ["BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;"]
    for name in names:
        # jsonb text is one line per query (newlines inside strings are escaped).
        script.append(
            f"SELECT COALESCE(jsonb_agg(to_jsonb(t)), '[]'::jsonb)::text FROM ({QUERIES[name]}) t;"
        )
    script.append("COMMIT;")
    out = subprocess.run(
        ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", url],
        input="\n".join(script),
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"psql failed: {out.stderr.strip()}")
    lines = [line for line in out.stdout.splitlines() if line.strip()]
    if len(lines) != len(names):
        raise RuntimeError(f"psql: expected {len(names)} result lines, got {len(lines)}")
    return {name: json.loads(line) for name, line in zip(names, lines)}


def paise(rupees) -> int:
    """A wire amount (rupees, a JSON number) in paise, exactly."""
    value = Decimal(str(rupees)) * 100
    if value != value.to_integral_value():
        raise ValueError(f"amount {rupees} is not whole paise")
    return int(value)


def read_journal(path: str | None) -> tuple[list[dict], list[dict]]:
    receipts, txns = [], []
    if not path:
        return receipts, txns
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            entry = json.loads(line)
            if entry.get("kind") == "receipt":
                receipts.append(entry)
            elif entry.get("kind") == "txn":
                txns.append(entry)
    return receipts, txns


def check(data: dict[str, list[dict]], journal: str | None, require_settled: bool,
          unpaid_bills: list[tuple[str, str]] = ()):
    """Returns (violations, figures). `unpaid_bills` (bill id, tenant) must carry no receipt."""
    bad: list[str] = []
    payments = {(p["tenant_id"], p["id"]): p for p in data["payments"]}
    details = data["details"]

    # 3. receipt numbers unique per tenant (the unique index says so; trust nothing).
    by_receipt: dict[tuple, list[dict]] = defaultdict(list)
    for d in details:
        by_receipt[(d["tenant_id"], d["receipt_number"])].append(d)
    for (tenant, number), rows in by_receipt.items():
        if len(rows) > 1:
            bad.append(f"receipt {number} used {len(rows)} times in {tenant}")
        if not number:
            bad.append(f"payment detail {rows[0]['id']} in {tenant} has no receipt number")

    # 2. at most one live payment per bill, and the bill agrees.
    live_by_bill: dict[tuple, list[dict]] = defaultdict(list)
    for d in details:
        payment = payments.get((d["tenant_id"], d["payment_id"]))
        if payment is None:
            bad.append(f"receipt {d['receipt_number']}: payment {d['payment_id']} missing")
            continue
        dead = payment["payment_status"] in DEAD_PAYMENT
        if int(d["live"]) == 1 and dead:
            bad.append(
                f"receipt {d['receipt_number']} is live but its payment is {payment['payment_status']}"
            )
        if int(d["live"]) == 0 and not dead:
            bad.append(
                f"receipt {d['receipt_number']} is not live but its payment is {payment['payment_status']}"
            )
        if int(d["live"]) == 1 and not dead:
            live_by_bill[(d["tenant_id"], d["bill_id"])].append(d)
    for (tenant, bill), rows in live_by_bill.items():
        if len(rows) > 1:
            numbers = ", ".join(r["receipt_number"] for r in rows)
            bad.append(f"bill {bill} in {tenant} has {len(rows)} live payments: {numbers}")
    for b in data["bills"]:
        key = (b["tenant_id"], b["id"])
        live = live_by_bill.get(key, [])
        paid = b["status"] in ("PAID", "PARTIALLY_PAID")
        if paid and not live:
            bad.append(f"bill {b['id']} in {b['tenant_id']} is {b['status']} with no live payment")
        if live and not paid:
            bad.append(
                f"bill {b['id']} in {b['tenant_id']} is {b['status']} but receipt "
                f"{live[0]['receipt_number']} is live"
            )
        if live and paid:
            if b["payment_id"] != live[0]["payment_id"]:
                bad.append(
                    f"bill {b['id']} names payment {b['payment_id']}, its live receipt "
                    f"{live[0]['receipt_number']} is of {live[0]['payment_id']}"
                )
            if int(b["amount_paid"]) != int(live[0]["amount_paid"]):
                bad.append(
                    f"bill {b['id']} says {b['amount_paid']} paise paid, receipt "
                    f"{live[0]['receipt_number']} says {live[0]['amount_paid']}"
                )

    # 4. demand detail collections = created-with + apportioned live payments.
    apportioned: dict[tuple, int] = defaultdict(int)
    for rows in live_by_bill.values():
        for d in rows:
            try:
                snapshot = json.loads(d["bill"])
                for bd in snapshot.get("billDetails") or []:
                    for acc in bd.get("billAccountDetails") or []:
                        apportioned[(d["tenant_id"], acc["demandDetailId"])] += paise(
                            acc.get("adjustedAmount") or 0
                        )
            except (ValueError, KeyError, TypeError) as e:
                bad.append(f"receipt {d['receipt_number']}: unreadable bill snapshot ({e})")
    created_with = {(r["tenant_id"], r["detail_id"]): int(r["collection_amount"]) for r in data["created_with"]}
    # Apportionment names one demand detail per tax head of a bill detail; kosh spreads a
    # head's money over the demand's details of that head, so compare per (demand, head).
    detail_group = {}
    collected: dict[tuple, int] = defaultdict(int)
    expected: dict[tuple, int] = defaultdict(int)
    for dd in data["demand_details"]:
        key = (dd["tenant_id"], dd["id"])
        group = (dd["tenant_id"], dd["demand_id"], dd["tax_head_code"], int(dd["tax_amount"]) >= 0)
        detail_group[key] = group
        collected[group] += int(dd["collection_amount"])
        expected[group] += created_with.get(key, 0)
        tax, got = int(dd["tax_amount"]), int(dd["collection_amount"])
        if tax >= 0 and not 0 <= got <= tax:
            bad.append(f"demand detail {dd['id']} ({dd['tax_head_code']}) collected {got} of {tax} paise")
    for key, amount in apportioned.items():
        group = detail_group.get(key)
        if group is None:
            bad.append(f"a live receipt apportions {amount} paise to unknown demand detail {key[1]}")
            continue
        positive = amount >= 0
        # A head's negative money (rebate, advance) lands on negative details and vice versa.
        expected[(group[0], group[1], group[2], positive)] += amount
    for group in set(collected) | set(expected):
        if collected[group] != expected[group]:
            tenant, demand, head, _ = group
            bad.append(
                f"demand {demand} in {tenant}, head {head}: collected {collected[group]} paise, "
                f"live payments apportioned {expected[group]}"
            )

    # 5. gateway transactions and their receipts.
    txn_payment = {(r["tenant_id"], r["txn_id"]): r for r in data["txn_payments"]}
    sandbox = {r["txn_id"]: r["status"] for r in data["sandbox"]}
    bills_live = defaultdict(list)
    for r in data["txn_bills"]:
        bills_live[(r["tenant_id"], r["txn_id"])].append(int(r["live"]))
    details_by_payment = defaultdict(list)
    for d in details:
        details_by_payment[(d["tenant_id"], d["payment_id"])].append(d)
    txns = {}
    status_count: dict[str, int] = defaultdict(int)
    unsettled = 0
    # Gateway took the money but the bill was paid another way meanwhile (an overridden
    # counter payment, BBPS): until the gateway's answer is applied the transaction is
    # PENDING; once applied it is SUCCESS with a refund due (checked above).
    double_collected = []
    txn_bill_ids = defaultdict(list)
    for r in data["txn_bills"]:
        txn_bill_ids[(r["tenant_id"], r["txn_id"])].append(r["bill_id"])
    refunds = defaultdict(list)
    for r in data["refunds"]:
        refunds[(r["tenant_id"], r["channel"], r["source_ref"])].append(r)
    holds = defaultdict(list)
    for h in data["holds"]:
        holds[(h["tenant_id"], h["holder_ref"])].append(h)
    for t in data["txns"]:
        key = (t["tenant_id"], t["txn_id"])
        txns[t["txn_id"]] = t
        status = t["txn_status"]
        status_count[status] += 1
        link = txn_payment.get(key)
        name = f"transaction {t['txn_id']} ({status})"
        refund = refunds.get((t["tenant_id"], "ONLINE", t["txn_id"]), [])
        if len(refund) > 1:
            bad.append(f"{name} has {len(refund)} refunds due")
        if (status == "PENDING") != bool(holds.get(key)) and not (
                status == "PENDING" and t["closed_time"] is not None):
            bad.append(f"{name}: holds its bills {bool(holds.get(key))} while {status}")
        if status == "PENDING" and t["closed_time"] is not None and holds.get(key):
            bad.append(f"{name} is closed but still holds its bills")
        if refund or t["refund_id"]:
            # The gateway's money came after its bills were paid another way: one refund
            # due of the whole amount, named by the transaction, and no receipt.
            if status != "SUCCESS":
                bad.append(f"{name} has a refund due but is not SUCCESS")
            elif not refund or refund[0]["id"] != t["refund_id"]:
                bad.append(f"{name} names refund {t['refund_id']}, the refunds due say {refund}")
            elif int(refund[0]["amount"]) != int(t["txn_amount"]):
                bad.append(f"{name}: amount {t['txn_amount']} paise, refund due {refund[0]['amount']}")
            if link is not None or t["receipt"] or t["payment_id"]:
                bad.append(f"{name} has both a refund due and a receipt")
            continue
        if status == "SUCCESS":
            if link is None:
                bad.append(f"{name} has no receipt")
                continue
            receipts = details_by_payment.get((t["tenant_id"], link["payment_id"]), [])
            if not receipts:
                bad.append(f"{name}: its payment {link['payment_id']} has no receipt in collection")
                continue
            numbers = sorted(r["receipt_number"] for r in receipts)
            if sorted(json.loads(link["receipt_numbers"])) != numbers:
                bad.append(f"{name}: pg says receipts {link['receipt_numbers']}, collection {numbers}")
            if t["payment_id"] != link["payment_id"] or t["receipt"] not in numbers:
                bad.append(f"{name}: names payment {t['payment_id']} receipt {t['receipt']}, "
                           f"made {link['payment_id']} {numbers}")
            if int(t["txn_amount"]) != sum(int(r["amount_paid"]) for r in receipts):
                bad.append(f"{name}: amount {t['txn_amount']} paise, receipts pay a different sum")
        else:
            if link is not None or t["receipt"] or t["payment_id"]:
                bad.append(f"{name} has a receipt ({t['receipt'] or link['payment_id']})")
            if status == "FAILURE" and sandbox.get(t["txn_id"]) == "SUCCESS":
                bad.append(f"{name}: the SANDBOX gateway took the money")
        lives = bills_live.get(key, [])
        released = status == "FAILURE" or t["closed_time"] is not None
        if released and any(lives):
            bad.append(f"{name} still holds a live claim on its bill")
        if not released and lives and not all(lives):
            bad.append(f"{name} lost its claim on its bill")
        if status == "PENDING" and t["gateway"] == "SANDBOX":
            paid_elsewhere = txn_bill_ids.get(key) and all(
                (t["tenant_id"], b) in live_by_bill for b in txn_bill_ids[key])
            if sandbox.get(t["txn_id"]) == "SUCCESS" and paid_elsewhere:
                double_collected.append(t["txn_id"])
            elif t["closed_time"] is not None and t["txn_id"] not in sandbox:
                pass  # closed: the gateway has no record; a late answer would still settle it
            elif sandbox.get(t["txn_id"], "NONE") != "PENDING":
                unsettled += 1
                if require_settled:
                    bad.append(f"{name}: left unsettled by reconciliation (gateway says "
                               f"{sandbox.get(t['txn_id'], 'no record')})")
    # A payment in ONLINE mode made for a transaction must be that transaction's receipt.
    for p in data["payments"]:
        t = txns.get(p["transaction_number"] or "")
        if p["payment_mode"] == "ONLINE" and t is not None:
            if t["txn_status"] != "SUCCESS" or t["payment_id"] != p["id"]:
                bad.append(f"payment {p['id']} was made for transaction {t['txn_id']} "
                           f"({t['txn_status']}, payment {t['payment_id']})")

    # 1. the journal: what kosh acknowledged is there, unchanged.
    j_receipts, j_txns = read_journal(journal)
    for r in j_receipts:
        rows = by_receipt.get((r["tenant"], r["receipt"]))
        if not rows:
            bad.append(f"acknowledged receipt {r['receipt']} ({r['tenant']}, bill {r['bill_id']}) is lost")
            continue
        d = rows[0]
        if d["bill_id"] != r["bill_id"] or d["payment_id"] != r["payment_id"]:
            bad.append(f"acknowledged receipt {r['receipt']} was of bill {r['bill_id']} payment "
                       f"{r['payment_id']}, now of bill {d['bill_id']} payment {d['payment_id']}")
        if "amount_paise" in r and int(d["amount_paid"]) != r["amount_paise"]:
            bad.append(f"acknowledged receipt {r['receipt']}: {r['amount_paise']} paise, now {d['amount_paid']}")
    for j in j_txns:
        t = txns.get(j["txn_id"])
        if t is None:
            bad.append(f"acknowledged transaction {j['txn_id']} ({j['status']}) is lost")
        elif t["txn_status"] != j["status"]:
            bad.append(f"acknowledged transaction {j['txn_id']} was {j['status']}, now {t['txn_status']}")
        elif j.get("receipt") and t["receipt"] != j["receipt"]:
            bad.append(f"acknowledged transaction {j['txn_id']} had receipt {j['receipt']}, now {t['receipt']}")

    for bill_id, tenant in unpaid_bills:
        for d in details:
            if d["bill_id"] == bill_id and d["tenant_id"] == tenant:
                bad.append(f"bill {bill_id}: a retry was refused, yet receipt {d['receipt_number']} exists")

    figures = {
        "payments": len(data["payments"]),
        "receipts": len(details),
        "live_receipts": sum(len(v) for v in live_by_bill.values()),
        "bills": len(data["bills"]),
        "demand_details": len(data["demand_details"]),
        "txns": dict(status_count),
        "unsettled_pending": unsettled,
        "double_collected": len(double_collected),
        "journal_receipts": len(j_receipts),
        "journal_txns": len(j_txns),
    }
    return bad, figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--sqlite", help="path of kosh.db")
    where.add_argument("--postgres", help="postgres:// URL")
    parser.add_argument("--journal", help="JSON lines of acknowledged receipts and transactions")
    parser.add_argument("--require-settled", action="store_true",
                        help="a PENDING transaction whose gateway has settled it is a violation")
    args = parser.parse_args()
    data = read_sqlite(args.sqlite) if args.sqlite else read_postgres(args.postgres)
    bad, figures = check(data, args.journal, args.require_settled)
    for line in bad:
        print(f"VIOLATION: {line}")
    print(json.dumps(figures, sort_keys=True))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
