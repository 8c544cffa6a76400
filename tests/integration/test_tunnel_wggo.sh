#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# vguard <-> Debian's wireguard-go (issue 6, item 2): vguard initiates
# first, then (sessions dropped on both ends) wireguard-go does; ping,
# TCP transfers compared by SHA-256 and iperf3 each time.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/tunnel_lib.sh"
require_root
require_cmd ip wg iperf3 python3 wireguard-go
require_dataplane
tunnel_up wireguard-go wg

wait_ping "$NS_A" 10.78.0.2 || fail "vguard -> wireguard-go: no ping"
[ "$(stat_of "$NS_A" "$IF_A" handshake_initiations_sent)" -ge 1 ] ||
	fail "vguard did not initiate"
log "vguard initiated"
transfer_check "$NS_A" "$NS_B" 10.78.0.2 100
transfer_check "$NS_B" "$NS_A" fd78::1 50
iperf_check "$NS_A" "$NS_B" 10.78.0.2 tcp 3
iperf_check "$NS_B" "$NS_A" 10.78.0.1 tcp 3
iperf_check "$NS_A" "$NS_B" fd78::2 udp 2

# Drop both sessions: each side forgets the other, then relearns it.
in_a wg set "$IF_A" peer "$PUB_B" remove
in_b wg set "$IF_B" peer "$PUB_A" remove
before=$(stat_of "$NS_A" "$IF_A" handshake_initiations_received)
in_a wg set "$IF_A" peer "$PUB_B" preshared-key "$_tmp/psk" endpoint 10.77.0.2:51821 \
	allowed-ips 10.78.0.2/32,fd78::2/128
in_b wg set "$IF_B" peer "$PUB_A" preshared-key "$_tmp/psk" endpoint 10.77.0.1:51820 \
	allowed-ips 10.78.0.1/32,fd78::1/128
wait_ping "$NS_B" 10.78.0.1 || fail "wireguard-go -> vguard: no ping"
after=$(stat_of "$NS_A" "$IF_A" handshake_initiations_received)
[ "$after" -gt "$before" ] || fail "wireguard-go did not initiate ($before -> $after)"
log "wireguard-go initiated"
transfer_check "$NS_B" "$NS_A" 10.78.0.1 100
transfer_check "$NS_A" "$NS_B" fd78::2 50
iperf_check "$NS_B" "$NS_A" 10.78.0.1 tcp 3
iperf_check "$NS_B" "$NS_A" fd78::1 udp 2
