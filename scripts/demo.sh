#!/usr/bin/env bash
# The main job on local services: the real Kafka → Parquet lake + ClickHouse pipeline.
#
#   scripts/demo.sh [RECORDS_PER_DATASET]     (default 100000)
#
# 1. installs and starts the services (scripts/setup.sh, scripts/services.sh start) and
#    builds lakeport (release); their output goes to .lakeport/demo/setup.log, one line
#    per step here; a second run reuses all of it
# 2. for gateway_http and gateway_dns: generates the last 48 hours of synthetic logs (1%
#    malformed) to a new topic, `lakeport migrate`, `lakeport run --until-caught-up` with a
#    progress bar into the lake (.lakeport/demo/lake) and ClickHouse (database lakeport),
#    dead letters to .lakeport/demo/dead-letters
# 3. asks docs/queries.md's questions of both sinks, shows four answers (one also from a rollup), and
#    `lakeport verify`s both pipelines. The services keep running (scripts/services.sh stop).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
count="${1:-100000}"
mkdir -p .lakeport/demo
log=.lakeport/demo/setup.log
: >"$log"
step() { printf '\n==> %s\n' "$*"; }
quietly() { # quietly WHAT COMMAND…: one line, the output to the log; its tail on failure
  printf '  %-58s' "$1"; shift
  local t0=$SECONDS
  if "$@" >>"$log" 2>&1; then printf 'ok (%ds)\n' $((SECONDS - t0)); else
    printf 'FAILED\n'; tail -n 30 "$log" >&2; echo "lakeport demo: see $log" >&2; exit 1; fi
}

step "setting up (output in $log)"
quietly "installing what the services need (scripts/setup.sh)" scripts/setup.sh
quietly "starting Kafka, ClickHouse and S3 (scripts/services.sh)" scripts/services.sh start
quietly "building lakeport (cargo build --release)" cargo build --release --bin lakeport
# shellcheck source=/dev/null
source .lakeport/services/env
lakeport="${CARGO_TARGET_DIR:-target}/release/lakeport"

run_id="demo_$(date +%s)"
export LAKEPORT_CLICKHOUSE_DATABASE=lakeport
export LAKEPORT_GROUP_ID="lakeport-$run_id"
export LAKEPORT_LAKE_URL="$PWD/.lakeport/demo/lake"
export LAKEPORT_DEAD_LETTER_URL="$PWD/.lakeport/demo/dead-letters"
export LAKEPORT_GATEWAY_DNS_METRICS=127.0.0.1:0 LAKEPORT_GATEWAY_HTTP_METRICS=127.0.0.1:0

for dataset in gateway_http gateway_dns; do
  topic="${dataset}_$run_id"
  upper="$(echo "$dataset" | tr '[:lower:]' '[:upper:]')"
  export "LAKEPORT_${upper}_TOPIC=$topic"
  step "$dataset"
  quietly "producing $count records of the last 48 h (1% malformed)" \
    "$lakeport" gen --dataset "$dataset" --count "$count" --bad-ratio 0.01 --seed "$RANDOM" --start now --kafka "$LAKEPORT_KAFKA_BROKERS" --topic "$topic" --partitions 3
  quietly "lakeport migrate pipelines/$dataset.toml" "$lakeport" migrate "pipelines/$dataset.toml"
  echo "  lakeport run pipelines/$dataset.toml --until-caught-up"
  "$lakeport" run "pipelines/$dataset.toml" --until-caught-up 2>>"$log"
done

step "docs/queries.md, asked of ClickHouse and of the lake (DuckDB); four answers shown, the first also from a rollup"
"$LAKEPORT_TEST_PYTHON" tests/query_pairs.py docs/queries.md --clickhouse "$LAKEPORT_CLICKHOUSE_URL" --database lakeport \
  --lake "$LAKEPORT_LAKE_URL" --now "$(date -u +%Y-%m-%dT%H:%M:00Z)" --show 2,3,5,13 \
  || echo "lakeport demo: the sinks disagree on a question above (FAIL lines)" >&2

step "lakeport verify: both sinks against the ledger, batch by batch"
for dataset in gateway_http gateway_dns; do
  "$lakeport" verify "pipelines/$dataset.toml" 2>&1 | tail -n 3
done

step "where to look next"
cat <<EOT
  lake:           .lakeport/demo/lake/<dataset>/date=…/hour=…/*.parquet
  dead letters:   .lakeport/demo/dead-letters/<dataset>/*.ndjson (reason and raw record)
  ClickHouse:     $LAKEPORT_CLICKHOUSE_URL  (database lakeport; docs/queries.md)
  metrics:        a continuous \`lakeport run pipelines/gateway_dns.toml\` serves /metrics and
                  /health on [runtime] metrics_listen (docs/operations.md)
  services:       scripts/services.sh stop
EOT
