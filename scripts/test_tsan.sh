#!/usr/bin/env bash
# The ThreadSanitizer build's unit tests, called by scripts/test.sh (skipped
# there with VGUARD_SKIP_TSAN=1).  The first race report stops the test
# process, so any data race fails the run.  Usage: test_tsan.sh [JOBS]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
jobs=${1:-$(nproc)}
dir="$top/build-tsan"

mkdir -p "$dir"
(cd "$dir" && "$top/configure" --enable-werror --enable-tsan >/dev/null && make -j"$jobs")
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 ${TSAN_OPTIONS:-}" \
	make -C "$dir" -j"$jobs" check || { cat "$dir/test-suite.log"; exit 1; }
echo "ThreadSanitizer unit tests: ok"
