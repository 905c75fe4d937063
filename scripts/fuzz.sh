#!/usr/bin/env bash
# Builds the fuzz targets in fuzz/ and runs each for SECONDS (default 60),
# one after the other, starting from the committed seeds in fuzz/corpus/<target>/.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]      # targets: idx_raw idx_gzip checkpoint checkpoint_roundtrip
#
# - Needs cargo-fuzz (installed with `cargo install cargo-fuzz --locked` if
#   missing) and libFuzzer's -Z flags: on a stable toolchain they are enabled
#   with RUSTC_BOOTSTRAP=1, set here; a nightly toolchain works as well.
# - New interesting inputs go to a working corpus, $FUZZ_TARGET_DIR/corpus/<target>
#   (kept between runs, never committed); the seed directories are only read.
# - Crashes, timeouts and out-of-memory inputs are written to
#   fuzz/artifacts/<target>/ (reproduce one with
#   `$FUZZ_TARGET_DIR/<triple>/release/<target> <file>`).
# - Per target it prints libFuzzer's final statistics (executions, coverage,
#   corpus) and the path of any crash; the full log is $FUZZ_TARGET_DIR/logs/<target>.log.
#
# Environment: FUZZ_TARGET_DIR (default fuzz/target), FUZZ_TIMEOUT (seconds one
# input may take before it counts as a hang, default 10), FUZZ_RSS_MB (default 2048).
# Exit status: 0 when no target crashed, 1 when one did, 2 on a usage or build error.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
FUZZ="$ROOT/fuzz"
ALL_TARGETS=(idx_raw idx_gzip checkpoint checkpoint_roundtrip)

SECONDS_EACH=${1:-60}
if ! [[ $SECONDS_EACH =~ ^[0-9]+$ ]] || [ "$SECONDS_EACH" -eq 0 ]; then
  echo "usage: scripts/fuzz.sh [SECONDS] [TARGET...]  (SECONDS a positive integer, got '$SECONDS_EACH')" >&2
  exit 2
fi
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=("${ALL_TARGETS[@]}")
for t in "${TARGETS[@]}"; do
  if [[ ! " ${ALL_TARGETS[*]} " =~ " $t " ]]; then
    echo "fuzz.sh: unknown target '$t' (known: ${ALL_TARGETS[*]})" >&2
    exit 2
  fi
done

TARGET_DIR=${FUZZ_TARGET_DIR:-$FUZZ/target}
mkdir -p "$TARGET_DIR"
TARGET_DIR=$(cd "$TARGET_DIR" && pwd)
HANG=${FUZZ_TIMEOUT:-10}
RSS=${FUZZ_RSS_MB:-2048}

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz.sh: cargo-fuzz not found; installing it (cargo install cargo-fuzz --locked)"
  cargo install cargo-fuzz --locked || { echo "fuzz.sh: cannot install cargo-fuzz" >&2; exit 2; }
fi

# cargo-fuzz passes -Z flags (sanitizer, coverage instrumentation); stable
# rustc accepts them under RUSTC_BOOTSTRAP=1. AddressSanitizer is on (the default).
echo "fuzz.sh: building ${TARGETS[*]} (release, debug assertions, AddressSanitizer) in $TARGET_DIR"
if ! (cd "$FUZZ" && RUSTC_BOOTSTRAP=1 cargo fuzz build --target-dir "$TARGET_DIR"); then
  echo "fuzz.sh: build failed" >&2
  exit 2
fi
TRIPLE=$(rustc -vV | sed -n 's/^host: //p')
BIN="$TARGET_DIR/$TRIPLE/release"

mkdir -p "$TARGET_DIR/logs"
crashed=0
declare -a SUMMARY
for t in "${TARGETS[@]}"; do
  work="$TARGET_DIR/corpus/$t"
  seeds="$FUZZ/corpus/$t"
  artifacts="$FUZZ/artifacts/$t"
  log="$TARGET_DIR/logs/$t.log"
  mkdir -p "$work" "$seeds" "$artifacts"
  marker=$(mktemp)
  echo
  echo "=== $t: ${SECONDS_EACH}s, seeds $seeds ($(find "$seeds" -type f | wc -l) files), log $log"
  status=0
  "$BIN/$t" "$work" "$seeds" \
    -max_total_time="$SECONDS_EACH" \
    -timeout="$HANG" \
    -rss_limit_mb="$RSS" \
    -print_final_stats=1 \
    -artifact_prefix="$artifacts/" \
    >"$log" 2>&1 || status=$?
  done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1 || true)
  execs=$(sed -n 's/^stat::number_of_executed_units:[[:space:]]*//p' "$log" | tail -1)
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9]+[a-zA-Z]*' "$log" | tail -1 || true)
  echo "    exit status $status; executions ${execs:-?}; final ${cov:-?}"
  [ -n "$done_line" ] && echo "    $done_line"
  new=$(find "$artifacts" -type f -newer "$marker" 2>/dev/null || true)
  rm -f "$marker"
  if [ "$status" -ne 0 ] || [ -n "$new" ]; then
    crashed=1
    echo "    CRASH in $t:"
    grep -E "panicked at|^SUMMARY|==ERROR|Test unit written" "$log" | head -8 | sed 's/^/      /'
    for f in $new; do echo "      input: $f"; done
    SUMMARY+=("$t: CRASH (executions ${execs:-?}) ${new//$'\n'/ }")
  else
    SUMMARY+=("$t: ok, executions ${execs:-?}, ${cov:-?}")
  fi
done

echo
echo "=== summary (${SECONDS_EACH}s per target)"
for s in "${SUMMARY[@]}"; do echo "  $s"; done
exit $crashed
