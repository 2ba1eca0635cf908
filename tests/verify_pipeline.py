"""Independent check of what `lakeport run` wrote, against the records that were produced.

Usage: verify_pipeline.py SCHEMA.toml INPUT.ndjson PARTITIONS LAKE_DIR CLICKHOUSE_URL DATABASE TABLE

The i-th record of INPUT (0-based) was produced to partition i % PARTITIONS at offset
i // PARTITIONS, one record per message. For every row of the lake (read with pyarrow's
Hive partitioning) and of the ClickHouse table, the source coordinates must be unique and
every column must hold what the schema makes of that input record. Prints the row counts.
"""
import json
import sys
import tomllib
import urllib.parse
import urllib.request
from datetime import datetime, timezone

import pyarrow as pa
import pyarrow.dataset as ds

from verify_parquet import expected, lookup



def check(condition, message):
    """Fails the check (not a bare `assert`: `python -O` would skip those)."""
    if not condition:
        sys.exit(f"MISMATCH: {message}")

def source_of(f):
    src = f.get("source", f["name"])
    return src.split(".") if isinstance(src, str) else src


def lake_rows(lake_dir, schema):
    dataset = ds.dataset(f"{lake_dir}/{schema['name']}", format="parquet", partitioning="hive")
    table = dataset.to_table()
    cols = {}
    for f in schema["field"]:
        col = table.column(f["name"])
        if f["type"] == "timestamp":
            col = col.cast(pa.int64())
        values = col.to_pylist()
        if f["type"] == "json":
            values = [None if v is None else json.loads(v) for v in values]
        if f["type"].startswith("map<"):
            values = [None if v is None else sorted(v) for v in values]
        cols[f["name"]] = values
    coords = list(zip(table.column("_partition").to_pylist(), table.column("_offset").to_pylist(), table.column("_line").to_pylist()))
    return coords, cols


def clickhouse_rows(url, database, table):
    sql = f"SELECT * FROM `{database}`.`{table}` FORMAT JSONEachRow"
    req = urllib.request.Request(url + "/?" + urllib.parse.urlencode({"query": sql}))
    with urllib.request.urlopen(req) as r:
        return [json.loads(line) for line in r.read().decode().splitlines() if line]


def clickhouse_value(f, v):
    """What the ClickHouse JSON output holds for a value the schema produced (18.16 types)."""
    t = f["type"]
    if v is None:
        return [] if t.startswith("list<") else None
    if t == "timestamp":
        return datetime.fromtimestamp(v // 10**9, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    if t == "bool":
        return int(v)
    if t in ("int64", "uint64"):
        return str(v)
    if t == "list<uint64>" or t == "list<int64>":
        return [str(x) for x in v]
    if t == "json":
        return json.dumps(v, separators=(",", ":"), ensure_ascii=False)
    if t.startswith("map<"):
        return json.dumps(dict(v), separators=(",", ":"), ensure_ascii=False)
    return v


def main(schema_path, input_path, partitions, lake_dir, url, database, table):
    partitions = int(partitions)
    schema = tomllib.load(open(schema_path, "rb"))
    records = [l for l in open(input_path, "rb").read().split(b"\n") if l]

    def record_at(p, o):
        return json.loads(records[o * partitions + p])

    coords, cols = lake_rows(lake_dir, schema)
    check(len(set(coords)) == len(coords), f"lake: {len(coords) - len(set(coords))} duplicated rows")
    for i, (p, o, line) in enumerate(coords):
        check(line == 1, f"one record per message, got line {line}")
        rec = record_at(p, o)
        for f in schema["field"]:
            want, got = expected(f, lookup(rec, source_of(f))), cols[f["name"]][i]
            if f["type"].startswith("map<") and want is not None:
                want = sorted(want)
            check(want == got, f"lake {f['name']} at partition {p} offset {o}: expected {want!r}, found {got!r}")

    rows = clickhouse_rows(url, database, table)
    ch_coords = [(r["_partition"], int(r["_offset"]), r["_line"]) for r in rows]
    check(len(set(ch_coords)) == len(ch_coords), f"clickhouse: {len(ch_coords) - len(set(ch_coords))} duplicated rows")
    check(set(ch_coords) == set(coords), "the lake and ClickHouse hold different records")
    for r in rows:
        rec = record_at(r["_partition"], int(r["_offset"]))
        for f in schema["field"]:
            want = clickhouse_value(f, expected(f, lookup(rec, source_of(f))))
            got = r[f["name"]]
            if f["type"] == "json" and got is not None:
                want, got = json.loads(want) if want is not None else None, json.loads(got)
            if f["type"].startswith("map<") and got is not None:
                want, got = json.loads(want) if want is not None else None, json.loads(got)
            if f["type"].startswith("float"):
                want = None if want is None else float(want)
                got = None if got is None else float(got)
            check(want == got, f"clickhouse {f['name']} at partition {r['_partition']} offset {r['_offset']}: expected {want!r}, found {got!r}")
    print(f"ok: lake rows {len(coords)}, clickhouse rows {len(rows)}")


if __name__ == "__main__":
    main(*sys.argv[1:])
