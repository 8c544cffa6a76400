#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `vg offload-check` on this kernel: passes, prints an honest table and
# JSON, runs with offloads off, and leaves nothing behind even when killed.
set -euo pipefail
: "${VGUARD_BUILD:?VGUARD_BUILD must name the build directory}"
[ "$(id -u)" -eq 0 ] || { echo "needs root"; exit 77; }
[ -c /dev/net/tun ] || { echo "needs /dev/net/tun"; exit 77; }
VG=$VGUARD_BUILD/tools/vg
[ -x "$VG" ] || { echo "tools/vg is not built"; exit 77; }
tmp=$(mktemp -d /tmp/vguard-test-oc.XXXXXX)
pid=
cleanup() {
	local rc=$?
	set +e
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	rm -rf "$tmp"
	exit $rc
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; cat "$tmp/out" 2>/dev/null; exit 1; }

if "$VG" offload-check --help 2>&1 | grep -q 'not built'; then
	echo "this vg has no offload-check"
	exit 77
fi

rc=0
"$VG" offload-check >"$tmp/out" 2>&1 || rc=$?
cat "$tmp/out"
[ $rc -eq 0 ] || fail "offload-check exited $rc"
grep -q "^kernel .*$(uname -r)" "$tmp/out" || fail "no kernel line"
grep -q '^result: ok' "$tmp/out" || fail "no ok result"
for t in tcp4 tcp6 udp4 udp6; do
	grep -Eq "^$t +[0-9]+/[0-9]+ .* intact .* ok$" "$tmp/out" || fail "$t row not ok"
done
# TSO accepted here (Linux >= 2.6), so TCP super-packets must have been seen.
if grep -Eq '^tso4 +yes +yes' "$tmp/out"; then
	grep -Eq '^tcp4 +[^ ]+ [^ ]+ [^ ]+ +[1-9][0-9]* \(gso [1-9]' "$tmp/out" ||
		fail "TSO4 accepted but the table shows no super-packets"
fi

"$VG" offload-check --json --megabytes 4 >"$tmp/json" || fail "--json exited $?"
grep -q '"ok":true' "$tmp/json" || fail "JSON not ok: $(cat "$tmp/json")"
grep -q '"name":"udp6"' "$tmp/json" || fail "JSON lacks udp6"
echo "ok: --json"

"$VG" offload-check --no-offload --megabytes 4 >"$tmp/out" 2>&1 || fail "--no-offload exited $?"
grep -Eq '^vnet header +no' "$tmp/out" || fail "--no-offload still used a vnet header"
echo "ok: --no-offload"

"$VG" offload-check --bogus >/dev/null 2>&1 && fail "a bad option was accepted"
[ $? -ne 0 ]

# Killed half-way: its namespaces and TUNs must go with it.  They are
# unnamed, so look for its namespace by inode in every process.
"$VG" offload-check --megabytes 512 >/dev/null 2>&1 &
pid=$!
sleep 1
ns=$(readlink "/proc/$pid/ns/net" 2>/dev/null || true)
kill -9 "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
pid=
[ -n "$ns" ] && [ "$ns" != "$(readlink /proc/self/ns/net)" ] ||
	fail "offload-check did not run in a namespace of its own"
sleep 0.5
for p in /proc/[0-9]*; do
	for t in "$p"/task/*/ns/net; do readlink "$t" 2>/dev/null; done
done | grep -qxF "$ns" && fail "namespace $ns outlived offload-check"
ip -o link show | grep -q vgoc && fail "a vgoc link leaked into the root namespace"
echo "ok: nothing left behind after SIGKILL"
echo PASS
