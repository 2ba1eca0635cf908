#!/usr/bin/env bash
# Where lakeport's CPU goes end to end: runs scripts/bench-pipeline.sh with `lakeport run`
# under `perf record` (call graphs from DWARF) and prints the share of samples per stage of
# the record's path, from the frames of each sample (the outermost stage frame wins).
#
#   scripts/profile-pipeline.sh [RECORDS] [DATASET]   (default 100000 gateway_dns)
#
# Takes the bench's environment (LAKEPORT_BENCH_LAKE, LAKEPORT_BENCH_LIVE). Needs `perf`
# (Debian: linux-perf) and a release build with debug info (the workspace's release profile).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v perf >/dev/null || { echo "profile-pipeline: perf is not installed (Debian: apt-get install linux-perf)" >&2; exit 2; }
cargo build --release --bin lakeport 2>/dev/null
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
real="$(realpath "${CARGO_TARGET_DIR:-target}/release/lakeport")"
cat > "$work/lakeport" <<WRAP
#!/usr/bin/env bash
if [[ "\$1" == run ]]; then exec perf record -q -F 999 -g --call-graph dwarf,16384 -o "$work/run.perf" "$real" "\$@"; fi
exec "$real" "\$@"
WRAP
chmod +x "$work/lakeport"
LAKEPORT_BENCH_BIN="$work/lakeport" scripts/bench-pipeline.sh "${1:-100000}" "${2:-gateway_dns}" | grep -E '^lake:|lakeport CPU'
perf script -i "$work/run.perf" 2>/dev/null | python3 -c '
import collections, re, sys
# (stage, pattern): the first stage (in this order) whose pattern is in a sample'"'"'s frames.
STAGES = [
    ("lake: split by partition", r"sink::parquet::partition::gather"),
    ("lake: parquet column writers (zstd contexts)", r"create_column_writers|ArrowColumnWriterFactory"),
    ("lake: parquet encode", r"sink::parquet::object::encode|ArrowWriter"),
    ("lake: upload", r"object_store::"),
    ("clickhouse: body compression", r"sink::clickhouse::body"),
    ("clickhouse: native encode", r"sink::clickhouse::native"),
    ("clickhouse: http", r"hyper|reqwest|h2::"),
    ("decode", r"transform::decode"),
    ("kafka: librdkafka threads", r"^rdk:"),
    ("kafka: consume + batch", r"ingest::source|ingest::batch|rdkafka::"),
    ("ledger, dead letters", r"sink::ledger|sink::dead_letter"),
    ("run loop", r"ingest::pipeline|ingest::commit"),
]
counts, total, stack = collections.Counter(), 0, []
def flush():
    global total
    if not stack:
        return
    total += 1
    frames = "\n".join(stack)
    for name, pattern in STAGES:
        if re.search(pattern, frames, re.M):
            counts[name] += 1
            return
    leaf = stack[1] if len(stack) > 1 else ""
    if "[kernel" in leaf:
        counts["kernel (other)"] += 1
    elif re.search(r"malloc|free|memmove|memcpy|memset", leaf):
        counts["allocation and copies (unattributed)"] += 1
    elif "tokio" in frames:
        counts["tokio runtime"] += 1
    else:
        counts["other"] += 1
for line in sys.stdin:
    if not line.strip():
        flush()
        stack = []
    elif line[0] not in " \t":
        stack = [line.split()[0]]
    else:
        stack.append(line.strip())
flush()
print(f"where lakeport run spent its CPU ({total} samples):")
for name, n in counts.most_common():
    print(f"  {100 * n / total:5.1f} %  {name}")
'
