#!/usr/bin/env bash
# The main job on embedded defaults: the real Kafka → Parquet lake + ClickHouse pipeline,
# on local services.
#
#   scripts/demo.sh [RECORDS_PER_DATASET]     (default 100000)
#
# 1. installs and starts the services (scripts/setup.sh, scripts/services.sh start):
#    a Kafka-compatible broker (tansu), ClickHouse, an S3 server (unused here)
# 2. builds lakeport (release)
# 3. for gateway_http and gateway_dns: generates synthetic logs with 1% malformed records
#    and produces them to a topic; `lakeport migrate` creates the ClickHouse table;
#    `lakeport run --until-caught-up` consumes the topic into the lake (.lakeport/demo/lake)
#    and ClickHouse, dead letters to .lakeport/demo/dead-letters, then prints its summary
# 4. shows a query over the new table. The services keep running (scripts/services.sh stop).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
count="${1:-100000}"
step() { printf '\n==> lakeport demo: %s\n' "$*"; }

step "installing what the services need (scripts/setup.sh)"
scripts/setup.sh
step "starting the services (scripts/services.sh start)"
scripts/services.sh start
# shellcheck source=/dev/null
source .lakeport/services/env
step "building lakeport (cargo build --release)"
cargo build --release --bin lakeport
lakeport=target/release/lakeport
[[ -n "${CARGO_TARGET_DIR:-}" ]] && lakeport="$CARGO_TARGET_DIR/release/lakeport"

run_id="demo_$(date +%s)"
export LAKEPORT_KAFKA_BROKERS="$LAKEPORT_TEST_KAFKA_BROKERS"
export LAKEPORT_CLICKHOUSE_URL="$LAKEPORT_TEST_CLICKHOUSE_URL"
export LAKEPORT_CLICKHOUSE_DATABASE=lakeport
export LAKEPORT_GROUP_ID="lakeport-$run_id"
export LAKEPORT_LAKE_URL="$PWD/.lakeport/demo/lake"
export LAKEPORT_DEAD_LETTER_URL="$PWD/.lakeport/demo/dead-letters"
export LAKEPORT_GATEWAY_DNS_METRICS=127.0.0.1:0 LAKEPORT_GATEWAY_HTTP_METRICS=127.0.0.1:0

for dataset in gateway_http gateway_dns; do
  topic="${dataset}_$run_id"
  upper="$(echo "$dataset" | tr '[:lower:]' '[:upper:]')"
  export "LAKEPORT_${upper}_TOPIC=$topic"
  step "$dataset: producing $count generated records (1% malformed) to topic $topic"
  "$lakeport" gen --dataset "$dataset" --count "$count" --bad-ratio 0.01 --seed 1 --kafka "$LAKEPORT_KAFKA_BROKERS" --topic "$topic" --partitions 3
  step "$dataset: lakeport migrate pipelines/$dataset.toml"
  "$lakeport" migrate "pipelines/$dataset.toml"
  step "$dataset: lakeport run pipelines/$dataset.toml --until-caught-up"
  "$lakeport" run "pipelines/$dataset.toml" --until-caught-up
done

step "top blocked domains in ClickHouse (lakeport.gateway_dns)"
curl -sS "$LAKEPORT_CLICKHOUSE_URL/" --data-binary \
  "SELECT query_name, count() AS queries FROM lakeport.gateway_dns WHERE resolver_decision LIKE 'blocked%' GROUP BY query_name ORDER BY queries DESC LIMIT 5 FORMAT PrettyCompact"
step "done: lake in .lakeport/demo/lake, dead letters in .lakeport/demo/dead-letters; stop the services with scripts/services.sh stop"
