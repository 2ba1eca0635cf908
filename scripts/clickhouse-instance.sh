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
  --logger.errorlog="$dir/err"
