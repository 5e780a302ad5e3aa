#!/usr/bin/env bash
# Build the libFuzzer harness (native/fuzz_core.c, needs clang) and run it.
#
#   native/fuzz.sh [SECONDS] [libFuzzer args...]     default 60 seconds
#
# The corpus is kept in $HV_FUZZ_DIR (default /tmp/hv-fuzz/corpus) between runs; crashes
# land in $HV_FUZZ_DIR as crash-*; reproduce one with: $HV_FUZZ_DIR/fuzz_core CRASHFILE
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SECONDS_TO_RUN=${1:-60}
shift || true
DIR=${HV_FUZZ_DIR:-/tmp/hv-fuzz}
CLANG=${CLANG:-clang}
command -v "$CLANG" > /dev/null || { echo "fuzz: needs clang (apt-get install -y clang)"; exit 2; }
mkdir -p "$DIR/corpus"
"$CLANG" -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined \
    -fno-sanitize-recover=all -I"$ROOT/native" \
    "$ROOT/native/fuzz_core.c" "$ROOT/native/core.c" -o "$DIR/fuzz_core"
echo "fuzz: built $DIR/fuzz_core; running for ${SECONDS_TO_RUN}s"
cd "$DIR"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
exec ./fuzz_core -max_total_time="$SECONDS_TO_RUN" -print_final_stats=1 -max_len=4096 \
    -artifact_prefix="$DIR/" "$@" corpus
