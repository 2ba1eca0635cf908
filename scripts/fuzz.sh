#!/usr/bin/env bash
# Runs every fuzz target (fuzz/fuzz_targets) for a time budget and prints, per target,
# the executions and the crashes found.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     (default 60 s, every target)
#
# Needs the nightly toolchain (rustup) and cargo-fuzz (installed here when missing).
# Corpora live in .lakeport/fuzz/corpus/TARGET (kept between runs), seeded from
# `lakeport gen` records (good ones and every rejection class, plain, gzip and zstd), the
# shipped schemas and pipeline files. libFuzzer runs with -rss_limit_mb=2048 -timeout=10:
# a hang or runaway memory is a crash. A crash's input is kept in
# fuzz/artifacts/TARGET/; make it a regression test before fixing it.
# Exit status: 0 when no target crashed, 1 otherwise.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
seconds="${1:-60}"
shift || true
targets=("$@")
((${#targets[@]})) || targets=(decode schema pipeline clickhouse_type native)

log() { printf 'lakeport fuzz: %s\n' "$*" >&2; }

rustup toolchain list | grep -q '^nightly' || { log "ERROR: no nightly toolchain (rustup toolchain install nightly)"; exit 1; }
if ! cargo fuzz --version >/dev/null 2>&1; then
  log "installing cargo-fuzz"
  cargo install cargo-fuzz --locked --quiet
fi

work="$ROOT/.lakeport/fuzz"
corpus="$work/corpus"
mkdir -p "$corpus"

# The targets of safe and unsafe Rust (simd-json, the Native encoder's buffers) run under
# AddressSanitizer; `pipeline` links librdkafka, whose C build fails with it, and runs
# without (it is safe Rust: libFuzzer still catches panics, hangs and memory growth).
# Each flavour keeps its own target dir: their compiler flags differ.
base="${CARGO_TARGET_DIR:-$ROOT/target}/fuzz"
flags() {
  if [[ "$1" == pipeline ]]; then
    echo --sanitizer none --features pipeline --target-dir "$base/plain"
  else
    echo --target-dir "$base/asan"
  fi
}
log "building the targets (nightly)"
(cd fuzz && cargo +nightly fuzz build -O $(flags decode)) >&2
if [[ " ${targets[*]} " == *" pipeline "* ]]; then
  (cd fuzz && cargo +nightly fuzz build -O $(flags pipeline) pipeline) >&2
fi

seed() {
  local gen="${CARGO_TARGET_DIR:-$ROOT/target}/debug/lakeport"
  [[ -x "$gen" ]] || (cargo build -q -p ingest --bin lakeport >&2)
  local d="$corpus/decode" i=0
  mkdir -p "$d" "$corpus/schema" "$corpus/pipeline" "$corpus/clickhouse_type" "$corpus/native"
  # decode: a schema pick byte (0 dns, 1 http, 2 every type), then a message.
  for ds in gateway_dns:0 gateway_http:1; do
    "$gen" gen --dataset "${ds%%:*}" --count 40 --seed 7 --bad-ratio 0.5 2>/dev/null | while IFS= read -r line; do
      i=$((i + 1))
      printf '\%03o%s\n' "${ds##*:}" "$line" >"$d/${ds%%:*}-$i"
      if ((i % 8 == 0)); then
        { printf '\%03o' "${ds##*:}"; printf '%s\n%s\n' "$line" "$line" | gzip -c; } >"$d/${ds%%:*}-$i.gz"
        { printf '\%03o' "${ds##*:}"; printf '%s\n' "$line" | zstd -q -c 2>/dev/null || true; } >"$d/${ds%%:*}-$i.zst"
      fi
    done
  done
  printf '\002{"ts":"2026-11-23T07:00:00Z","s":" A ","b":"true","i8":-128,"u64":18446744073709551615,"f64":"1e3","d":"2026-11-23","ip":"::1","j":{"x":[1]},"ls":["a"],"lu":[1],"lip":["1.2.3.4"],"m":{"k":"v"},"a":{"b":{"c":1}},"x.y":{"z":"q"},"extra":1}\n' >"$d/every-type"
  cp schemas/*.toml fuzz/schemas/*.toml "$corpus/schema/"
  cp pipelines/*.toml "$corpus/pipeline/"
  printf '\000DateTime64(9, '"'"'UTC'"'"')' >"$corpus/clickhouse_type/datetime64"
  printf '\006LowCardinality(Nullable(String))' >"$corpus/clickhouse_type/lowcard"
  printf '\011Array(Nullable(String))' >"$corpus/clickhouse_type/array"
  printf '\012Map(String, String)' >"$corpus/clickhouse_type/map"
}
[[ -n "$(ls -A "$corpus/decode" 2>/dev/null)" ]] || seed

status=0
printf '%-16s %14s %8s %10s\n' target executions crashes seconds
for t in "${targets[@]}"; do
  mkdir -p "$corpus/$t"
  out="$work/$t.log"
  stamp="$work/$t.start"
  touch "$stamp"
  set +e
  (cd fuzz && cargo +nightly fuzz run -O $(flags "$t") "$t" "$corpus/$t" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -max_len=262144 -print_final_stats=1) >"$out" 2>&1
  rc=$?
  set -e
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$out" | grep -o '[0-9]*$' | tail -1)
  crashes=$(find "fuzz/artifacts/$t" -type f -newer "$stamp" 2>/dev/null | wc -l)
  printf '%-16s %14s %8s %10s\n' "$t" "${execs:-?}" "$crashes" "$seconds"
  if ((rc != 0)); then
    status=1
    log "$t failed (exit $rc); the end of its log ($out):"
    tail -30 "$out" >&2
  fi
done
exit "$status"
