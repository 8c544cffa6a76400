#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The Linux TUN under real kernel traffic: two namespaces whose TUNs are
# joined by tunpipe (vguard's TUN layer, no crypto).  Checks multi-queue
# open/close, TSO super-packets read, coalesced writes delivered intact
# (SHA-256 of a multi-megabyte TCP transfer, IPv4 and IPv6), the same with
# offloads off, link events (up, down, MTU) and "closed" on deletion.
set -euo pipefail
: "${VGUARD_BUILD:?VGUARD_BUILD must name the build directory}"
[ "$(id -u)" -eq 0 ] || { echo "needs root"; exit 77; }
[ -c /dev/net/tun ] || { echo "needs /dev/net/tun"; exit 77; }
TP=$VGUARD_BUILD/tools/bench/tunpipe
[ -x "$TP" ] || { echo "tools/bench/tunpipe is not built"; exit 77; }

id=$$
NA=vgtA$id NB=vgtB$id IA=vgta$id IB=vgtb$id
tmp=$(mktemp -d /tmp/vguard-test-tun.XXXXXX)
pid=
cleanup() {
	local rc=$?
	set +e
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	ip netns del "$NA" 2>/dev/null
	ip netns del "$NB" 2>/dev/null
	rm -rf "$tmp"
	exit $rc
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; echo "--- tunpipe output"; cat "$tmp/out" "$tmp/err" 2>/dev/null; exit 1; }

ip netns add "$NA"
ip netns add "$NB"
head -c $((24 << 20)) /dev/urandom >"$tmp/data"
want=$(sha256sum <"$tmp/data" | cut -d' ' -f1)

wait_for() { # pattern [tenths]
	local i
	for ((i = 0; i < ${2:-100}; i++)); do
		grep -q -- "$1" "$tmp/out" 2>/dev/null && return 0
		sleep 0.1
	done
	fail "timed out waiting for '$1'"
}

start() { # tunpipe options
	: >"$tmp/out"
	"$TP" "$@" "$NA" "$IA" "$NB" "$IB" >"$tmp/out" 2>"$tmp/err" &
	pid=$!
	wait_for '^ready'
	ip -n "$NA" addr add 10.203.0.1/24 dev "$IA"
	ip -n "$NA" addr add fd77:7470::1/64 dev "$IA" nodad
	ip -n "$NB" addr add 10.203.0.2/24 dev "$IB"
	ip -n "$NB" addr add fd77:7470::2/64 dev "$IB" nodad
	ip -n "$NA" link set "$IA" up
	ip -n "$NB" link set "$IB" up
	wait_for "^event $IA up"
	wait_for "^event $IB up"
}

stop() {
	kill -TERM "$pid"
	wait "$pid" || fail "tunpipe exited with $?"
	pid=
}

counter() { # device key
	grep "^$1 reads=" "$tmp/out" | tail -n 1 | tr ' ' '\n' | sed -n "s/^$2=//p"
}

transfer() { # destination address
	local got i
	ip netns exec "$NB" "$TP" sink "$1" 5301 | sha256sum >"$tmp/got" &
	local spid=$!
	for ((i = 0; i < 50; i++)); do
		ip netns exec "$NA" "$TP" send "$1" 5301 <"$tmp/data" 2>/dev/null && break
		sleep 0.1
	done
	wait "$spid"
	got=$(cut -d' ' -f1 "$tmp/got")
	[ "$got" = "$want" ] || fail "transfer to $1: sha256 $got, want $want"
	echo "ok: 24 MiB to $1 intact"
}

echo "--- offloads on, 4 queues"
start --queues 4
grep -q "^$IA vnet_hdr=1 .*queues=4" "$tmp/out" || fail "A is not a 4-queue vnet TUN"
[ "$(ip netns exec "$NA" ls "/sys/class/net/$IA/queues" | grep -c '^rx-')" -eq 4 ] ||
	fail "A does not have 4 queues"
transfer 10.203.0.2
transfer fd77:7470::2
ip -n "$NA" link set "$IA" down
wait_for "^event $IA down"
ip -n "$NA" link set "$IA" up
wait_for "^event $IA up"
ip -n "$NA" link set "$IA" mtu 1300
wait_for "^event $IA mtu 1300"
stop
for k in gso_tcp4 gso_tcp6; do
	v=$(counter "$IA" $k)
	[ "${v:-0}" -gt 0 ] || fail "no $k super-packets read from $IA"
	echo "ok: $IA $k=$v (max size $(counter "$IA" ${k}_max_size))"
done
v=$(counter "$IB" tcp_coalesced)
[ "${v:-0}" -gt 0 ] || fail "no coalesced writes to $IB"
echo "ok: $IB tcp_coalesced=$v tcp_merged=$(counter "$IB" tcp_merged)"
# write_errors may count link-local packets that reach B before it is up (EIO).
for k in rejected malformed bad_csum; do
	[ "$(counter "$IB" $k)" = 0 ] || fail "$IB $k=$(counter "$IB" $k)"
done
# The down event must not come before the first up.
[ "$(grep -n "^event $IA" "$tmp/out" | head -n 1 | grep -c ' up$')" -eq 1 ] ||
	fail "first event of $IA is not up"
ip -n "$NA" link show "$IA" >/dev/null 2>&1 && fail "$IA survived tunpipe"
echo "ok: queues closed, devices gone"

echo "--- offloads off"
start --no-offload
grep -q "^$IA vnet_hdr=0" "$tmp/out" || fail "vnet header still on"
transfer 10.203.0.2
transfer fd77:7470::2
stop
[ "$(counter "$IA" gso_tcp4)" = 0 ] || fail "super-packets without vnet header"
[ "$(counter "$IB" tcp_coalesced)" = 0 ] || fail "coalesced writes without vnet header"
echo "ok: offloads off"

echo "--- a passed fd (WG_TUN_FD), with and without vnet header"
start --pass-fd vnet
grep -q "^$IA vnet_hdr=1 .*queues=1 .*tso=on" "$tmp/out" || fail "passed vnet fd lost its offloads"
transfer 10.203.0.2
stop
[ "$(counter "$IA" gso_tcp4)" -gt 0 ] || fail "no super-packets from a passed vnet fd"
start --pass-fd plain
grep -q "^$IA vnet_hdr=0 .*queues=1" "$tmp/out" || fail "plain passed fd claims a vnet header"
transfer fd77:7470::2
stop
echo "ok: passed fds"

echo "--- interface deleted underneath"
start
ip -n "$NA" link del "$IA"
wait_for "^event $IA closed"
for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && fail "tunpipe did not exit after the interface was deleted"
wait "$pid" || fail "tunpipe exited with $? after the delete"
pid=
echo "ok: deletion is a clean close"
echo "PASS"
