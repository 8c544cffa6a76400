#!/usr/bin/env bash
# The test command: installs what it needs, builds (warnings are errors),
# runs the unit tests, the sanitizer build's unit tests and, as root, the
# network-namespace integration tests.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
bash scripts/deps.sh
autoreconf -fi

jobs=$(nproc)
build() { # dir, configure args...
	local dir=$1; shift
	mkdir -p "$dir"
	(cd "$dir" && "$top/configure" --enable-werror "$@" >/dev/null && make -j"$jobs")
}

build build
make -C build -j"$jobs" check || { cat build/test-suite.log; exit 1; }

# Distributions build from the tarball: it must be complete and pass too.
if [ "${VGUARD_SKIP_DISTCHECK:-0}" != 1 ]; then
	make -C build -j"$jobs" distcheck >build/distcheck.log 2>&1 ||
		{ tail -n 60 build/distcheck.log; echo "make distcheck failed"; exit 1; }
	echo "make distcheck: ok"
fi

if [ "${VGUARD_SKIP_SANITIZERS:-0}" != 1 ]; then
	build build-asan --enable-sanitizers
	make -C build-asan -j"$jobs" check || { cat build-asan/test-suite.log; exit 1; }
fi

# The fuzz targets, each briefly from its corpus (scripts/fuzz-smoke.sh):
# 3-5 minutes (20 s per target); VGUARD_SKIP_FUZZ=1 skips it, and it skips itself
# (one line) without clang.
if [ "${VGUARD_SKIP_FUZZ:-0}" != 1 ]; then
	bash scripts/fuzz-smoke.sh
fi

if [ "$(id -u)" -eq 0 ]; then
	make -C build -j"$jobs" check-root
else
	echo "not root: skipping the network-namespace integration tests"
fi
