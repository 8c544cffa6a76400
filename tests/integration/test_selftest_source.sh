#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Kernel selftest steps 16, 18 and 19: the sticky source is not too sticky.
# A (vguard) caches the local address its peer's packets arrive on; when
# that address goes away (16), when the packets arrive for an address on
# another interface (18), or when a better route appears (19), A must send
# from the right address, and B (vguard) must learn exactly that endpoint.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/tunnel_lib.sh"
require_root
require_cmd ip wg ping
require_dataplane
tunnel_up vguard wg
wait_ping "$NS_A" 10.78.0.2 || fail "no ping"
in_b ping -c 1 -W 2 10.78.0.1 >/dev/null || fail "no ping B -> A"

# expect_ep WANT: B's recorded endpoint for A after a ping each way.
expect_ep() {
	in_a ping -c 1 -W 2 10.78.0.2 >/dev/null || fail "$2: ping A -> B lost"
	in_b ping -c 1 -W 2 10.78.0.1 >/dev/null || fail "$2: ping B -> A lost"
	local ep
	ep=$(in_b wg show "$IF_B" endpoints | cut -f2)
	[ "$ep" = "$1" ] || fail "$2: B sees A at '$ep', want $1"
	log "$2: B sees A at $ep"
}

# Step 16, IPv4: A's source address is replaced (promoted secondary).
in_a sysctl -qw net.ipv4.conf.veth0.promote_secondaries=1
in_a ip addr add 10.77.0.10/24 dev veth0
in_a ip addr del 10.77.0.1/24 dev veth0
expect_ep 10.77.0.10:51820 "v4 source replaced"

# Step 16, IPv6.
in_a wg set "$IF_A" peer "$PUB_B" endpoint "[fd77::2]:51821"
in_b wg set "$IF_B" peer "$PUB_A" endpoint "[fd77::1]:51820"
expect_ep "[fd77::1]:51820" "v6 before"
in_a ip addr add fd77::10/64 dev veth0 nodad
in_a ip addr del fd77::1/64 dev veth0
expect_ep "[fd77::10]:51820" "v6 source replaced"

# Step 18: B targets an address on another interface of A (a dummy, or lo
# where the kernel has no dummy driver); the packets arrive on the veth,
# and the replies must still come from that address.
if in_a ip link add dummy0 type dummy 2>/dev/null; then
	in_a ip addr add 10.50.0.1/24 dev dummy0
	in_a ip link set dummy0 up
else
	in_a ip addr add 10.50.0.1/32 dev lo
fi
in_b ip route add 10.50.0.0/24 dev veth0
in_b wg set "$IF_B" peer "$PUB_A" endpoint 10.50.0.1:51820
in_b ping -c 1 -W 2 10.78.0.1 >/dev/null || fail "inbound on another interface: ping lost"
ep=$(in_b wg show "$IF_B" endpoints | cut -f2)
[ "$ep" = 10.50.0.1:51820 ] || fail "inbound on another interface: B sees A at '$ep', want 10.50.0.1:51820"
log "inbound on another interface: B sees A at $ep"

# Step 19: A reaches B over veth0 (source 10.77.0.10); then a better route
# to B through a second veth (source 10.77.1.3) appears.
in_b ip route del 10.50.0.0/24 dev veth0
in_b wg set "$IF_B" peer "$PUB_A" endpoint 10.77.0.10:51820
# A still sends from 10.50.0.1, learnt in step 18.  Setting its endpoint
# for B again, to the very address it has, must drop that source (the
# source is part of the endpoint, as in the kernel): A speaks first.
in_a wg set "$IF_A" peer "$PUB_B" endpoint 10.77.0.2:51821
in_a ping -c 1 -W 2 10.78.0.2 >/dev/null || fail "A -> B lost after re-setting the endpoint"
ep=$(in_b wg show "$IF_B" endpoints | cut -f2)
[ "$ep" = 10.77.0.10:51820 ] || fail "re-set endpoint kept the learnt source: B sees A at '$ep'"
expect_ep 10.77.0.10:51820 "before the better route"
ip -n "$NS_A" link add veth1 type veth peer name veth1 netns "$NS_B"
in_a ip addr add 10.77.1.3/24 dev veth1
in_b ip addr add 10.77.1.4/24 dev veth1
in_a ip link set veth1 up
in_b ip link set veth1 up
for ns in "$NS_A" "$NS_B"; do
	ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.veth1.rp_filter=0
done
in_a ip route add 10.77.0.2/32 dev veth1 src 10.77.1.3 metric 1
sleep 0.5
expect_ep 10.77.1.3:51820 "better route"
