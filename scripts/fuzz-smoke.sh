#!/usr/bin/env bash
# The fuzz smoke run: builds every libFuzzer target (tests/fuzz) with clang,
# ASan and UBSan in its own build tree and runs each for a short fixed time
# (VGUARD_FUZZ_SECONDS, default 20) from a copy of its committed corpus,
# with its dictionary.  Any crash, leak, hang or failed check fails it; the
# input that did it is kept under BUILD/fuzz-artifacts.  Without clang it
# says so and succeeds.  Long campaigns: README.md, "Fuzzing".
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${VGUARD_FUZZ_BUILD:-$top/build-fuzz-smoke}
secs=${VGUARD_FUZZ_SECONDS:-20}

if ! command -v clang >/dev/null 2>&1; then
	echo "fuzz smoke: skipped (clang is not installed)"
	exit 0
fi

# target:corpus:dictionary
targets="split:split: gro:gro: handshake:handshake: uapi:uapi:uapi
device_rx:device_rx: device_tun:device_tun: uapi_server:uapi_server:uapi
vg_config:vg_config:vg_config vg_reply:vg_reply:vg_reply"

[ -x "$top/configure" ] || (cd "$top" && autoreconf -fi)
mkdir -p "$build"
cd "$build"
[ -f Makefile ] || "$top/configure" CC=clang --enable-fuzzing >/dev/null
progs=
for t in $targets; do
	progs="$progs tests/fuzz/fuzz_${t%%:*}"
done
make -j"$(nproc)" $progs >fuzz-build.log 2>&1 ||
	{ tail -n 40 fuzz-build.log; echo "fuzz smoke: build failed"; exit 1; }

rm -rf fuzz-work fuzz-artifacts
mkdir -p fuzz-work fuzz-artifacts
start=$(date +%s)
for t in $targets; do
	name=${t%%:*}
	rest=${t#*:}
	corpus=${rest%%:*}
	dict=${rest#*:}
	work=fuzz-work/$name
	mkdir -p "$work"
	cp "$top/tests/fuzz/corpus/$corpus/"* "$work/" 2>/dev/null || true
	args=(-max_total_time="$secs" -timeout=25 -rss_limit_mb=2048 -print_final_stats=1
	      -artifact_prefix="fuzz-artifacts/$name-")
	[ -n "$dict" ] && args+=(-dict="$top/tests/fuzz/dict/$dict.dict")
	if ! "tests/fuzz/fuzz_$name" "${args[@]}" "$work" >"fuzz-work/$name.log" 2>&1; then
		tail -n 60 "fuzz-work/$name.log"
		echo "fuzz smoke: fuzz_$name failed; input kept in $build/fuzz-artifacts"
		exit 1
	fi
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "fuzz-work/$name.log")
	echo "fuzz smoke: fuzz_$name ok ($runs runs in ${secs}s)"
done
echo "fuzz smoke: all targets ok in $(($(date +%s) - start))s"
