"""The measuring half of scripts/bench-tables.sh: loads WORK/<dataset>.parquet into the table
of WORK/<dataset>.{before,after}.sql in fresh chDB sessions and prints a Markdown table of
bytes per row and, per documented ClickHouse query of the dataset, storage rows and bytes read.

usage: bench_tables.py WORK QUERIES.md BASE_REV
"""

import os
import sys
import tempfile

from chdb import session

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
from query_pairs import questions  # noqa: E402

NOW = "toDateTime('2026-11-24 12:00:00', 'UTC')"  # the middle of gen's default 48 hours
TODAY = "toDate('2026-11-24')"


def load(s, work, dataset, design):
    """Database `design` gets the table of WORK/<dataset>.<design>.sql, loaded."""
    create = open(os.path.join(work, f"{dataset}.{design}.sql")).read().split(";\n")[0]
    s.query(f"CREATE DATABASE IF NOT EXISTS {design}")
    s.query(create.replace("`lakeport`.", f"`{design}`."))
    parquet = os.path.join(work, f"{dataset}.parquet")
    cols = [line.split("\t")[0] for line in s.query(f"DESCRIBE file('{parquet}', Parquet)", "TabSeparated").bytes().decode().splitlines()]
    names = ", ".join(f"`{c}`" for c in cols)
    s.query(f"INSERT INTO {design}.{dataset} ({names}) SELECT {names} FROM file('{parquet}', Parquet)")
    s.query(f"OPTIMIZE TABLE {design}.{dataset} FINAL")
    rows, size = s.query(f"SELECT sum(rows), sum(bytes_on_disk) FROM system.parts WHERE database = '{design}' AND table = '{dataset}' AND active", "TabSeparated").bytes().decode().split()
    return int(rows), int(size)


def main():
    work, queries, base = sys.argv[1:4]
    asked = questions(open(queries).read())
    s = session.Session(tempfile.mkdtemp(prefix="bench-tables-"))
    print(f"| dataset | measure | {base} | this revision | ratio |")
    print("|---|---|---:|---:|---:|")
    for dataset in ("gateway_dns", "gateway_http"):
        (rows, b_size), (_, a_size) = (load(s, work, dataset, d) for d in ("before", "after"))
        print(f"| {dataset} | bytes on disk per row ({rows:,} rows) | {b_size / rows:.1f} | {a_size / rows:.1f} | {a_size / b_size:.2f} |")
        for title, blocks in asked:
            sql = blocks.get("ClickHouse", "")
            if f"lakeport.{dataset}\n" not in sql + "\n" and f"lakeport.{dataset} " not in sql:
                continue
            sql = sql.replace("now()", NOW).replace("today()", TODAY)
            read = []
            for design in ("before", "after"):
                r = s.query(sql.replace("lakeport.", f"{design}."), "TabSeparated")
                read.append((r.storage_rows_read(), r.storage_bytes_read()))
            (br, bb), (ar, ab) = read
            print(f"| {dataset} | {title}: rows / MB read | {br:,} / {bb / 1e6:.1f} | {ar:,} / {ab / 1e6:.1f} | {ar / max(br, 1):.2f} / {ab / max(bb, 1):.2f} |")


if __name__ == "__main__":
    main()
