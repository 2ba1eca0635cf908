"""Runs every question of docs/queries.md on ClickHouse and on the Parquet lake (DuckDB) and
checks that both give the same answer, and that a rollup's answer, where one is given,
equals the raw table's.

Each question is a `## N. …` section holding ```sql blocks whose first line says which
engine it is for: `-- ClickHouse`, `-- DuckDB` (the lake) or `-- ClickHouse, from the
rollup`. `now()` / `today()` (ClickHouse) and `now()` / `current_date` (DuckDB) are pinned
to --now, so both engines look at the same window. A question that returns no rows fails:
an empty answer proves nothing.

usage: query_pairs.py QUERIES.md --clickhouse URL --database DB --lake DIR --now 2026-11-24T12:00:00Z [--show 1,5]

--show prints the answers of the questions numbered, as the demo does.
"""

import argparse
import datetime as dt
import decimal
import math
import re
import sys
import urllib.parse
import urllib.request

import duckdb


def questions(markdown):
    """[(title, {label: sql})] in document order."""
    out = []
    for section in re.split(r"^## ", markdown, flags=re.M)[1:]:
        title = section.splitlines()[0].strip()
        if not re.match(r"\d+\.", title):
            continue
        blocks = {}
        for block in re.findall(r"^```sql\n(.*?)^```", section, flags=re.M | re.S):
            first, _, body = block.partition("\n")
            label = first.removeprefix("--").strip()
            blocks[label] = body.strip().rstrip(";")
        out.append((title, blocks))
    return out


def clickhouse(url, sql):
    request = urllib.request.Request(url, data=(sql + "\nFORMAT TabSeparated").encode(), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=120) as answer:
            text = answer.read().decode()
    except urllib.error.HTTPError as e:
        raise RuntimeError(e.read().decode()) from None
    return [[unescape(cell) for cell in line.split("\t")] for line in text.splitlines()]


def unescape(cell):
    if cell == "\\N":
        return None
    return re.sub(r"\\(.)", lambda m: {"t": "\t", "n": "\n", "\\": "\\", "0": "\0"}.get(m.group(1), m.group(1)), cell)


def canonical(value):
    """One spelling per value, whichever engine gave it."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (int, float, decimal.Decimal)):
        return number(float(value))
    try:
        return number(float(value)) if re.fullmatch(r"-?\d+(\.\d+)?(e-?\d+)?", value) else value
    except ValueError:
        return value


def number(x):
    if x == int(x) and abs(x) < 2**53:
        return str(int(x))
    return f"{x:.6g}" if not math.isnan(x) else "nan"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("queries")
    ap.add_argument("--clickhouse", required=True)
    ap.add_argument("--database", required=True)
    ap.add_argument("--lake", required=True)
    ap.add_argument("--now", required=True)
    ap.add_argument("--show", default="", help="comma-separated question numbers whose answers to print")
    args = ap.parse_args()
    show = {n for n in args.show.split(",") if n}
    now = dt.datetime.fromisoformat(args.now.replace("Z", "+00:00")).astimezone(dt.timezone.utc)
    stamp = now.strftime("%Y-%m-%d %H:%M:%S")
    pins = {
        "ClickHouse": [("lakeport.", f"`{args.database}`."), ("now()", f"toDateTime('{stamp}', 'UTC')"), ("today()", f"toDate('{now.date()}')")],
        "DuckDB": [("'.lakeport/lake/", f"'{args.lake}/"), ("now()", f"TIMESTAMPTZ '{stamp}+00:00'"), ("current_date", f"DATE '{now.date()}'")],
    }
    lake = duckdb.connect()
    lake.execute("SET TimeZone = 'UTC'")
    failures, asked = 0, questions(open(args.queries).read())
    for title, blocks in asked:
        answers = {}
        for label, sql in blocks.items():
            engine = label.split(",")[0]
            for old, new in pins[engine]:
                sql = sql.replace(old, new)
            try:
                rows = clickhouse(args.clickhouse, sql) if engine == "ClickHouse" else lake.execute(sql).fetchall()
            except Exception as e:  # a query that fails is a failed question, not a crash
                rows = f"failed: {e}"
            answers[label] = rows if isinstance(rows, str) else [[canonical(v) for v in row] for row in rows]
        reference = answers.get("ClickHouse")
        problems = [f"no {want} query" for want in ("ClickHouse", "DuckDB") if want not in answers]
        problems += [f"{label}: {rows}" for label, rows in answers.items() if isinstance(rows, str)]
        if not problems and not reference:
            problems.append("no rows: the question proves nothing on this data")
        for label, rows in answers.items():
            if not problems and rows != reference:
                at = next((i for i, (a, b) in enumerate(zip(reference, rows)) if a != b), min(len(reference), len(rows)))
                problems.append(f"{label} differs from ClickHouse from row {at + 1} ({len(reference)} rows vs {len(rows)}):\n"
                                f"       ClickHouse: {reference[at:at + 2]}\n       {label}: {rows[at:at + 2]}")
        failures += bool(problems)
        rows = len(reference) if isinstance(reference, list) else 0
        print(f"{'ok  ' if not problems else 'FAIL'} {rows:4} rows  {' = '.join(answers)}  {title}")
        for p in problems:
            print(f"     {p}")
        if title.split(".")[0] in show and isinstance(reference, list):
            for label, rows in answers.items():
                print(f"       {label}:")
                for row in rows[:8]:
                    print("         " + " | ".join(v.replace("\n", "\\n") for v in row))
                if len(rows) > 8:
                    print(f"         … {len(rows) - 8} more rows")
    print(f"{len(asked)} questions, {failures} failed")
    sys.exit(1 if failures or not asked else 0)


if __name__ == "__main__":
    main()
