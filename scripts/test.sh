#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The test command: installs what it needs, builds (warnings are errors),
# runs the unit tests, the sanitizer builds' unit tests (ASan/UBSan, then
# ThreadSanitizer) and, as root, the network-namespace integration tests.
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

# The unit tests again in a ThreadSanitizer build (scripts/test_tsan.sh).
if [ "${VGUARD_SKIP_TSAN:-0}" != 1 ]; then
	bash scripts/test_tsan.sh "$jobs"
fi

# Cross builds: i686 (32-bit) and s390x (big-endian), make check under
# qemu-user (scripts/test-cross.sh; VGUARD_SKIP_CROSS=1 skips them).
bash scripts/test-cross.sh

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

# The Debian package from the `make dist` tarball: built twice (the .debs
# must be byte-identical), lintian-clean, the wg-quick@ drop-in verified,
# the packaged binaries through a tunnel.  Root; about 2-3 minutes.
if [ "${VGUARD_SKIP_PACKAGE:-0}" != 1 ]; then
	bash scripts/test-package.sh build
fi
