#!/usr/bin/env python3
"""Writes a file of demands for `kosh import demands`: N consumer codes spread over the pb
demo cities and over property tax (two tax heads), water charges and trade licence, each
with one demand for the service's 2018-19 (PT, TL) or 2020-21 (WS) tax period.

    bench/make-demands.py 1000000 /tmp/demands.csv      # CSV, one row per tax head
    bench/make-demands.py 1000000 /tmp/demands.jsonl    # JSON lines, one demand per line
"""
import json
import sys

CITIES = ["pb.amritsar", "pb.derabassi", "pb.jalandhar", "pb.mohali", "pb.nawanshahr",
          "pb.nayagaon", "pb.phagwara"]
# service, consumer type, period from, period to, [(tax head, rupees)]
KINDS = [
    ("PT", "BUILTUP", 1522540800000, 1554076799000, [("PT_TAX", "1200"), ("PT_FIRE_CESS", "60.50")]),
    ("WS", "waterConnection", 1554076800000, 1617235199999, [("WS_CHARGE", "450")]),
    ("TL", "BUILTUP", 1522540800000, 1554076799000, [("TL_TAX", "800")]),
]
COLUMNS = ["tenantId", "consumerCode", "consumerType", "businessService", "taxPeriodFrom",
           "taxPeriodTo", "taxHeadMasterCode", "taxAmount"]


def demands(count):
    for n in range(count):
        service, ctype, start, end, heads = KINDS[n % len(KINDS)]
        city = CITIES[(n // len(KINDS)) % len(CITIES)]
        yield city, f"{service}-IMP-{n:08d}", ctype, service, start, end, heads


def main():
    count, path = int(sys.argv[1]), sys.argv[2]
    with open(path, "w", encoding="utf-8") as out:
        if path.endswith(".csv"):
            out.write(",".join(COLUMNS) + "\n")
            for city, code, ctype, service, start, end, heads in demands(count):
                for head, amount in heads:
                    out.write(f"{city},{code},{ctype},{service},{start},{end},{head},{amount}\n")
        else:
            for city, code, ctype, service, start, end, heads in demands(count):
                out.write(json.dumps({
                    "tenantId": city, "consumerCode": code, "consumerType": ctype,
                    "businessService": service, "taxPeriodFrom": start, "taxPeriodTo": end,
                    "demandDetails": [{"taxHeadMasterCode": h, "taxAmount": a} for h, a in heads],
                }, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
