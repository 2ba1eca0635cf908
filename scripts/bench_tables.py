"""The measuring half of scripts/bench-tables.sh: loads WORK/<dataset>.parquet into the tables
of WORK/<dataset>.{before,after}.sql (the dataset's table, then its rollups) in one chDB
session and prints a Markdown table of bytes per row and storage rows and bytes read: per
documented ClickHouse query of the dataset, per answer from a rollup (against the raw
query on the earlier table), and per lookup outside the sort key.

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
    statements = [st for st in open(os.path.join(work, f"{dataset}.{design}.sql")).read().split(";\n") if st.strip() and not st.startswith("--")]
    s.query(f"CREATE DATABASE IF NOT EXISTS {design}")
    for st in statements:  # the table, then each rollup's table and view
        s.query(st.replace("`lakeport`.", f"`{design}`."))
    parquet = os.path.join(work, f"{dataset}.parquet")
    cols = [line.split("\t")[0] for line in s.query(f"DESCRIBE file('{parquet}', Parquet)", "TabSeparated").bytes().decode().splitlines()]
    names = ", ".join(f"`{c}`" for c in cols)
    s.query(f"INSERT INTO {design}.{dataset} ({names}) SELECT {names} FROM file('{parquet}', Parquet)")
    s.query(f"OPTIMIZE TABLE {design}.{dataset} FINAL")
    rows, size = s.query(f"SELECT sum(rows), sum(bytes_on_disk) FROM system.parts WHERE database = '{design}' AND table = '{dataset}' AND active", "TabSeparated").bytes().decode().split()
    return int(rows), int(size)


# Lookups analysts make outside the sort key's prefix: (title, dataset, column, condition
# template); the value is one the data holds, picked the same way for both tables.
LOOKUPS = [
    ("one account, last hour", "account_id", f"datetime >= {NOW} - INTERVAL 1 HOUR AND datetime < {NOW}"),
    ("one domain or host, 48 hours", None, "1"),
    ("one user, today", "email", f"date = {TODAY}"),
    ("one device, 48 hours", "device_id", "1"),
]


def read(s, sql):
    r = s.query(sql, "TabSeparated")
    return r.storage_rows_read(), r.storage_bytes_read()


def row(dataset, what, before, after):
    (br, bb), (ar, ab) = before, after
    print(f"| {dataset} | {what}: rows / MB read | {br:,} / {bb / 1e6:.1f} | {ar:,} / {ab / 1e6:.1f} | {ar / max(br, 1):.2f} / {ab / max(bb, 1):.2f} |")


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
            pin = lambda q, design: q.replace("now()", NOW).replace("today()", TODAY).replace("lakeport.", f"{design}.")
            row(dataset, title, read(s, pin(sql, "before")), read(s, pin(sql, "after")))
            if "ClickHouse, from the rollup" in blocks:
                row(dataset, f"{title.split('.')[0]}. from the rollup (earlier: the raw query)", read(s, pin(sql, "before")), read(s, pin(blocks["ClickHouse, from the rollup"], "after")))
        for title, column, condition in LOOKUPS:
            column = column or ("query_name" if dataset == "gateway_dns" else "http_host")
            value = s.query(f"SELECT {column} FROM before.{dataset} WHERE {column} != '' GROUP BY {column} ORDER BY cityHash64({column}) LIMIT 1", "TabSeparated").bytes().decode().strip()
            sql = f"SELECT count() FROM db.{dataset} WHERE {column} = '{value}' AND {condition}"
            row(dataset, title, read(s, sql.replace("db.", "before.")), read(s, sql.replace("db.", "after.")))


if __name__ == "__main__":
    main()
