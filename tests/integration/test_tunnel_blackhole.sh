#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The routing table decides where vguard's datagrams go, also while the
# peer keeps talking (so the sticky source is learnt again with every
# packet): a blackhole route to the peer stops A's replies, as it does for
# the kernel module and wireguard-go, and removing it brings them back.
# IPv4 and IPv6 underlays.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/tunnel_lib.sh"
require_root
require_cmd ip wg ping
require_dataplane

# received NS ADDR: how many of 20 pings, 0.1 s apart, were answered.
received() {
	ip netns exec "$1" ping -i 0.1 -c 20 -W 1 -q "$2" 2>/dev/null |
		sed -n 's/.* \([0-9]*\) received.*/\1/p'; true
}

topo_init
tunnel_keys
start_daemon "$NS_A" "$IF_A" vguard
start_daemon "$NS_B" "$IF_B" vguard
for outer in 4 6; do
	if [ "$outer" = 4 ]; then
		tunnel_config vg 4; b=10.77.0.2
	else
		# Same keys, B's endpoint moved to the IPv6 underlay.
		in_a "$VG" set "$IF_A" peer "$PUB_B" endpoint "[fd77::2]:51821"
		in_b "$VG" set "$IF_B" peer "$PUB_A" endpoint "[fd77::1]:51820"
		b=fd77::2
	fi
	wait_ping "$NS_B" 10.78.0.1 || fail "IPv$outer: no ping"
	in_a ip route add blackhole "$b"
	n=$(received "$NS_B" 10.78.0.1)
	[ "$n" = 0 ] || fail "IPv$outer: $n of 20 replies went past a blackhole route to $b"
	in_a ip route del blackhole "$b"
	wait_ping "$NS_B" 10.78.0.1 || fail "IPv$outer: no ping once the blackhole is gone"
	n=$(received "$NS_B" 10.78.0.1)
	[ "$n" -ge 18 ] || fail "IPv$outer: only $n of 20 replies after the blackhole"
	log "IPv$outer: the blackhole route held, and its removal healed"
done
