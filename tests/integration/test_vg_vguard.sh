#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# vg against vguard's own daemon: wg and vg read the same bytes back from
# vguard's UAPI, each configures it completely, and `vg stats` prints the
# daemon's stats=1 counters in its three formats.
set -uo pipefail

VG=${VGUARD_BUILD:-}/tools/vg
VGUARD=${VGUARD_BUILD:-}/tools/vguard
[ "$(id -u)" -eq 0 ] || { echo "needs root"; exit 77; }
[ -x "$VG" ] || { echo "no vg at $VG (set VGUARD_BUILD)"; exit 77; }
[ -x "$VGUARD" ] || { echo "no vguard daemon at $VGUARD"; exit 77; }
command -v wg >/dev/null || { echo "wg is not installed"; exit 77; }
[ -c /dev/net/tun ] || { echo "no /dev/net/tun"; exit 77; }

IF=vgtv$$ NS=vgtnsv$$
TMP=$(mktemp -d /tmp/vg-vguard.XXXXXX)
pid=
cleanup() {
	[ -n "$pid" ] && { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }
	ip netns del "$NS" 2>/dev/null
	rm -f "/var/run/wireguard/$IF.sock"
	rm -rf "$TMP"
}
trap cleanup EXIT

failures=0 checks=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
vgw() { bash -c 'exec -a wg "$0" "$@"' "$VG" "$@"; }
same_sorted() {
	local wrc vrc
	checks=$((checks + 1))
	wg "$@" 2>"$TMP/w.err" </dev/null | sort >"$TMP/w.out"; wrc=${PIPESTATUS[0]}
	vgw "$@" 2>"$TMP/v.err" </dev/null | sort >"$TMP/v.out"; vrc=${PIPESTATUS[0]}
	[ "$wrc" = "$vrc" ] || fail "$*: exit $wrc (wg) vs $vrc (vg)"
	cmp -s "$TMP/w.out" "$TMP/v.out" || { fail "$*: stdout differs"; diff "$TMP/w.out" "$TMP/v.out" | head -20; }
	cmp -s "$TMP/w.err" "$TMP/v.err" || { fail "$*: stderr differs"; diff "$TMP/w.err" "$TMP/v.err" | head -20; }
}

ip netns add "$NS" || exit 1
ip netns exec "$NS" env WG_PROCESS_FOREGROUND=1 "$VGUARD" "$IF" >"$TMP/vguard.log" 2>&1 &
pid=$!
for _ in $(seq 50); do [ -S "/var/run/wireguard/$IF.sock" ] && break; sleep 0.1; done
[ -S "/var/run/wireguard/$IF.sock" ] || { echo "vguard did not start"; cat "$TMP/vguard.log"; exit 1; }
ip -n "$NS" link set "$IF" up

umask 077
cd "$TMP" || exit 1
"$VG" genkey >k; "$VG" genpsk >psk
for i in 1 2 3; do "$VG" genkey | "$VG" pubkey >"p$i"; done

echo "== configured by vg"
"$VG" set "$IF" private-key k listen-port 51977 fwmark 0x33 \
	peer "$(cat p1)" preshared-key psk endpoint 127.0.0.1:9 allowed-ips 10.77.0.0/24,fd77::/64 persistent-keepalive 30 \
	peer "$(cat p2)" allowed-ips 10.78.0.1 endpoint [::1]:10 || fail "vg set on vguard"
checks=$((checks + 1))
# The keepalive sends a first initiation at once and retries only after
# 5 s: let the counters settle so both tools read the same bytes.
sleep 1
for f in "" dump public-key private-key listen-port fwmark peers preshared-keys endpoints \
	allowed-ips latest-handshakes persistent-keepalive transfer; do
	same_sorted show "$IF" $f
done
same_sorted showconf "$IF"
"$VG" show "$IF" fwmark | grep -qx 0x33 || fail "fwmark not applied"
"$VG" show "$IF" allowed-ips | grep -q "10.78.0.1/32" || fail "allowed-ips not applied"
checks=$((checks + 2))

echo "== configured by wg, read by vg"
printf '[Interface]\nPrivateKey = %s\nListenPort = 51978\n[Peer]\nPublicKey = %s\nAllowedIPs = 10.79.0.0/16\n' \
	"$(cat k)" "$(cat p3)" >c.conf
wg setconf "$IF" c.conf || fail "wg setconf on vguard"
same_sorted show "$IF" dump
same_sorted showconf "$IF"
"$VG" setconf "$IF" c.conf || fail "vg setconf on vguard"
[ "$(wg show "$IF" peers)" = "$(cat p3)" ] || fail "vg setconf did not replace the peers"
"$VG" set "$IF" peer "$(cat p3)" allowed-ips -10.79.0.0/16 || fail "vg set allowed-ips -prefix"
[ "$(wg show "$IF" allowed-ips | cut -f2)" = "(none)" ] || fail "allowed_ip=-prefix not applied"
checks=$((checks + 3))

echo "== stats"
"$VG" stats "$IF" >table || fail "vg stats exit $?"
"$VG" stats "$IF" --json >json || fail "vg stats --json exit $?"
"$VG" stats "$IF" --prometheus >prom || fail "vg stats --prometheus exit $?"
head -1 table | grep -qx "interface: $IF" || fail "stats table has no interface line"
grep -q "^peer: $(cat p3)\$" table || fail "stats table lacks the peer"
# Every device counter of the table is a Prometheus family.
awk 'NR > 1 && /^  / { print $1 } /^$/ { exit }' table >keys
[ -s keys ] || fail "stats table shows no device counters"
while read -r key; do
	grep -q "^# TYPE vguard_$key untyped\$" prom || fail "no vguard_$key in --prometheus"
done <keys
grep -q "peer=\"$(cat p3)\"" prom || fail "no per-peer sample in --prometheus"
if command -v python3 >/dev/null; then
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["interface"]==sys.argv[2] and d["peers"][0]["public_key"]==sys.argv[3]' \
		json "$IF" "$(cat p3)" || fail "stats --json is not the expected JSON"
fi
"$VG" stats "$IF" --bogus >/dev/null 2>&1 && fail "vg stats --bogus exited 0"
"$VG" stats nosuch$$ >/dev/null 2>&1 && fail "vg stats on a missing interface exited 0"
checks=$((checks + 9))

echo "vg on vguard: $checks checks, $failures failures"
[ "$failures" -eq 0 ]
