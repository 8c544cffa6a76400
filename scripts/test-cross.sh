#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Cross builds as a distribution makes them: a 32-bit little-endian target
# (i686) and a 64-bit big-endian one (s390x), each configured with
# --host and the target's pkg-config directory, built with -Werror, and
# `make check` run under qemu-user.  Installs what it needs (Debian
# multiarch); skips with a one-line reason when that cannot be had.
# Called from scripts/test.sh; VGUARD_SKIP_CROSS=1 skips it.
#
# usage: scripts/test-cross.sh [TRIPLET...]   (default: i686-linux-gnu s390x-linux-gnu)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

skip() { echo "cross builds skipped: $*"; exit 0; }

[ "${VGUARD_SKIP_CROSS:-0}" != 1 ] || skip "VGUARD_SKIP_CROSS=1"
command -v dpkg >/dev/null && command -v apt-get >/dev/null || skip "no dpkg/apt-get (not Debian)"

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(i686-linux-gnu s390x-linux-gnu)

# triplet -> Debian architecture, qemu-user binary
deb_arch() {
	case $1 in
	i686-linux-gnu) echo i386 ;;
	s390x-linux-gnu) echo s390x ;;
	*) return 1 ;;
	esac
}
qemu_of() {
	case $1 in
	i686-linux-gnu) echo qemu-i386-static ;;
	s390x-linux-gnu) echo qemu-s390x-static ;;
	esac
}

pkgs=(qemu-user-static pkg-config)
for t in "${targets[@]}"; do
	a=$(deb_arch "$t") || { echo "unknown target $t"; exit 2; }
	# The cross libc's package is named after the Debian architecture
	# (libc6-dev-i386-cross); installing libc6-dev:ARCH would conflict.
	pkgs+=("gcc-$t" "libc6-dev-$a-cross" "linux-libc-dev-$a-cross"
	       "libsodium-dev:$a" "libmnl-dev:$a" "check:$a" "libsubunit-dev:$a")
done

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	SUDO=
	if [ "$(id -u)" -ne 0 ]; then
		command -v sudo >/dev/null || skip "not root and no sudo to install ${missing[*]}"
		SUDO=sudo
	fi
	export DEBIAN_FRONTEND=noninteractive
	for t in "${targets[@]}"; do
		$SUDO dpkg --add-architecture "$(deb_arch "$t")" ||
			skip "dpkg --add-architecture $(deb_arch "$t") failed"
	done
	$SUDO apt-get update >/dev/null 2>&1 || skip "apt-get update failed"
	$SUDO apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1 ||
		skip "could not install ${missing[*]}"
fi

[ -f configure ] || autoreconf -fi
jobs=$(nproc)
for t in "${targets[@]}"; do
	a=$(deb_arch "$t")
	ma=$(dpkg-architecture -a "$a" -qDEB_HOST_MULTIARCH 2>/dev/null) || ma=$t
	qemu=$(qemu_of "$t")
	dir=build-cross-$t
	start=$SECONDS
	rm -rf "$dir"
	mkdir -p "$dir"
	# The host's pkg-config, pointed at the target's .pc files; no make
	# prerequisite may come from the -L flags they carry.
	(cd "$dir" && PKG_CONFIG=pkg-config \
		PKG_CONFIG_LIBDIR=/usr/lib/$ma/pkgconfig:/usr/share/pkgconfig \
		"$top/configure" --host="$t" --with-openssl=no --enable-werror >configure.out 2>&1) ||
		{ tail -n 30 "$dir/configure.out"; echo "$t: configure failed"; exit 1; }
	{ make -C "$dir" -j"$jobs" && make -C "$dir" -j"$jobs" bench; } >"$dir/make.out" 2>&1 ||
		{ tail -n 40 "$dir/make.out"; echo "$t: build failed"; exit 1; }
	# qemu-user passes socket control message payloads through unconverted:
	# on a target of the other byte order the suites that read them from
	# real sockets skip (tests/unit/testutil.h).
	env=()
	[ "$(dpkg-architecture -a "$a" -qDEB_HOST_ARCH_ENDIAN 2>/dev/null)" = \
	  "$(dpkg-architecture -qDEB_BUILD_ARCH_ENDIAN 2>/dev/null)" ] ||
		env+=(VGUARD_TEST_QEMU_CROSS_ENDIAN=1)
	# One suite at a time: the device suites' threads under emulation
	# already take both cores, and timing-sensitive cases suffer with two.
	env "${env[@]}" make -C "$dir" check LOG_COMPILER="$qemu" >"$dir/check.out" 2>&1 ||
		{ cat "$dir/test-suite.log"; echo "$t: make check under $qemu failed"; exit 1; }
	echo "$t: built with -Werror, make check under $qemu:" \
		"$(grep -E '^# (PASS|SKIP|FAIL)' "$dir/check.out" | tr -d '#' | tr '\n' ' ')" \
		"($((SECONDS - start)) s)"
done
