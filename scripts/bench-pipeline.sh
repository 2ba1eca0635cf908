#!/usr/bin/env bash
# End-to-end benchmark on this machine: broker (tansu) → lakeport (release) → Parquet lake
# on the local S3 server (moto) + ClickHouse. Prints records/s and MB/s of the whole run,
# and lakeport's own CPU-seconds per million records and peak RSS (from the process's
# rusage, so they hold on a noisy machine).
#
#   scripts/bench-pipeline.sh [RECORDS] [DATASET] [BAD_RATIO]   (default 200000 gateway_dns 0)
#
# LAKEPORT_BENCH_LAKE=local writes the lake to local disk instead of S3.
# LAKEPORT_BENCH_LIVE=N generates records in arrival order at N a second (`gen --live`), so a
# batch touches one or two hourly partitions as on a live feed; by default they are spread
# over 48 h, and each batch writes ~48 lake files.
# To compare with another revision in the same session: build it in a worktree, then
# LAKEPORT_BENCH_BIN=its/lakeport LAKEPORT_BENCH_ROOT=the/worktree (its pipelines and schemas).
# scripts/profile-pipeline.sh runs this under perf and prints where the CPU goes.
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
export LAKEPORT_DEAD_LETTER_URL="$work/dead-letters" RUST_LOG=warn
if [[ "${LAKEPORT_BENCH_LAKE:-s3}" == local ]]; then
  export LAKEPORT_LAKE_URL="$work/lake"
else
  export LAKEPORT_LAKE_URL="s3://$id/lake" AWS_ENDPOINT_URL="$LAKEPORT_TEST_S3_ENDPOINT" AWS_ALLOW_HTTP=true \
    AWS_REGION="$LAKEPORT_TEST_S3_REGION" AWS_ACCESS_KEY_ID="$LAKEPORT_TEST_S3_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$LAKEPORT_TEST_S3_SECRET_ACCESS_KEY"
  "$LAKEPORT_TEST_PYTHON" -c "import boto3, sys; boto3.client('s3', endpoint_url=sys.argv[1]).create_bucket(Bucket=sys.argv[2])" "$AWS_ENDPOINT_URL" "$id"
fi
timeline=()
if [[ -n "${LAKEPORT_BENCH_LIVE:-}" ]]; then timeline=(--live "$LAKEPORT_BENCH_LIVE"); fi
"$lakeport" gen --dataset "$dataset" --count "$records" --seed 1 --bad-ratio "$bad" "${timeline[@]}" --kafka "$LAKEPORT_KAFKA_BROKERS" --topic "$id" --partitions 2 2>/dev/null
echo "lake: $LAKEPORT_LAKE_URL; record times: $([[ -n "${LAKEPORT_BENCH_LIVE:-}" ]] && echo "live, $LAKEPORT_BENCH_LIVE/s" || echo "spread over 48 h")"
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
      f"({records / cpu:,.0f} records/s per core, {mb / cpu:.1f} MB/s per core); peak RSS {ru.ru_maxrss / 1024:.0f} MB")
PY
