#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Kernel selftest step 11: a client (C) behind a NAT router (B) with
# persistent-keepalive 1.  The server (A) must see the client's endpoint as
# the NAT address, and must still reach the client after the router's UDP
# conntrack entries (2 s) would have expired without the keepalives.  The
# control: with the keepalive off, the same wait loses the mapping.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/tunnel_lib.sh"
require_root
require_cmd ip wg ping nft
require_dataplane
umask 077
NS_C=vgC$RUN_ID
IF_C=vgc$RUN_ID

# A (server) 10.77.0.1 --veth0-- 10.77.0.2 B (router, SNAT) 192.168.1.1
#   --vethr/vethc-- 192.168.1.2 C (client).
topo_init
ip netns add "$NS_C"; _nets+=("$NS_C")
in_c() { ip netns exec "$NS_C" "$@"; }
ip -n "$NS_C" link set lo up
ip -n "$NS_C" link add vethc type veth peer name vethr netns "$NS_B"
ip -n "$NS_C" addr add 192.168.1.2/24 dev vethc
ip -n "$NS_B" addr add 192.168.1.1/24 dev vethr
ip -n "$NS_C" link set vethc up
ip -n "$NS_B" link set vethr up
ip -n "$NS_C" route add default via 192.168.1.1
in_b sysctl -qw net.ipv4.ip_forward=1
in_b sysctl -qw net.netfilter.nf_conntrack_udp_timeout=2 ||
	skip "no per-namespace conntrack UDP timeout"
in_b sysctl -qw net.netfilter.nf_conntrack_udp_timeout_stream=2
in_b nft -f - <<'NFT' || skip "nft NAT unavailable"
table ip vgnat {
	chain post {
		type nat hook postrouting priority srcnat;
		ip saddr 192.168.1.0/24 oifname "veth0" snat to 10.77.0.2
	}
}
NFT

tunnel_keys
echo "$KEY_A" >"$_tmp/ka"; echo "$KEY_B" >"$_tmp/kc"
start_daemon "$NS_A" "$IF_A" vguard
start_daemon "$NS_C" "$IF_C" vguard
in_a wg set "$IF_A" private-key "$_tmp/ka" listen-port 51820 \
	peer "$PUB_B" allowed-ips 10.78.0.2/32
in_c wg set "$IF_C" private-key "$_tmp/kc" listen-port 51822 \
	peer "$PUB_A" endpoint 10.77.0.1:51820 allowed-ips 10.78.0.1/32 persistent-keepalive 1
in_a ip addr add 10.78.0.1/24 dev "$IF_A"
in_c ip addr add 10.78.0.2/24 dev "$IF_C"
in_a ip link set "$IF_A" up
in_c ip link set "$IF_C" up

wait_ping "$NS_C" 10.78.0.1 || fail "client cannot reach the server through the NAT"
in_a ping -c 1 -W 2 10.78.0.2 >/dev/null || fail "server cannot reach the client"
ep=$(in_a wg show "$IF_A" endpoints | cut -f2)
[ "$ep" = 10.77.0.2:51822 ] || fail "server sees the client at '$ep', want the NAT address 10.77.0.2:51822"
log "server sees the client at the NAT address $ep"

sleep 3
in_a ping -c 1 -W 2 10.78.0.2 >/dev/null || fail "server lost the client after 3 s despite keepalive 1"
sleep 3
in_a ping -c 1 -W 2 10.78.0.2 >/dev/null || fail "server lost the client after 6 s despite keepalive 1"
log "keepalives hold the NAT mapping open"

# Control: without keepalives the mapping expires and the server's ping,
# sent to a port the router no longer maps, is lost.
in_c wg set "$IF_C" peer "$PUB_A" persistent-keepalive 0
sleep 4
! in_a ping -c 1 -W 2 10.78.0.2 >/dev/null 2>&1 ||
	fail "control: server still reached the client without keepalives (conntrack timeout not in effect?)"
log "control: without keepalives the NAT mapping expires"
