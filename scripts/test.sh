#!/usr/bin/env bash
# THE lakeport test command.
#
#   scripts/test.sh [CARGO TEST ARGS...]
#
# 1. scripts/setup.sh           install ClickHouse, the Python venv, tansu (idempotent)
# 2. scripts/services.sh start  ClickHouse, Kafka (tansu), S3 (moto) on loopback
# 3. source .lakeport/services/env  (LAKEPORT_TEST_* connection info)
# 4. cargo test --workspace --all-targets --no-fail-fast ARGS
#    (benches are built in test mode, not benchmarked)
# 5. cargo test --workspace --doc --no-fail-fast ARGS
# Services are stopped on exit (set LAKEPORT_KEEP_SERVICES=1 to keep them).
# Exit status: the first failing cargo's status, else 0.
#
# Extra args go to both cargo runs, e.g. `scripts/test.sh -p sink`,
# `scripts/test.sh some_test_name -- --nocapture`. If they select targets
# themselves (--lib, --test X, ...), only `cargo test --workspace ARGS` runs.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

step() { printf '\n==> lakeport test: %s\n' "$*"; }

step "setup (scripts/setup.sh)"
scripts/setup.sh

# shellcheck disable=SC2317  # called via trap
cleanup() {
  if [[ "${LAKEPORT_KEEP_SERVICES:-0}" == 1 ]]; then
    step "leaving services running (LAKEPORT_KEEP_SERVICES=1; stop: scripts/services.sh stop)"
  else
    step "stopping services"
    scripts/services.sh stop || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

step "starting services (scripts/services.sh start)"
scripts/services.sh start
# shellcheck source=/dev/null
source .lakeport/services/env
export RUST_BACKTRACE="${RUST_BACKTRACE:-1}"

# Do the extra args pick targets themselves? Then --all-targets/--doc don't apply.
own_targets=0
for a in "$@"; do
  [[ "$a" == -- ]] && break
  case "$a" in
    --lib | --bins | --bin | --bin=* | --examples | --example | --example=* | \
    --tests | --test | --test=* | --benches | --bench | --bench=* | --all-targets | --doc)
      own_targets=1 ;;
  esac
done

# --no-fail-fast: report every failing test binary, not just the first.
nff="--no-fail-fast"
for a in "$@"; do [[ "$a" != --no-fail-fast ]] || nff=""; done

if ((own_targets)); then
  runs=("cargo test --workspace $nff")
else
  runs=("cargo test --workspace --all-targets $nff" "cargo test --workspace --doc $nff")
fi

# Cargo's stdout (the test binaries' results) is also copied to a log, to add
# up a summary at the end.
results="$ROOT/.lakeport/test-output.log"
mkdir -p "$ROOT/.lakeport"
: >"$results"

status=0
for run in "${runs[@]}"; do
  step "$run${*:+ $*}"
  set +e
  # shellcheck disable=SC2086  # $run is split into words on purpose
  $run "$@" | tee -a "$results"
  rc=${PIPESTATUS[0]}
  set -e
  if ((rc != 0)); then
    printf '==> lakeport test: FAILED (exit %d): %s\n' "$rc" "$run"
    ((status != 0)) || status=$rc
  fi
done

# Summary over all runs, from libtest's "test result: ..." lines.
read -r passed failed ignored < <(awk '
  /^test result:/ {
    for (i = 1; i <= NF; i++) {
      if ($(i) ~ /^passed;?$/)  p += $(i - 1)
      if ($(i) ~ /^failed;?$/)  f += $(i - 1)
      if ($(i) ~ /^ignored;?$/) g += $(i - 1)
    }
  }
  END { print p + 0, f + 0, g + 0 }' "$results")

step "done (exit $status)"
echo "lakeport: $passed passed, $failed failed, $ignored skipped"
exit "$status"
