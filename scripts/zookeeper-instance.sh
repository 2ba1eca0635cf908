#!/usr/bin/env bash
# Run a private standalone ZooKeeper (Debian's `zookeeper` package) in the foreground
# (exec: the pid is the server's), for replicated ClickHouse tables in tests.
#
#   scripts/zookeeper-instance.sh DATA_DIR CLIENT_PORT
#
# Restarting with the same DATA_DIR keeps its data. Readiness: a TCP connect to
# CLIENT_PORT. Its log goes to standard output.
set -euo pipefail

if (($# != 2)); then
  echo "usage: $0 DATA_DIR CLIENT_PORT" >&2
  exit 2
fi
dir="${1%/}" port="$2"
jar=/usr/share/java/zookeeper.jar
[[ -r "$jar" ]] || { echo "ZooKeeper not installed ($jar missing): run scripts/setup.sh" >&2; exit 1; }
command -v java >/dev/null 2>&1 || { echo "java not found (comes with the zookeeper package): run scripts/setup.sh" >&2; exit 1; }
mkdir -p "$dir"
# The jar's manifest names its dependencies; slf4j-simple prints its log.
exec java -Xmx256m -Dzookeeper.admin.enableServer=false -Dzookeeper.4lw.commands.whitelist='*' \
  -cp "$jar:/usr/share/java/slf4j-simple.jar" \
  org.apache.zookeeper.server.ZooKeeperServerMain "$port" "$dir"
