#!/usr/bin/env python3
"""Independent check of a lakeport Parquet lake: pyarrow and duckdb read it with Hive
partitioning and must find exactly the rows of EXPECTED, a plain Parquet file of every row
written (partition columns included).

usage: verify_lake.py EXPECTED ROOT --partition-by C1,C2 --columns X,Y [--endpoint URL]

ROOT is the dataset's folder: a local path or s3://bucket/prefix/dataset (credentials in
AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_REGION, server at --endpoint).

- pyarrow (reading S3 directly): for every partition directory, the values Hive inference
  gives the partition columns equal the directory's decoded values, and the rows of its
  files (in name order) equal, column for column, the EXPECTED rows with those partition
  values, in order.
- duckdb (reading a byte-exact local copy when ROOT is on S3: duckdb's httpfs cannot be
  installed offline): per partition, the row count and a hash of each --columns column
  equal those of EXPECTED; the inferred types are DATE for dates, BIGINT for integers.
"""
import argparse
import collections
import datetime
import os
import sys
import tempfile
import urllib.parse

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

NULL_DIR = "__HIVE_DEFAULT_PARTITION__"


def fail(message):
    print(f"verify_lake: FAIL: {message}")
    sys.exit(1)


def norm(value):
    """A partition value as text, as it is in a directory name; "" and null are null."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


def filesystem(root, endpoint):
    if not root.startswith("s3://"):
        return pafs.LocalFileSystem(), root
    if not endpoint:
        fail("--endpoint is needed for s3:// roots")
    scheme, host = endpoint.split("://", 1)
    s3 = pafs.S3FileSystem(
        access_key=os.environ["AWS_ACCESS_KEY_ID"],
        secret_key=os.environ["AWS_SECRET_ACCESS_KEY"],
        region=os.environ.get("AWS_REGION", "us-east-1"),
        endpoint_override=host,
        scheme=scheme,
    )
    return s3, root[len("s3://"):]


def directory_key(directory, root, part):
    """The partition values a directory names, decoded by hand (not by the readers)."""
    segments = directory[len(root):].strip("/").split("/")
    if [s.split("=", 1)[0] for s in segments] != part:
        fail(f"directory {directory!r} does not hold exactly the partition columns {part}")
    raw = [s.split("=", 1)[1] for s in segments]
    return tuple(None if v == NULL_DIR else urllib.parse.unquote(v) for v in raw)


def check_pyarrow(fs, root, expected, part):
    data_cols = [c for c in expected.column_names if c not in part]
    columns = {c: [norm(v) for v in expected[c].to_pylist()] for c in part}
    groups = collections.defaultdict(list)
    for i in range(expected.num_rows):
        groups[tuple(columns[c][i] for c in part)].append(i)

    dataset = ds.dataset(root, filesystem=fs, format="parquet",
                         partitioning=ds.HivePartitioning.discover(infer_dictionary=False))
    for c in data_cols:
        if dataset.schema.field(c).type != expected.schema.field(c).type:
            fail(f"pyarrow: column {c} is {dataset.schema.field(c).type}, expected {expected.schema.field(c).type}")
    for c in part:
        integer = pa.types.is_integer(expected.schema.field(c).type)
        inferred = dataset.schema.field(c).type
        if integer != pa.types.is_integer(inferred):
            fail(f"pyarrow infers {inferred} for partition column {c} ({expected.schema.field(c).type} in the data)")
    by_dir = collections.defaultdict(list)
    for fragment in sorted(dataset.get_fragments(), key=lambda f: f.path):
        by_dir[os.path.dirname(fragment.path)].append(fragment)
    found = set(directory_key(d, root, part) for d in by_dir)
    if found != set(groups):
        fail(f"pyarrow: {len(found)} directories for {len(groups)} partitions of EXPECTED; directories without rows "
             f"{sorted(map(str, found - set(groups)))[:3]}, rows without directory {sorted(map(str, set(groups) - found))[:3]}")
    for directory, fragments in by_dir.items():
        key = directory_key(directory, root, part)
        table = pa.concat_tables(f.to_table(schema=dataset.schema) for f in fragments)
        # pyarrow decodes %5F_HIVE_DEFAULT_PARTITION__ before comparing with its null name.
        want = tuple(None if v == NULL_DIR else v for v in key)
        for c, value in zip(part, want):
            got = set(norm(v) for v in table[c].to_pylist())
            if got != {value}:
                fail(f"pyarrow: {directory}: Hive inference gives {c} = {got}, the directory says {value!r}")
        rows = expected.take(groups[key]).select(data_cols)
        if table.num_rows != rows.num_rows:
            fail(f"pyarrow: {directory}: {table.num_rows} rows, expected {rows.num_rows}")
        for c in data_cols:
            if not table[c].equals(rows[c]):
                fail(f"pyarrow: {directory}: column {c} differs from EXPECTED")
    print(f"verify_lake: pyarrow: {len(by_dir)} partitions, {expected.num_rows} rows, every value equal; "
          f"inferred {', '.join(f'{c}: {dataset.schema.field(c).type}' for c in part)}")


def check_duckdb(root, expected_path, expected, part, columns):
    lake = f"read_parquet('{root}/**/*.parquet', hive_partitioning=true)"
    types = dict(duckdb.sql(f"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM {lake})").fetchall())
    want_types = {}
    for c in part:
        t = expected.schema.field(c).type
        want_types[c] = "DATE" if pa.types.is_date(t) else "BIGINT" if pa.types.is_integer(t) else None
        if want_types[c] and types[c] != want_types[c]:
            fail(f"duckdb infers {types[c]} for partition column {c}, expected {want_types[c]}")

    def partition_expr(c):
        if want_types[c] is None:
            return f"nullif(CAST({c} AS VARCHAR), '')"
        return f"CAST({c} AS {want_types[c]})"

    keys = ", ".join(f"{partition_expr(c)} AS {c}" for c in part)
    hashes = ", ".join(f"sum(hash({c}))::HUGEINT" for c in columns)
    query = "SELECT {keys}, count(*), {hashes} FROM {src} GROUP BY ALL ORDER BY ALL NULLS FIRST"
    got = duckdb.sql(query.format(keys=keys, hashes=hashes, src=lake)).fetchall()
    want = duckdb.sql(query.format(keys=keys, hashes=hashes, src=f"read_parquet('{expected_path}')")).fetchall()
    if got != want:
        diff = [r for r in got if r not in want][:3] + [r for r in want if r not in got][:3]
        fail(f"duckdb: per-partition counts/hashes differ ({len(got)} vs {len(want)} partitions), e.g. {diff}")
    print(f"verify_lake: duckdb: {len(got)} partitions, counts and hashes of {', '.join(columns)} equal; "
          f"inferred {', '.join(f'{c}: {types[c]}' for c in part)}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("expected")
    parser.add_argument("root")
    parser.add_argument("--partition-by", required=True)
    parser.add_argument("--columns", required=True)
    parser.add_argument("--endpoint")
    args = parser.parse_args()
    part = args.partition_by.split(",")
    expected = pq.read_table(args.expected)
    fs, root = filesystem(args.root.rstrip("/"), args.endpoint)
    check_pyarrow(fs, root, expected, part)
    with tempfile.TemporaryDirectory() as mirror:
        if isinstance(fs, pafs.S3FileSystem):
            pafs.copy_files(root, mirror, source_filesystem=fs, destination_filesystem=pafs.LocalFileSystem())
            root = mirror
        check_duckdb(root, args.expected, expected, part, args.columns.split(","))


if __name__ == "__main__":
    main()
