#!/usr/bin/env python3
"""Proves the invariant checker can see what it is meant to see: on copies of a kosh SQLite
database that checks clean, breaks one invariant at a time (a lost receipt, a reused one, a
second live payment, a paisa too much collected, a SUCCESS without receipt, ...) and
requires check_invariants to report exactly that kind of violation.

    reliability/mutations.py kosh.db journal.jsonl

crash.py runs it on its SQLite database at the end of a run. Exit status 1 when a mutation
went unnoticed.
"""

from __future__ import annotations

import sqlite3
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import check_invariants  # noqa: E402

# A live receipt whose transaction (if any) is irrelevant: a CASH one.
CASH_RECEIPT = ("SELECT d.id FROM egcl_paymentdetail d JOIN egcl_payment p ON p.tenant_id = d.tenant_id "
                "AND p.id = d.payment_id WHERE d.live = 1 AND p.payment_mode = 'CASH' ORDER BY d.id LIMIT 1")
SUCCESS_TXN = "SELECT txn_id FROM eg_pg_transactions WHERE txn_status = 'SUCCESS' ORDER BY txn_id LIMIT 1"
FAILURE_TXN = "SELECT txn_id FROM eg_pg_transactions WHERE txn_status = 'FAILURE' ORDER BY txn_id LIMIT 1"
PAID_DETAIL = ("SELECT id FROM egbs_demand_detail WHERE collection_amount > 0 AND tax_amount > 0 "
               "ORDER BY id LIMIT 1")

# (name, SQL statements run in order on the copy, a phrase the checker must report)
MUTATIONS = [
    ("lost receipt",
     [f"DELETE FROM egcl_paymentdetail WHERE id = ({CASH_RECEIPT})"],
     "is lost"),
    ("receipt number reused for another payment",
     ["DROP INDEX egcl_paymentdetail_receipt",
      # Two CASH receipts of one tenant swap numbers: each number now names another bill.
      "CREATE TEMP TABLE pair AS SELECT a.id AS a_id, a.receipt_number AS a_no, b.id AS b_id, "
      "b.receipt_number AS b_no FROM egcl_paymentdetail a JOIN egcl_paymentdetail b "
      "ON a.tenant_id = b.tenant_id AND a.id < b.id ORDER BY a.id, b.id LIMIT 1",
      "UPDATE egcl_paymentdetail SET receipt_number = (SELECT b_no FROM pair) WHERE id = (SELECT a_id FROM pair)",
      "UPDATE egcl_paymentdetail SET receipt_number = (SELECT a_no FROM pair) WHERE id = (SELECT b_id FROM pair)"],
     "now of bill"),
    ("receipt number used twice",
     ["DROP INDEX egcl_paymentdetail_receipt",
      "UPDATE egcl_paymentdetail SET receipt_number = (SELECT b.receipt_number FROM egcl_paymentdetail b "
      "WHERE b.tenant_id = egcl_paymentdetail.tenant_id AND b.id > egcl_paymentdetail.id ORDER BY b.id LIMIT 1) "
      f"WHERE id = ({CASH_RECEIPT})"],
     "used 2 times"),
    ("second live payment of a bill",
     ["DROP INDEX egcl_paymentdetail_live_bill",
      "INSERT INTO egcl_paymentdetail SELECT id || '-twin', tenant_id, payment_id, due, amount_paid, "
      "receipt_number || '-twin', receipt_date, receipt_type, business_service, bill_id, consumer_code, "
      "manual_receipt_number, manual_receipt_date, additional_details, bill, live, created_by, created_ms, "
      f"last_modified_by, last_modified_ms FROM egcl_paymentdetail WHERE id = ({CASH_RECEIPT})"],
     "live payments"),
    ("a paisa too much collected",
     [f"UPDATE egbs_demand_detail SET collection_amount = collection_amount + 1 WHERE id = ({PAID_DETAIL})"],
     "live payments apportioned"),
    ("payment cancelled but receipt still live",
     ["UPDATE egcl_payment SET payment_status = 'CANCELLED' WHERE id = (SELECT payment_id FROM "
      f"egcl_paymentdetail WHERE id = ({CASH_RECEIPT}))"],
     "is live but its payment is CANCELLED"),
    ("bill paid without a payment",
     ["UPDATE egcl_paymentdetail SET live = 0 WHERE id = (" + CASH_RECEIPT + ")",
      "UPDATE egcl_payment SET payment_status = 'CANCELLED' WHERE id NOT IN "
      "(SELECT payment_id FROM egcl_paymentdetail WHERE live = 1)"],
     "with no live payment"),
    ("SUCCESS transaction without receipt",
     [f"DELETE FROM eg_pg_txn_payment WHERE txn_id = ({SUCCESS_TXN})"],
     "has no receipt"),
    ("FAILURE transaction with a receipt",
     [f"UPDATE eg_pg_transactions SET txn_status = 'FAILURE' WHERE txn_id = ({SUCCESS_TXN})"],
     "(FAILURE) has a receipt"),
    ("settled transaction left PENDING",
     [f"UPDATE eg_pg_transactions SET txn_status = 'PENDING' WHERE txn_id = ({FAILURE_TXN})"],
     "left unsettled by reconciliation"),
]


def run(db_path: str, journal: str) -> list[str]:
    """The mutations the checker missed (empty: it saw them all)."""
    missed = []
    found, _ = check_invariants.check(check_invariants.read_sqlite(db_path), journal, require_settled=True)
    if found:
        return [f"the unmutated database is not clean: {found[:3]}"]
    with tempfile.TemporaryDirectory(prefix="kosh-mutations-") as tmp:
        for name, statements, phrase in MUTATIONS:
            copy = Path(tmp) / "copy.db"
            src = sqlite3.connect(db_path)
            dst = sqlite3.connect(copy)
            src.backup(dst)  # a consistent copy, WAL included
            src.close()
            try:
                for sql in statements:
                    changed = dst.execute(sql).rowcount
                    if sql.startswith(("UPDATE", "DELETE", "INSERT")) and changed == 0:
                        raise RuntimeError(f"changed nothing: {sql}")
                dst.commit()
            except (sqlite3.Error, RuntimeError) as e:
                missed.append(f"{name}: could not apply ({e})")
                dst.close()
                copy.unlink()
                continue
            dst.close()
            found, _ = check_invariants.check(check_invariants.read_sqlite(str(copy)), journal,
                                              require_settled=True)
            if not any(phrase in v for v in found):
                missed.append(f"{name}: not reported (wanted '{phrase}', got {found[:3]})")
            copy.unlink()
    return missed


def main() -> int:
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    missed = run(sys.argv[1], sys.argv[2])
    for m in missed:
        print(f"MISSED: {m}")
    print(f"mutations: {len(MUTATIONS) - len(missed)} of {len(MUTATIONS)} reported")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
