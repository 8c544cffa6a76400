#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# vguard's protocol core against wireguard-go on the wire: a bare peer
# built on device/peer.h (tests/integration/proto-peer) handshakes with
# wireguard-go over loopback in a private namespace, as initiator (its
# ping through the tunnel is answered by the kernel behind wireguard-go's
# TUN), through a rekey it starts by pushing its send counter past
# REKEY_AFTER_MESSAGES, and as responder (it answers pings that
# wireguard-go tunnels to it).
set -euo pipefail
: "${VGUARD_BUILD:?VGUARD_BUILD must name the build directory}"
[ "$(id -u)" -eq 0 ] || { echo "needs root"; exit 77; }
[ -c /dev/net/tun ] || { echo "needs /dev/net/tun"; exit 77; }
command -v wireguard-go >/dev/null || { echo "needs wireguard-go"; exit 77; }
command -v wg >/dev/null || { echo "needs wg"; exit 77; }
PP=$VGUARD_BUILD/tests/integration/proto-peer
[ -x "$PP" ] || { echo "tests/integration/proto-peer is not built"; exit 77; }

NS=vgpw$$
IF=vgpw$$
tmp=$(mktemp -d /tmp/vguard-test-proto.XXXXXX)
wgpid=
cleanup() {
	local rc=$?
	set +e
	[ -n "$wgpid" ] && kill "$wgpid" 2>/dev/null && wait "$wgpid" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	rm -f "/var/run/wireguard/$IF.sock"
	rm -rf "$tmp"
	exit $rc
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; cat "$tmp"/*.log 2>/dev/null; exit 1; }
in_ns() { ip netns exec "$NS" "$@"; }

umask 077
ip netns add "$NS"
ip -n "$NS" link set lo up
wg genkey >"$tmp/go.key"
wg genkey >"$tmp/pp.key"
go_pub=$(wg pubkey <"$tmp/go.key")
pp_pub=$(wg pubkey <"$tmp/pp.key")
pp_key=$(cat "$tmp/pp.key")
GO_PORT=51820 PP_PORT=51821

WG_PROCESS_FOREGROUND=1 LOG_LEVEL=debug in_ns wireguard-go -f "$IF" >"$tmp/wireguard-go.log" 2>&1 &
wgpid=$!
for _ in $(seq 50); do [ -S "/var/run/wireguard/$IF.sock" ] && break; sleep 0.1; done
[ -S "/var/run/wireguard/$IF.sock" ] || fail "wireguard-go did not start"

add_peer() {
	in_ns wg set "$IF" private-key "$tmp/go.key" listen-port $GO_PORT \
		peer "$pp_pub" allowed-ips 10.99.0.2/32 endpoint 127.0.0.1:$PP_PORT
}
add_peer
in_ns ip addr add 10.99.0.1/24 dev "$IF"
in_ns ip link set "$IF" up

echo "--- proto-peer initiates"
in_ns "$PP" initiate "$pp_key" "$go_pub" $PP_PORT $GO_PORT >"$tmp/initiate.log" 2>&1 ||
	fail "no echo reply through wireguard-go"
cat "$tmp/initiate.log"
in_ns wg show "$IF" latest-handshakes | grep -q "$pp_pub	[1-9]" ||
	fail "wireguard-go shows no handshake"

echo "--- wireguard-go initiates"
in_ns wg set "$IF" peer "$pp_pub" remove
add_peer
in_ns "$PP" respond "$pp_key" "$go_pub" $PP_PORT $GO_PORT >"$tmp/respond.log" 2>&1 &
pp=$!
sleep 0.3
in_ns ping -c 3 -i 0.3 -W 5 10.99.0.2 >"$tmp/ping.log" 2>&1 || { kill $pp 2>/dev/null; fail "ping through proto-peer failed"; }
wait $pp || fail "proto-peer did not answer 3 echo requests"
grep -q '3 received' "$tmp/ping.log" || fail "ping lost replies"
! grep -q truncated "$tmp/ping.log" || fail "echo replies came back truncated"
cat "$tmp/respond.log" "$tmp/ping.log"
echo "proto-peer interoperates with wireguard-go both ways"
