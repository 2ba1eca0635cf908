#!/usr/bin/env python3
"""Independent check of what lakeport's ClickHouse writer stored.

The Rust tests write the Arrow batch they insert to a Parquet file; this script reads it
with pyarrow, reads the table back from ClickHouse (`FORMAT JSONCompact`), brings both to
one canonical form per ClickHouse column type, and compares the rows as multisets (a
MergeTree returns rows in sorting-key order, not insert order).

  verify_clickhouse.py columns --chdb DIR --ddl FILE
      chDB (in-process ClickHouse, modern engine): run the CREATE TABLE in FILE in the
      session stored at DIR (creating its database), print the table's system.columns as
      JSON lines {name, type, default_kind}.
  verify_clickhouse.py compare --expected X.parquet --table DB.T --http URL
      ClickHouse over HTTP (the 18.16 server).
  verify_clickhouse.py compare --expected X.parquet --table DB.T --chdb DIR --native F
      chDB: check that the Native file F declares exactly the table's column types, insert
      it into the table, then compare.
  verify_clickhouse.py dedup --chdb DIR --table DB.T --native F --token TOKEN
      chDB: insert F twice with insert_deduplication_token=TOKEN, print the row count.

Exit status 0 when everything matches; otherwise the differences are printed.
"""
import argparse
import calendar
import datetime
import ipaddress
import json
import struct
import sys
import urllib.error
import urllib.request
import zoneinfo
from collections import Counter

import pyarrow as pa
import pyarrow.parquet as pq


def split_args(s):
    """`String, Array(UInt8)` -> ['String', 'Array(UInt8)'] (commas outside parentheses/quotes)."""
    out, depth, quoted, start = [], 0, False, 0
    for i, c in enumerate(s):
        if c == "'":
            quoted = not quoted
        elif not quoted and c == "(":
            depth += 1
        elif not quoted and c == ")":
            depth -= 1
        elif not quoted and depth == 0 and c == ",":
            out.append(s[start:i].strip())
            start = i + 1
    out.append(s[start:].strip())
    return out


def parse_type(t):
    """'Nullable(DateTime64(9, 'UTC'))' -> ('Nullable', ["DateTime64(9, 'UTC')"])."""
    t = t.strip()
    if "(" in t and t.endswith(")"):
        i = t.index("(")
        return t[:i], split_args(t[i + 1:-1])
    return t, []


def zero_date(text):
    """ClickHouse 18.16 prints day 0 and second 0 as 0000-00-00 (00:00:00)."""
    return text.replace("0000-00-00", "1970-01-01", 1)


def epoch_ns(text, tz):
    """'2026-11-23 07:01:02[.fraction]' as printed in time zone `tz` (None: the server's,
    UTC here) -> nanoseconds since the epoch."""
    date, _, frac = zero_date(text).partition(".")
    fields = (int(date[0:4]), int(date[5:7]), int(date[8:10]), int(date[11:13]), int(date[14:16]), int(date[17:19]))
    if tz in (None, "UTC"):
        secs = calendar.timegm(fields)
    else:
        secs = int(datetime.datetime(*fields, tzinfo=zoneinfo.ZoneInfo(tz)).timestamp())
    return secs * 10**9 + int((frac + "000000000")[:9])


def time_zone(args):
    """The zone argument of DateTime('tz') / DateTime64(p, 'tz'), if any."""
    quoted = [a for a in args if a.startswith("'")]
    return quoted[0].strip("'") if quoted else None


def ip16(text):
    ip = ipaddress.ip_address(text)
    return (ip if ip.version == 6 else ipaddress.IPv6Address("::ffff:" + str(ip))).packed


def canon(ch, arrow, v, actual):
    """One value in canonical form. `ch`: ClickHouse type, `arrow`: the Arrow type it came
    from, `v`: the JSON value read back (actual) or the pyarrow value inserted (expected;
    timestamps as integer nanoseconds, the decoder's unit)."""
    name, args = parse_type(ch)
    if name in ("LowCardinality", "Nullable"):
        return None if v is None else canon(args[0], arrow, v, actual)
    if name == "Array":
        items = v if v is not None else []
        return tuple(canon(args[0], arrow.value_type, x, actual) for x in items)
    if name == "Map":
        pairs = v.items() if actual else (v or [])
        return tuple(sorted((canon(args[0], arrow.key_type, k, actual), canon(args[1], arrow.item_type, x, actual)) for k, x in pairs))
    if v is None:
        raise ValueError(f"null in non-Nullable {ch}")
    if name in ("Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32", "UInt64"):
        return int(v)  # 64-bit integers come back quoted; Arrow booleans go to UInt8 on 18.16
    if name == "Float32":
        return struct.unpack("f", struct.pack("f", float(v)))[0]
    if name == "Float64":
        return float(v)
    if name == "Bool":
        return bool(v)
    if name in ("Date", "Date32"):
        return zero_date(str(v))
    if name == "DateTime":
        return epoch_ns(v, time_zone(args)) // 10**9 if actual else v // 10**9
    if name == "DateTime64":
        unit = 10 ** (9 - int(args[0]))
        return (epoch_ns(v, time_zone(args)) if actual else v) // unit
    if name in ("IPv4", "IPv6"):
        return ip16(v)
    if name == "UUID":
        return str(v).replace("-", "").lower()
    if name == "FixedString":
        return v.rstrip("\x00") if actual else v
    if name == "String":
        if pa.types.is_map(arrow):  # a map stored as its JSON text
            return tuple(sorted(json.loads(v).items())) if actual else tuple(sorted(v))
        return v
    raise ValueError(f"no canonical form for ClickHouse type {ch}")


