#!/usr/bin/env bash
# Runs every tests/integration/test_*.sh as root against a build directory
# and prints one summary line.  Each test makes and removes its own
# namespaces; a test that cannot run here exits 77 (skipped).
set -uo pipefail
build=${1:?usage: run.sh BUILD_DIR}
here=$(cd "$(dirname "$0")" && pwd)
export VGUARD_BUILD=$(cd "$build" && pwd)
pass=0 fail=0 skip=0
for t in "$here"/test_*.sh; do
	[ -e "$t" ] || continue
	name=$(basename "$t" .sh)
	start=$(date +%s)
	if timeout 600 bash "$t" >"/tmp/vguard-$name.log" 2>&1; then rc=0; else rc=$?; fi
	secs=$(( $(date +%s) - start ))
	case $rc in
	0) pass=$((pass + 1)); echo "PASS: $name (${secs}s)" ;;
	77) skip=$((skip + 1)); echo "SKIP: $name: $(tail -n 1 "/tmp/vguard-$name.log")" ;;
	*) fail=$((fail + 1)); echo "FAIL: $name (exit $rc, ${secs}s)"; tail -n 40 "/tmp/vguard-$name.log" ;;
	esac
done
echo "integration: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
