#!/usr/bin/env bash
# Table design, measured on the modern engine (chDB, in-process ClickHouse): the shipped
# schemas' tables against those of an earlier revision, on the same generated records
# (48 hours, seed 7). Prints bytes on disk per row (after OPTIMIZE FINAL) and, for every
# ClickHouse query of docs/queries.md, the rows and bytes it read from storage.
#
#   scripts/bench-tables.sh [RECORDS] [BASE_REV]   (default 500000 per dataset, fee948c)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
records="${1:-500000}" base="${2:-fee948c}"
scripts/setup.sh >/dev/null
cargo build --release --bin lakeport 2>/dev/null
lakeport="${CARGO_TARGET_DIR:-target}/release/lakeport"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for dataset in gateway_dns gateway_http; do
  "$lakeport" gen --dataset "$dataset" --count "$records" --seed 7 --bad-ratio 0 --out "$work/$dataset.ndjson" 2>/dev/null
  "$lakeport" convert --schema "$dataset" "$work/$dataset.ndjson" --out "$work/$dataset.parquet" >/dev/null 2>&1
  git show "$base:schemas/$dataset.toml" > "$work/$dataset.before.toml"
  "$lakeport" schema ddl "$work/$dataset.before.toml" --dialect modern > "$work/$dataset.before.sql"
  "$lakeport" schema ddl "$dataset" --dialect modern > "$work/$dataset.after.sql"
done
.lakeport/venv/bin/python scripts/bench_tables.py "$work" docs/queries.md "$base"
