#!/usr/bin/env bash
# Run a private ClickHouse server in the foreground (exec: the pid is the
# server's), leaving the system-wide instance and /var/lib/clickhouse alone.
#
#   scripts/clickhouse-instance.sh DATA_DIR HTTP_PORT TCP_PORT INTERSERVER_PORT
#
# Used by scripts/services.sh; tests that need their own ClickHouse to kill and
# restart (fault injection) can spawn it too ($LAKEPORT_TEST_CLICKHOUSE_LAUNCHER).
# Restarting with the same DATA_DIR keeps the tables. Server log: DATA_DIR/log,
# errors: DATA_DIR/err. Readiness: `curl http://127.0.0.1:HTTP_PORT/ping` → "Ok.".
#
# For replicated tables: LAKEPORT_CLICKHOUSE_ZOOKEEPER=HOST:PORT names the ZooKeeper
# (scripts/zookeeper-instance.sh) and LAKEPORT_CLICKHOUSE_REPLICA the macro {replica}
# (default: the HTTP port; the macro {shard} is 01); replicas fetch parts from each other on
# 127.0.0.1. LAKEPORT_CLICKHOUSE_CLUSTER=NAME:TCP_PORT,TCP_PORT… also defines a cluster NAME
# of one shard whose replicas are the servers on those ports (for ON CLUSTER statements).
#
# For HTTPS: LAKEPORT_CLICKHOUSE_HTTPS_PORT=PORT serves https on it with
# LAKEPORT_CLICKHOUSE_TLS_DIR/server.pem and server.key, and asks every client for a
# certificate signed by LAKEPORT_CLICKHOUSE_TLS_DIR/ca.pem (mutual TLS).
set -euo pipefail

if (($# != 4)); then
  echo "usage: $0 DATA_DIR HTTP_PORT TCP_PORT INTERSERVER_PORT" >&2
  exit 2
fi
dir="${1%/}" http="$2" tcp="$3" inter="$4"

server="${LAKEPORT_CLICKHOUSE_SERVER:-$(command -v clickhouse-server || echo /usr/sbin/clickhouse-server)}"
config="${LAKEPORT_CLICKHOUSE_CONFIG:-/etc/clickhouse-server/config.xml}"
[[ -x "$server" ]] || { echo "clickhouse-server not found (run scripts/setup.sh)" >&2; exit 1; }

mkdir -p "$dir/tmp" "$dir/uf" "$dir/fs"
dir="$(cd "$dir" && pwd)"   # ClickHouse wants absolute paths with a trailing /
cd "$dir"

if [[ -n "${LAKEPORT_CLICKHOUSE_ZOOKEEPER:-}" ]]; then
  # ClickHouse merges config.d/*.xml next to its config file: a copy of it here, plus
  # the ZooKeeper and the replica's macros.
  mkdir -p "$dir/etc/config.d"
  cp "$config" "$dir/etc/config.xml"
  users="$(dirname "$config")/users.xml"
  config="$dir/etc/config.xml"
  cat >"$dir/etc/config.d/replication.xml" <<XML
<yandex>
  <zookeeper>
    <node><host>${LAKEPORT_CLICKHOUSE_ZOOKEEPER%:*}</host><port>${LAKEPORT_CLICKHOUSE_ZOOKEEPER##*:}</port></node>
    <!-- a killed replica's session (and its is_active node) expires in seconds, not 30 s -->
    <session_timeout_ms>6000</session_timeout_ms>
  </zookeeper>
  <macros><shard>01</shard><replica>${LAKEPORT_CLICKHOUSE_REPLICA:-$http}</replica></macros>
  <interserver_http_host>127.0.0.1</interserver_http_host>
  <users_config>$users</users_config>
</yandex>
XML
  if [[ -n "${LAKEPORT_CLICKHOUSE_CLUSTER:-}" ]]; then
    # NAME:TCP_PORT,TCP_PORT,…: one shard whose replicas are those servers on 127.0.0.1.
    name="${LAKEPORT_CLICKHOUSE_CLUSTER%%:*}" replicas=""
    IFS=, read -ra ports <<<"${LAKEPORT_CLICKHOUSE_CLUSTER#*:}"
    for p in "${ports[@]}"; do replicas+="<replica><host>127.0.0.1</host><port>$p</port></replica>"; done
    cat >"$dir/etc/config.d/cluster.xml" <<XML
<yandex>
  <remote_servers><$name><shard><internal_replication>true</internal_replication>$replicas</shard></$name></remote_servers>
</yandex>
XML
  fi
fi

tls=()
if [[ -n "${LAKEPORT_CLICKHOUSE_HTTPS_PORT:-}" ]]; then
  certs="${LAKEPORT_CLICKHOUSE_TLS_DIR:?LAKEPORT_CLICKHOUSE_TLS_DIR names the folder of server.pem, server.key and ca.pem}"
  tls=(--https_port="$LAKEPORT_CLICKHOUSE_HTTPS_PORT"
    --openSSL.server.certificateFile="$certs/server.pem" --openSSL.server.privateKeyFile="$certs/server.key"
    --openSSL.server.dhParamsFile= --openSSL.server.caConfig="$certs/ca.pem" --openSSL.server.verificationMode=strict)
fi

# Everything after `--` overrides a key of config.xml. ClickHouse 18.16 takes
# the paths only with a trailing slash.
exec "$server" --config-file="$config" -- \
  --path="$dir/" \
  --tmp_path="$dir/tmp/" \
  --user_files_path="$dir/uf/" \
  --format_schema_path="$dir/fs/" \
  --http_port="$http" \
  --tcp_port="$tcp" \
  --interserver_http_port="$inter" \
  --listen_host=127.0.0.1 \
  --logger.log="$dir/log" \
  --logger.errorlog="$dir/err" \
  "${tls[@]}"
