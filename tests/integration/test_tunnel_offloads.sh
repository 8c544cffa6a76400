#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# vguard <-> vguard with offloads off at both ends, then mixed (one end
# with everything on, the other with everything off): ping, TCP transfers
# compared by SHA-256, iperf3 TCP and UDP (issue 6, item 1).
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/tunnel_lib.sh"
require_root
require_cmd ip wg iperf3 python3
require_dataplane
topo_init
tunnel_keys
OFF=(--no-tso --no-uso --no-tcp-gro --no-udp-gro --no-udp-gso --no-udp-gro-rx)

run_pair() { # label, args for A..., --, args for B...
	local label=$1; shift
	local a=() b=() side=a
	for x in "$@"; do
		if [ "$x" = -- ]; then side=b; continue; fi
		if [ $side = a ]; then a+=("$x"); else b+=("$x"); fi
	done
	start_daemon "$NS_A" "$IF_A" vguard "${a[@]}"
	start_daemon "$NS_B" "$IF_B" vguard "${b[@]}"
	tunnel_config wg 4
	wait_ping "$NS_A" 10.78.0.2 || fail "$label: no ping"
	wait_ping "$NS_B" fd78::1 || fail "$label: no IPv6 ping"
	transfer_check "$NS_A" "$NS_B" 10.78.0.2 50
	transfer_check "$NS_B" "$NS_A" fd78::1 30
	iperf_check "$NS_A" "$NS_B" 10.78.0.2 tcp 2
	iperf_check "$NS_B" "$NS_A" 10.78.0.1 udp 2
	log "$label: A tso_packets=$(stat_of "$NS_A" "$IF_A" tso_packets)" \
		"udp_gso_messages=$(stat_of "$NS_A" "$IF_A" udp_gso_messages);" \
		"B tso_packets=$(stat_of "$NS_B" "$IF_B" tso_packets)" \
		"udp_gso_messages=$(stat_of "$NS_B" "$IF_B" udp_gso_messages)"
}

run_pair "offloads off" "${OFF[@]}" -- "${OFF[@]}"
[ "$(stat_of "$NS_A" "$IF_A" tso_packets)" = 0 ] || fail "TSO used although switched off"
[ "$(stat_of "$NS_A" "$IF_A" udp_gso_messages)" = 0 ] || fail "UDP GSO used although switched off"
stop_daemon "$IF_A" || fail "vguard A did not exit 0 on SIGTERM"
stop_daemon "$IF_B" || fail "vguard B did not exit 0 on SIGTERM"
_pids=() _ifaces=()

run_pair "offloads mixed" -- "${OFF[@]}"
[ "$(stat_of "$NS_B" "$IF_B" tso_packets)" = 0 ] || fail "B read TSO although switched off"
