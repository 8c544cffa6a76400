#!/bin/sh
# A replay that finds no input must fail, not pass having run nothing
# (tests/fuzz/replay_main.c): here, given an empty directory.
set -u
replay="$PWD/tests/fuzz/replay_split"
empty=$(mktemp -d) || exit 99
trap 'rmdir "$empty"' EXIT
out=$("$replay" "$empty" 2>&1)
rc=$?
# 126/127: a cross build this machine cannot execute directly.
[ $rc -eq 126 ] || [ $rc -eq 127 ] && { echo "SKIP: cannot run $replay"; exit 77; }
[ $rc -ne 0 ] || { echo "FAIL: a replay that found no inputs passed: $out"; exit 1; }
case "$out" in
*"no inputs in $empty"*) echo "ok: $out" | head -n 1 ;;
*) echo "FAIL: unexpected output: $out"; exit 1 ;;
esac
