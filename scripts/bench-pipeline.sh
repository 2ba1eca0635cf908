#!/usr/bin/env bash
# End-to-end benchmark on this machine: broker (tansu) → lakeport (release) → Parquet lake
# on local disk + ClickHouse. Prints records/s and MB/s of the whole run, and lakeport's
# own CPU-seconds per million records (from the process's rusage, so it holds on a noisy
# machine).
#
#   scripts/bench-pipeline.sh [RECORDS] [DATASET] [BAD_RATIO]   (default 200000 gateway_dns 0)
#
# To compare with another revision in the same session: build it in a worktree, then
# LAKEPORT_BENCH_BIN=its/lakeport LAKEPORT_BENCH_ROOT=the/worktree (its pipelines and schemas).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
records="${1:-200000}" dataset="${2:-gateway_dns}" bad="${3:-0}"
scripts/setup.sh >/dev/null
scripts/services.sh start >/dev/null
# shellcheck source=/dev/null
source .lakeport/services/env
if [[ -z "${LAKEPORT_BENCH_BIN:-}" ]]; then
  cargo build --release --bin lakeport 2>/dev/null
fi
lakeport="${LAKEPORT_BENCH_BIN:-${CARGO_TARGET_DIR:-target}/release/lakeport}"
pipelines="${LAKEPORT_BENCH_ROOT:-.}/pipelines"
id="bench_$(date +%s)"
upper="$(echo "$dataset" | tr '[:lower:]' '[:upper:]')"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export LAKEPORT_KAFKA_BROKERS="$LAKEPORT_TEST_KAFKA_BROKERS" LAKEPORT_CLICKHOUSE_URL="$LAKEPORT_TEST_CLICKHOUSE_URL"
export LAKEPORT_CLICKHOUSE_DATABASE="$id" LAKEPORT_GROUP_ID="$id" "LAKEPORT_${upper}_TOPIC=$id" "LAKEPORT_${upper}_METRICS=127.0.0.1:0"
export LAKEPORT_LAKE_URL="$work/lake" LAKEPORT_DEAD_LETTER_URL="$work/dead-letters" RUST_LOG=warn
"$lakeport" gen --dataset "$dataset" --count "$records" --seed 1 --bad-ratio "$bad" --kafka "$LAKEPORT_KAFKA_BROKERS" --topic "$id" --partitions 2 2>/dev/null
"$lakeport" migrate "$pipelines/$dataset.toml" >/dev/null
"$LAKEPORT_TEST_PYTHON" - "$lakeport" "$pipelines/$dataset.toml" <<'PY'
import re, resource, subprocess, sys, time
start = time.monotonic()
out = subprocess.run([sys.argv[1], "run", sys.argv[2], "--until-caught-up", "--no-progress"], check=True, capture_output=True, text=True).stdout
wall = time.monotonic() - start
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
cpu = ru.ru_utime + ru.ru_stime
records = int(re.search(r"(\d+) records in", out).group(1))
mb = float(re.search(r"\(([\d.]+) MB\)", out).group(1))
print(out.strip())
print(f"end to end: {records} records, {mb:.1f} MB in {wall:.1f} s wall (consumer-group join included): "
      f"{records / wall:,.0f} records/s, {mb / wall:.1f} MB/s")
print(f"lakeport CPU: {cpu:.1f} s user+sys = {cpu / records * 1e6:.1f} CPU-seconds per million records "
      f"({records / cpu:,.0f} records/s per core, {mb / cpu:.1f} MB/s per core)")
PY
