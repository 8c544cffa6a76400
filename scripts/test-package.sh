#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The Debian package, built as a packager builds it and run as an
# administrator would (root; scripts/test.sh runs it unless
# VGUARD_SKIP_PACKAGE=1):
#  - BUILD_DIR's `make dist` tarball, as vguard_VERSION.orig.tar.xz with
#    packaging/debian copied to debian/, goes through
#    dpkg-buildpackage -us -uc twice, in two directories with different
#    time zones, locales and umasks (the second without the unit tests);
#    the .debs must be byte-identical;
#  - lintian reports no error or warning (overrides are listed);
#  - systemd-analyze verifies the wg-quick@.service drop-in and prints
#    its security exposure;
#  - the vguard and vg extracted from the .deb print configure's version
#    and carry a tunnel (tests/integration/package_tunnel.sh) and wg-quick
#    (test_vguard_cli_wgquick.sh) between network namespaces.
set -euo pipefail
build=${1:?usage: test-package.sh BUILD_DIR}
[ "$(id -u)" -eq 0 ] || { echo "not root: skipping the Debian package test"; exit 0; }
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "$build" && pwd)
started=$(date +%s)
step() { echo "--- package: $* ($(( $(date +%s) - started ))s)"; }
fail() { echo "FAIL: package: $*" >&2; exit 1; }

