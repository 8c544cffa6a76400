#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# vguard <-> vguard (issue 6, item 1, offloads on at both ends): ping, a
# 200 MB TCP transfer compared by SHA-256, iperf3 TCP and UDP; IPv4 and
# IPv6 inside, then the same over an IPv6 outside.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/tunnel_lib.sh"
require_root
require_cmd ip wg iperf3 python3
require_dataplane
tunnel_up vguard wg

wait_ping "$NS_A" 10.78.0.2 || fail "no IPv4 ping through the tunnel"
wait_ping "$NS_B" fd78::1 || fail "no IPv6 ping through the tunnel"
log "ping both ways, IPv4 and IPv6 inside"
transfer_check "$NS_A" "$NS_B" 10.78.0.2 200
transfer_check "$NS_B" "$NS_A" fd78::1 50
iperf_check "$NS_A" "$NS_B" 10.78.0.2 tcp 3
iperf_check "$NS_B" "$NS_A" fd78::1 tcp 3
iperf_check "$NS_A" "$NS_B" 10.78.0.2 udp 3
[ "$(stat_of "$NS_A" "$IF_A" tso_packets)" -gt 0 ] || fail "no TSO super-packets read"
log "tso_packets=$(stat_of "$NS_A" "$IF_A" tso_packets) udp_gso_messages=$(stat_of "$NS_A" "$IF_A" udp_gso_messages) tcp_gro_writes(B)=$(stat_of "$NS_B" "$IF_B" tcp_gro_writes) udp_gro_writes(B)=$(stat_of "$NS_B" "$IF_B" udp_gro_writes)"

# The same tunnel over an IPv6 outside.
in_a wg set "$IF_A" peer "$PUB_B" endpoint "[fd77::2]:51821"
in_b wg set "$IF_B" peer "$PUB_A" endpoint "[fd77::1]:51820"
wait_ping "$NS_A" 10.78.0.2 || fail "no ping over the IPv6 outside"
transfer_check "$NS_A" "$NS_B" fd78::2 50
iperf_check "$NS_B" "$NS_A" 10.78.0.1 udp 3
in_a wg show "$IF_A" endpoints | grep -q 'fd77::2' || fail "endpoint not IPv6"
log "IPv6 outside ok"

# A smaller MTU on both ends: padding stays within it, full-size packets
# with DF still pass, and bulk TCP still arrives intact.
in_a ip link set "$IF_A" mtu 1280
in_b ip link set "$IF_B" mtu 1280
sleep 0.5
in_a ping -c 3 -i 0.2 -M do -s 1252 10.78.0.2 >/dev/null || fail "1280-byte DF ping failed"
in_a ping -c 2 -i 0.2 -s 1231 10.78.0.2 >/dev/null || fail "unaligned-size ping failed"
transfer_check "$NS_A" "$NS_B" 10.78.0.2 30
log "MTU 1280 ok"
