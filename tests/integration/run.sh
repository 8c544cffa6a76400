#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs every tests/integration/test_*.sh, and every Check suite built as
# BUILD_DIR/tests/integration/test_*, as root against a build directory and
# prints one summary line.  `make check-root` builds what they need and
# runs this.  Each test makes and removes its own namespaces; a test that
# cannot run here exits 77 (skipped).
set -uo pipefail
build=${1:?usage: run.sh BUILD_DIR}
here=$(cd "$(dirname "$0")" && pwd)
export VGUARD_BUILD=$(cd "$build" && pwd)
export CK_DEFAULT_TIMEOUT=${CK_DEFAULT_TIMEOUT:-60}
pass=0 fail=0 skip=0
run() { # name command...
	local name=$1 start secs rc
	shift
	start=$(date +%s)
	if timeout 600 "$@" >"/tmp/vguard-$name.log" 2>&1; then rc=0; else rc=$?; fi
	secs=$(( $(date +%s) - start ))
	case $rc in
	0) pass=$((pass + 1)); echo "PASS: $name (${secs}s)" ;;
	77) skip=$((skip + 1)); echo "SKIP: $name: $(tail -n 1 "/tmp/vguard-$name.log")" ;;
	*) fail=$((fail + 1)); echo "FAIL: $name (exit $rc, ${secs}s)"; tail -n 40 "/tmp/vguard-$name.log" ;;
	esac
}
for t in "$VGUARD_BUILD"/tests/integration/test_*; do
	name=$(basename "$t")
	case $name in *.*) continue ;; esac	# sources, objects, scripts
	[ -f "$t" ] && [ -x "$t" ] || continue
	run "$name" "$t"
done
for t in "$here"/test_*.sh; do
	[ -e "$t" ] || continue
	run "$(basename "$t" .sh)" bash "$t"
done
echo "integration: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