# The packaging tools (the build dependencies follow from debian/control).
tools=(dpkg-dev debhelper lintian systemd wireguard-tools)
missing=()
for p in "${tools[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done
export DEBIAN_FRONTEND=noninteractive
if [ ${#missing[@]} -gt 0 ]; then
	apt-get update >/dev/null
	apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null
fi

version=$(sed -n 's/^PACKAGE_VERSION = //p' "$build/Makefile")
tarball=vguard-$version.tar.xz
make -C "$build" -s dist >/dev/null
[ -f "$build/$tarball" ] || fail "make dist wrote no $tarball"
work=$(mktemp -d /tmp/vguard-pkg.XXXXXX)
trap 'rm -rf "$work"' EXIT
step "tarball $tarball"

# unpack DIR: the tarball as a packager lays it out under DIR.
unpack() {
	mkdir -p "$1"
	cp "$build/$tarball" "$1/vguard_$version.orig.tar.xz"
	tar -C "$1" -xf "$1/vguard_$version.orig.tar.xz"
	cp -r "$1/vguard-$version/packaging/debian" "$1/vguard-$version/debian"
}

unpack "$work/a"
src=$work/a/vguard-$version
deb_version=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)
[ "${deb_version%-*}" = "$version" ] ||
	fail "debian/changelog is at $deb_version, configure at $version"
if ! (cd "$src" && dpkg-checkbuilddeps) 2>/dev/null; then
	apt-get update >/dev/null
	apt-get build-dep -y --no-install-recommends "$src" >/dev/null
fi

# buildpkg DIR: dpkg-buildpackage -us -uc in DIR's source tree.
buildpkg() {
	(cd "$1/vguard-$version" && dpkg-buildpackage -us -uc) >"$1/build.log" 2>&1 ||
		{ tail -n 40 "$1/build.log"; fail "dpkg-buildpackage in $1"; }
}
buildpkg "$work/a"
step "dpkg-buildpackage -us -uc"

# The same tarball again elsewhere: another path, time zone, locale and
# umask, and no unit tests, must give the same bytes.
unpack "$work/second/build"
(umask 0002; export TZ=Pacific/Kiritimati LC_ALL=C.UTF-8 DEB_BUILD_OPTIONS=nocheck
 buildpkg "$work/second/build")
for deb in "$work"/a/*.deb; do
	other=$work/second/build/$(basename "$deb")
	if ! cmp -s "$deb" "$other"; then
		mkdir -p "$work/x1" "$work/x2"
		dpkg-deb -x "$deb" "$work/x1"; dpkg-deb -x "$other" "$work/x2"
		diff -r "$work/x1" "$work/x2" || true
		fail "$(basename "$deb") differs between two builds of one tarball"
	fi
done
step "second build: $(cd "$work/a" && ls ./*.deb | xargs -n1 basename | tr '\n' ' ')byte-identical"

# No error or warning (E:, W:); informational tags and overrides (O:)
# are shown.  --show-overrides would count an override as its tag for
# --fail-on, so the verdict comes from the tags printed.
lintian --fail-on none --show-overrides --pedantic \
	"$work/a/vguard_${deb_version}_$(dpkg --print-architecture).changes" \
	>"$work/lintian.log" 2>&1 || { cat "$work/lintian.log"; fail "lintian did not run"; }
grep -E '^[A-Z]: ' "$work/lintian.log" || true
! grep -qE '^[EW]: ' "$work/lintian.log" || fail "lintian reports errors or warnings"
step "lintian: no errors or warnings"

root=$work/root
dpkg-deb -x "$work/a/vguard_${deb_version}_$(dpkg --print-architecture).deb" "$root"
unitdir=$(dirname "$(find "$root" -path '*/wg-quick@.service.d/50-vguard.conf')")
unitdir=${unitdir%/wg-quick@.service.d}
for f in usr/bin/vguard usr/bin/vg usr/share/man/man8/vguard.8.gz usr/share/man/man8/vg.8.gz \
	usr/share/bash-completion/completions/vg usr/share/doc/vguard/copyright \
	"${unitdir#"$root"/}/wg-quick@.service.d/50-vguard.conf"; do
	[ -f "$root/$f" ] || fail "no $f in the package"
done
grep -qx 'Environment=WG_QUICK_USERSPACE_IMPLEMENTATION=/usr/bin/vguard' \
	"$unitdir/wg-quick@.service.d/50-vguard.conf" || fail "drop-in does not select /usr/bin/vguard"
[ "$("$root/usr/bin/vguard" --version | head -n 1)" = "vguard v$version" ] || fail "vguard --version"
[ "$("$root/usr/bin/vg" --version)" = "vg (vguard) v$version" ] || fail "vg --version"

# wg-quick@.service from wireguard-tools with the packaged drop-in; the
# man pages from the package, for the drop-in's Documentation=.
units=$work/units
mkdir -p "$units"
cp $(dpkg -L wireguard-tools | grep -E '/wg-quick(@\.service|\.target)$') "$units/"
cp -r "$unitdir/wg-quick@.service.d" "$units/"
SYSTEMD_UNIT_PATH=$units: MANPATH=$root/usr/share/man: \
	systemd-analyze verify wg-quick@wg0.service || fail "systemd-analyze verify"
# wg-quick@.service alone scores 9.6 ("UNSAFE"); the drop-in brings it
# to 2.5 with systemd 252.  A loosened sandbox fails here.
exposure=$(SYSTEMD_UNIT_PATH=$units: systemd-analyze security --offline=yes --no-pager \
	wg-quick@wg0.service | grep 'Overall exposure') || fail "systemd-analyze security"
echo "$exposure"
awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+\.[0-9]$/) exit !($i < 3.5); exit 1 }' \
	<<<"$exposure" || fail "exposure above 3.5"
step "systemd-analyze verify and security"

export VGUARD_BUILD=$build VGUARD=$root/usr/bin/vguard VG=$root/usr/bin/vg
bash "$top/tests/integration/package_tunnel.sh" || fail "tunnel with the packaged binaries"
rc=0
bash "$top/tests/integration/test_vguard_cli_wgquick.sh" >"$work/wgquick.log" 2>&1 || rc=$?
case $rc in
0) ;;
77) echo "--- wg-quick: $(tail -n 1 "$work/wgquick.log")" ;;
*) cat "$work/wgquick.log"; fail "wg-quick with the packaged vguard" ;;
esac
step "packaged vguard and vg through a tunnel and wg-quick"
echo "Debian package: ok ($(( $(date +%s) - started ))s)"