def timestamps_as_ints(t):
    """The type with every timestamp (top level or list item) read as int64 in its own unit,
    so nanoseconds survive to_pylist()."""
    if pa.types.is_timestamp(t):
        return pa.int64()
    if pa.types.is_list(t):
        return pa.list_(pa.field(t.value_field.name, timestamps_as_ints(t.value_type), t.value_field.nullable))
    return t


def expected_rows(path, meta):
    table = pq.read_table(path)
    cols = []
    for m in meta:
        col = table.column(m["name"])
        cols.append((m["type"], col.type, col.cast(timestamps_as_ints(col.type)).to_pylist()))
    return [tuple(canon(t, a, vals[i], False) for t, a, vals in cols) for i in range(table.num_rows)]


def compare(expected_path, result, arrow_schema):
    meta = result["meta"]
    want = Counter(expected_rows(expected_path, meta))
    got = Counter(tuple(canon(m["type"], arrow_schema.field(m["name"]).type, v, True) for m, v in zip(meta, row)) for row in result["data"])
    if want == got:
        print(f"ok: {sum(got.values())} rows, {len(meta)} columns")
        return 0
    missing, extra = want - got, got - want
    print(f"MISMATCH: {sum(want.values())} rows expected, {sum(got.values())} read back; {sum(missing.values())} missing, {sum(extra.values())} unexpected")
    names = [m["name"] for m in meta]
    for row in list(missing)[:3]:
        print("  missing:", dict(zip(names, row)))
    for row in list(extra)[:3]:
        print("  unexpected:", dict(zip(names, row)))
    if missing and extra:
        a, b = next(iter(missing)), next(iter(extra))
        print("  first differing columns:", [(n, x, y) for n, x, y in zip(names, a, b) if x != y][:5])
    return 1


def http_query(url, sql):
    try:
        with urllib.request.urlopen(urllib.request.Request(url + "/", data=sql.encode())) as r:
            return r.read().decode()
    except urllib.error.HTTPError as e:
        sys.exit(f"ClickHouse refused {sql!r}: {e.read().decode()}")


def session(path):
    import chdb.session
    return chdb.session.Session(path)


def chdb_query(sess, sql, fmt="CSV"):
    return sess.query(sql, fmt).bytes().decode()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=["columns", "compare", "dedup", "sql"])
    p.add_argument("--sql", help="sql mode: one statement; its answer is printed as TabSeparated")
    p.add_argument("--chdb")
    p.add_argument("--http")
    p.add_argument("--ddl")
    p.add_argument("--table")
    p.add_argument("--expected")
    p.add_argument("--native")
    p.add_argument("--token")
    a = p.parse_args()

    if a.mode == "columns":
        ddl = open(a.ddl).read()
        db, table = ddl.split("CREATE TABLE IF NOT EXISTS ", 1)[1].split("\n", 1)[0].replace("`", "").split(".")
        s = session(a.chdb)
        chdb_query(s, f"CREATE DATABASE IF NOT EXISTS `{db}`")
        chdb_query(s, ddl)
        print(chdb_query(s, f"SELECT name, type, default_kind FROM system.columns WHERE database = '{db}' AND table = '{table}' FORMAT JSONEachRow", "JSONEachRow"), end="")
        return 0

    if a.mode == "sql":
        print(chdb_query(session(a.chdb), a.sql, "TabSeparated"), end="")
        return 0

    db, table = a.table.split(".")
    if a.mode == "dedup":
        s = session(a.chdb)
        for _ in range(2):
            chdb_query(s, f"INSERT INTO `{db}`.`{table}` SETTINGS insert_deduplication_token = '{a.token}', deduplicate_blocks_in_dependent_materialized_views = 1, async_insert = 0 SELECT * FROM file('{a.native}', Native)")
        print(chdb_query(s, f"SELECT count() FROM `{db}`.`{table}`").strip())
        return 0

    arrow_schema = pq.read_schema(a.expected)
    cols = ", ".join(f"`{n}`" for n in arrow_schema.names)
    select = f"SELECT {cols} FROM `{db}`.`{table}` FORMAT JSONCompact"
    if a.http:
        return compare(a.expected, json.loads(http_query(a.http, select)), arrow_schema)
    s = session(a.chdb)
    table_types = {r["name"]: r["type"] for r in map(json.loads, chdb_query(s, f"SELECT name, type FROM system.columns WHERE database = '{db}' AND table = '{table}' FORMAT JSONEachRow", "JSONEachRow").splitlines())}
    file_meta = json.loads(chdb_query(s, f"SELECT * FROM file('{a.native}', Native) LIMIT 0 FORMAT JSONCompact", "JSONCompact"))["meta"]
    wrong = [(m["name"], m["type"], table_types.get(m["name"])) for m in file_meta if m["type"] != table_types.get(m["name"])]
    if wrong:
        print("MISMATCH: the Native file declares other types than the table (column, file, table):", wrong)
        return 1
    chdb_query(s, f"INSERT INTO `{db}`.`{table}` ({cols}) SELECT {cols} FROM file('{a.native}', Native)")
    return compare(a.expected, json.loads(chdb_query(s, select.rsplit(" FORMAT", 1)[0], "JSONCompact")), arrow_schema)


if __name__ == "__main__":
    sys.exit(main())
