#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Kernel selftest step 14: wg-quick-style default-route policy routing.  A
# sends everything through the tunnel (table 51820 for all but packets
# carrying fwmark 51820); only the daemon's fwmark on its outer sockets
# keeps the outer packets from routing back into the tunnel.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/tunnel_lib.sh"
require_root
require_cmd ip wg ping
require_dataplane
tunnel_up vguard wg
wait_ping "$NS_A" 10.78.0.2 || fail "no ping"

# B's outer address 10.201.0.2 is reachable only by A's main-table default
# route, which suppress_prefixlength 0 hides from everything unmarked: the
# outer packets reach B only if they carry the fwmark.
in_b ip addr add 10.201.0.2/32 dev veth0
in_a ip route add default via 10.77.0.2 dev veth0
in_a wg set "$IF_A" peer "$PUB_B" endpoint 10.201.0.2:51821
wait_ping "$NS_A" 10.78.0.2 || fail "no ping via 10.201.0.2"

# Destinations on B that only the tunnel reaches.
in_b ip addr add 10.200.0.1/32 dev lo
in_b ip addr add fd99::1/128 dev lo
in_a wg set "$IF_A" fwmark 51820 peer "$PUB_B" allowed-ips 0.0.0.0/0,::/0
[ "$(in_a wg show "$IF_A" fwmark)" = 0xca6c ] || fail "fwmark reads back '$(in_a wg show "$IF_A" fwmark)'"
for v in -4 -6; do
	in_a ip $v route add default dev "$IF_A" table 51820
	in_a ip $v rule add not fwmark 51820 table 51820
	in_a ip $v rule add table main suppress_prefixlength 0
done
in_a sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.veth0.rp_filter=0

for dst in 10.200.0.1 fd99::1; do
	wait_ping "$NS_A" "$dst" || fail "no ping to $dst through the default route"
	out=$(in_a ping -f -c 100 -W 1 "$dst" 2>&1) || fail "flood ping to $dst: $out"
	echo "$out" | grep -q ' 0% packet loss' || fail "flood ping to $dst lost packets: $(echo "$out" | grep loss)"
	log "100 flood pings to $dst through the tunnel"
done
ep=$(in_a wg show "$IF_A" endpoints | cut -f2)
[ "$ep" = 10.201.0.2:51821 ] || fail "A's endpoint for B moved to '$ep': the default route was not exercised"
