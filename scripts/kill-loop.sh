#!/usr/bin/env bash
# The long kill loop: both datasets at once, 1-3 concurrent `lakeport run --until-caught-up`
# processes of a group, SIGKILL and SIGTERM at random moments while records are produced,
# then exactly-once accounting in ClickHouse, the lake and the dead letters.
#
#   scripts/kill-loop.sh [SIGNALS_PER_DATASET] [SEED]     (default 100, a random seed)
#
# The seed is printed first; pass it again to replay the same schedule.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
signals="${1:-100}"
seed="${2:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}"
echo "kill-loop: $signals signals per dataset, seed $seed"
scripts/setup.sh
cleanup() { [[ "${LAKEPORT_KEEP_SERVICES:-0}" == 1 ]] || scripts/services.sh stop || true; }
trap cleanup EXIT
scripts/services.sh start
# shellcheck source=/dev/null
source .lakeport/services/env
started=$(date +%s)
LAKEPORT_KILL_LOOP_SIGNALS="$signals" LAKEPORT_CRASH_SEED="$seed" \
  cargo test --release -p ingest --test crash long_kill_loop -- --ignored --nocapture
echo "kill-loop: passed in $(( $(date +%s) - started )) s (seed $seed)"
