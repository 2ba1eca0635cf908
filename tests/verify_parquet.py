"""Independent check of a Parquet file written by `lakeport convert`.

Usage: verify_parquet.py SCHEMA.toml INPUT.ndjson REJECTS.ndjson OUT.parquet

Recomputes, from the schema file and the raw input alone, what every column of every
accepted record must hold, and compares it with what pyarrow reads back; checks with duckdb
that the row count and a group-by agree. Exits non-zero with a message on any difference.
"""
import ipaddress
import json
import sys
import tomllib
from datetime import datetime

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq



def check(condition, message):
    """Fails the check (not a bare `assert`: `python -O` would skip those)."""
    if not condition:
        sys.exit(f"MISMATCH: {message}")

def ts_ns(v, unit):
    if isinstance(v, str) and v.lstrip("-").isdigit():
        v = int(v)
    if isinstance(v, int):
        if unit == "auto":
            a = abs(v)
            unit = "s" if a < 10**11 else "ms" if a < 10**14 else "us" if a < 10**17 else "ns"
        return v * {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}[unit]
    # RFC 3339: split the fraction off, since Python keeps only microseconds.
    head, frac, tail = v, "", ""
    if "." in v:
        head, rest = v.split(".", 1)
        i = 0
        while i < len(rest) and rest[i].isdigit():
            i += 1
        frac, tail = rest[:i], rest[i:]
    else:
        for j in range(len(v) - 1, 0, -1):
            if v[j] in "Zz+-" and j > 10:
                head, tail = v[:j], v[j:]
                break
    tail = "+00:00" if tail in ("Z", "z") else tail
    dt = datetime.fromisoformat(head.replace("t", "T").replace(" ", "T") + tail)
    return int(dt.timestamp()) * 10**9 + int((frac + "000000000")[:9])


def scalar(ty, v, f):
    if ty == "string":
        if not isinstance(v, str):
            v = json.dumps(v)
        if f.get("trim"):
            v = v.strip()
        return v.lower() if f.get("lowercase") else v
    if ty == "ip":
        ip = ipaddress.ip_address(v)
        if ip.version == 6 and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        return str(ip)
    if ty == "timestamp":
        return ts_ns(v, f.get("unit", "auto"))
    if ty.startswith(("int", "uint")):
        return int(v)
    if ty.startswith("float"):
        return float(v)
    if ty == "bool":
        return v if isinstance(v, bool) else str(v).strip() in ("true", "1")
    if ty == "json":
        return v
    raise AssertionError(f"unhandled type {ty}")


def expected(f, v):
    ty = f["type"]
    if v is None or (v == "" and ty != "string"):
        d = f.get("default")
        return None if d is None else expected({**f, "default": None}, d)
    if ty.startswith("list<"):
        item = ty[5:-1]
        return [scalar(item, x, f) for x in v]
    if ty.startswith("map<"):
        return sorted(v.items())
    return scalar(ty, v, f)


def lookup(rec, source):
    for k in source:
        if not isinstance(rec, dict) or k not in rec:
            return None
        rec = rec[k]
    return rec


def column_values(table, name, ty):
    col = table.column(name)
    if ty == "timestamp":
        col = col.cast(pa.int64())
    values = col.to_pylist()
    if ty == "json":
        values = [None if x is None else json.loads(x) for x in values]
    if ty.startswith("map<"):
        values = [None if x is None else sorted(x) for x in values]
    if ty == "float32":
        values = [None if x is None else float(pa.scalar(x, pa.float32()).as_py()) for x in values]
    return values


def main(schema_path, input_path, rejects_path, parquet_path):
    schema = tomllib.load(open(schema_path, "rb"))
    lines = open(input_path, "rb").read().split(b"\n")
    rejected = {json.loads(l)["line"] for l in open(rejects_path, "rb") if l.strip()}
    accepted = [json.loads(l) for i, l in enumerate(lines, 1) if l.strip() and i not in rejected]
    table = pq.read_table(parquet_path)
    check(table.num_rows == len(accepted), f"{table.num_rows} rows in Parquet, {len(accepted)} accepted records")
    for f in schema["field"]:
        src = f.get("source", f["name"])
        source = src.split(".") if isinstance(src, str) else src
        want = [expected(f, lookup(r, source)) for r in accepted]
        if f["type"] == "float32":
            want = [None if x is None else float(pa.scalar(x, pa.float32()).as_py()) for x in want]
        got = column_values(table, f["name"], f["type"])
        for row, (w, g) in enumerate(zip(want, got)):
            check(w == g, f"column {f['name']} row {row}: expected {w!r}, Parquet holds {g!r}")
    for d in schema.get("derived", []):
        ts = table.column(d["from"]).cast(pa.int64()).to_pylist()
        col = table.column(d["name"])
        got = (col.cast(pa.int32()) if pa.types.is_date32(col.type) else col).to_pylist()
        day = 86_400 * 10**9
        want = [None if t is None else (t // day if d["kind"] == "date" else (t % day) // (3600 * 10**9)) for t in ts]
        check(got == want, f"derived column {d['name']} differs")
    con = duckdb.connect()
    n = con.execute(f"select count(*) from read_parquet('{parquet_path}')").fetchone()[0]
    check(n == len(accepted), f"duckdb counts {n}")
    top = con.execute(f"select account_id, count(*) c from read_parquet('{parquet_path}') group by 1 order by 2 desc limit 1").fetchone()
    want_top = max((sum(1 for r in accepted if (r.get("AccountID") or "") == a), a) for a in {r.get("AccountID") or "" for r in accepted})
    check(top[1] == want_top[0], f"duckdb group-by {top} vs {want_top}")
    print(f"ok: {n} rows, {len(schema['field'])} fields and {len(schema.get('derived', []))} derived columns match the input")


if __name__ == "__main__":
    main(*sys.argv[1:])
