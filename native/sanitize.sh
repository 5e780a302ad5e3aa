#!/usr/bin/env bash
# Build the native core with AddressSanitizer + UndefinedBehaviorSanitizer into a scratch
# copy of the sources and run the core tests (tests/test_native.py, tests/test_lockstep.py,
# tests/test_debug_core.py) against it. The installed package is not touched.
#
#   native/sanitize.sh [pytest args...]        e.g. native/sanitize.sh -x -k paging
#
# Environment: PYTHON (default: .venv/bin/python, else python3), KEEP=1 keeps the scratch
# directory (its path is printed), CC (default gcc).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-}
if [[ -z "$PY" ]]; then
    if [[ -x "$ROOT/.venv/bin/python" ]]; then PY="$ROOT/.venv/bin/python"; else PY=python3; fi
fi
CC=${CC:-gcc}
SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/hv-sanitize.XXXXXX")
if [[ "${KEEP:-0}" != 1 ]]; then trap 'rm -rf "$SCRATCH"' EXIT; fi
echo "sanitize: scratch tree $SCRATCH"

# A copy of what the tests import; no prebuilt extension in it.
mkdir -p "$SCRATCH/src"
cp -r "$ROOT/vcpu" "$ROOT/native" "$ROOT/asm" "$ROOT/tests" "$SCRATCH/src/"
cp "$ROOT/pyproject.toml" "$SCRATCH/src/"
find "$SCRATCH/src" \( -name '_core*.so' -o -name '_core.c' -o -name '*.o' -o -name __pycache__ \) \
    -prune -exec rm -rf {} +

SAN="-fsanitize=address,undefined"
cd "$SCRATCH/src"
# -fno-wrapv after CPython's -fwrapv, so that UBSan sees signed overflow;
# -fno-sanitize-recover makes any UB finding abort.
CC="$CC" \
HV_CFLAGS="-O1 -g -fno-omit-frame-pointer $SAN -fno-sanitize-recover=all -fno-wrapv" \
HV_LDFLAGS="$SAN" \
HV_REQUIRE_NATIVE=1 \
    "$PY" native/build_core.py > "$SCRATCH/build.log" 2>&1 || { cat "$SCRATCH/build.log"; exit 1; }
SO=$(ls vcpu/_core*.so)
echo "sanitize: built $SO"

ASAN_LIB=$($CC -print-file-name=libasan.so)
export LD_PRELOAD="$ASAN_LIB"
export PYTHONMALLOC=malloc
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:log_path=$SCRATCH/asan"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$SCRATCH/ubsan"
export HV_REQUIRE_NATIVE=1
export PYTHONDONTWRITEBYTECODE=1

# The module under test must be the sanitized one from the scratch tree.
"$PY" -c "import vcpu._core as m, sys; f = m.__file__; print('sanitize: testing', f); \
sys.exit(0 if f.startswith('$SCRATCH') else 'not the sanitized module: ' + f)"

status=0
"$PY" -m pytest -s -q -p no:cacheprovider tests/test_native.py tests/test_lockstep.py \
    tests/test_debug_core.py "$@" || status=$?
if ls "$SCRATCH"/asan* "$SCRATCH"/ubsan* > /dev/null 2>&1; then
    echo "sanitize: sanitizer reports:"
    cat "$SCRATCH"/asan* "$SCRATCH"/ubsan* 2>/dev/null
    status=1
fi
if [[ $status == 0 ]]; then echo "sanitize: clean"; else echo "sanitize: FAILED ($status)"; fi
exit $status
