#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The tunnel demo: two network namespaces joined by a veth pair, a vguard
# daemon in each configured with vg from freshly generated keys, a ping
# across the tunnel, a 5-second iperf3, then the daemons' counters.
# Everything it makes is removed on exit.  Needs root and a build directory.
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
id=$(printf '%x%x' $$ $((RANDOM % 256)))
nsa=vgdA$id nsb=vgdB$id ifa=vgda$id ifb=vgdb$id
pids=()
tmp=$(mktemp -d /tmp/vguard-demo.XXXXXX)
cleanup() {
	set +e
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	sleep 0.5
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	rm -f "/var/run/wireguard/$ifa.sock" "/var/run/wireguard/$ifb.sock"
	ip netns del "$nsa" 2>/dev/null
	ip netns del "$nsb" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
vg=$build/tools/vg

ip netns add "$nsa"; ip netns add "$nsb"
ip -n "$nsa" link set lo up; ip -n "$nsb" link set lo up
ip -n "$nsa" link add veth0 type veth peer name veth0 netns "$nsb"
ip -n "$nsa" addr add 10.99.0.1/24 dev veth0; ip -n "$nsa" link set veth0 up
ip -n "$nsb" addr add 10.99.0.2/24 dev veth0; ip -n "$nsb" link set veth0 up

start() { # ns ifname
	LOG_LEVEL=error ip netns exec "$1" "$build/tools/vguard" -f "$2" >"$tmp/$2.log" 2>&1 &
	pids+=($!)
	for _ in $(seq 1 50); do [ -S "/var/run/wireguard/$2.sock" ] && return; sleep 0.1; done
	cat "$tmp/$2.log"; echo "vguard $2 did not start" >&2; exit 1
}
start "$nsa" "$ifa"; start "$nsb" "$ifb"

(umask 077; "$vg" genkey >"$tmp/ka"; "$vg" genkey >"$tmp/kb")
pa=$("$vg" pubkey <"$tmp/ka"); pb=$("$vg" pubkey <"$tmp/kb")
ip netns exec "$nsa" "$vg" set "$ifa" private-key "$tmp/ka" listen-port 51820 \
	peer "$pb" endpoint 10.99.0.2:51821 allowed-ips 10.98.0.2/32
ip netns exec "$nsb" "$vg" set "$ifb" private-key "$tmp/kb" listen-port 51821 \
	peer "$pa" endpoint 10.99.0.1:51820 allowed-ips 10.98.0.1/32
ip -n "$nsa" addr add 10.98.0.1/24 dev "$ifa"; ip -n "$nsa" link set "$ifa" up
ip -n "$nsb" addr add 10.98.0.2/24 dev "$ifb"; ip -n "$nsb" link set "$ifb" up

echo "== ping across the tunnel"
ip netns exec "$nsa" ping -c 3 -W 2 10.98.0.2
echo "== iperf3, 5 seconds, one TCP stream A -> B"
ip netns exec "$nsb" iperf3 -s -1 -D -B 10.98.0.2 >/dev/null
sleep 0.5
ip netns exec "$nsa" iperf3 -c 10.98.0.2 -t 5 | tail -n 4
echo "== vg show ($ifa)"
ip netns exec "$nsa" "$vg" show "$ifa"
echo "== vg stats ($ifa, the sender: TSO reads split, UDP GSO sends)"
ip netns exec "$nsa" "$vg" stats "$ifa"
echo "== vg stats ($ifb, the receiver: UDP GRO receives, TCP GRO writes)"
ip netns exec "$nsb" "$vg" stats "$ifb"
