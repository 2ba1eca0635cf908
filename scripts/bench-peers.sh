#!/usr/bin/env bash
# Peers benchmark: the same generated NDJSON file converted to zstd Parquet by lakeport
# (`convert`), DuckDB (`read_json_auto`), chDB (ClickHouse's engine, `JSONEachRow`) and
# pyarrow (`read_json` with an explicit schema), on one thread each and then on every core.
# Prints CPU-seconds (user+sys of the work, without the interpreter's start), wall time,
# peak RSS, rows written, and each peer's CPU as a multiple of lakeport's.
#
#   scripts/bench-peers.sh [RECORDS] [DATASET]   (default 200000 gateway_dns)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
records="${1:-200000}" dataset="${2:-gateway_dns}"
scripts/setup.sh >/dev/null
cargo build --release --bin lakeport 2>/dev/null
lakeport="$(realpath "${CARGO_TARGET_DIR:-target}/release/lakeport")"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$lakeport" gen --dataset "$dataset" --count "$records" --seed 1 --out "$work/in.ndjson" 2>/dev/null
exec .lakeport/venv/bin/python - "$lakeport" "$dataset" "$work" "$(nproc)" <<'PY'
import json, os, subprocess, sys, time, tomllib
lakeport, dataset, work, cores = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
src = f"{work}/in.ndjson"
mb = os.path.getsize(src) / 1e6

# Each peer runs in a child Python that times only its own work (after imports).
CHILD = r'''
import json, resource, sys, time
tool, threads, src, out, schema_file = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
def usage():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
if tool == "duckdb":
    import duckdb
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    run = lambda: con.execute(f"COPY (SELECT * FROM read_json_auto('{src}')) TO '{out}' (FORMAT parquet, COMPRESSION zstd)")
elif tool == "chdb":
    import chdb
    run = lambda: chdb.query(f"INSERT INTO FUNCTION file('{out}', Parquet) SELECT * FROM file('{src}', JSONEachRow) SETTINGS max_threads = {threads}, output_format_parquet_compression_method = 'zstd'")
else:
    import tomllib, pyarrow as pa, pyarrow.json as pj, pyarrow.parquet as pq
    pa.set_cpu_count(threads); pa.set_io_thread_count(threads)
    types = {"string": pa.string(), "bool": pa.bool_(), "float64": pa.float64(), "json": pa.string(), "ip": pa.string(),
             "timestamp": pa.string(), "date": pa.string()}
    def arrow(f):
        t = f["type"]
        if t.startswith("list<"):
            return pa.list_(types.get(t[5:-1]) or getattr(pa, t[5:-1])())
        return types.get(t) or getattr(pa, t)()
    with open(schema_file, "rb") as fh:
        fields = tomllib.load(fh)["field"]
    schema = pa.schema([(f.get("source", f["name"]), arrow(f)) for f in fields if not f.get("derived")])
    opts = pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
    run = lambda: pq.write_table(pj.read_json(src, parse_options=opts), out, compression="zstd")
before, start = usage(), time.monotonic()
try:
    run()
    error = None
except Exception as e:
    error = str(e).splitlines()[0][:160]
print(json.dumps({"cpu": usage() - before, "wall": time.monotonic() - start,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "error": error}))
'''

def rows(path):
    import pyarrow.parquet as pq
    return pq.ParquetFile(path).metadata.num_rows

def run_lakeport(threads):
    out = f"{work}/lakeport-{threads}.parquet"
    start = time.monotonic()
    p = subprocess.Popen([lakeport, "convert", "--schema", dataset, src, "--out", out, "--threads", str(threads)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    assert status == 0, f"lakeport convert failed ({status})"
    return {"cpu": ru.ru_utime + ru.ru_stime, "wall": time.monotonic() - start, "rss_mb": ru.ru_maxrss / 1024, "error": None, "rows": rows(out)}

def run_peer(tool, threads):
    out = f"{work}/{tool}-{threads}.parquet"
    p = subprocess.run([sys.executable, "-c", CHILD, tool, str(threads), src, out, f"schemas/{dataset}.toml"],
                       capture_output=True, text=True)
    if p.returncode != 0:
        return {"error": (p.stderr.strip().splitlines() or ["exit %d" % p.returncode])[-1][:160]}
    r = json.loads(p.stdout.strip().splitlines()[-1])
    r["rows"] = rows(out) if r["error"] is None else None
    return r

print(f"{dataset}: {mb:.0f} MB of NDJSON → zstd Parquet on this machine ({cores} cores)")
print(f"{'tool':<10}{'threads':>8}{'CPU-s':>8}{'wall s':>8}{'MB/s':>8}{'peak RSS MB':>13}{'rows':>9}{'CPU vs lakeport':>17}")
for threads in sorted({1, cores}):
    base = run_lakeport(threads)
    for tool, r in [("lakeport", base)] + [(t, run_peer(t, threads)) for t in ("duckdb", "chdb", "pyarrow")]:
        if r.get("error"):
            print(f"{tool:<10}{threads:>8}  fails: {r['error']}")
            continue
        print(f"{tool:<10}{threads:>8}{r['cpu']:>8.2f}{r['wall']:>8.2f}{mb / r['wall']:>8.0f}{r['rss_mb']:>13.0f}{r['rows']:>9}{r['cpu'] / base['cpu']:>16.2f}×")
PY
