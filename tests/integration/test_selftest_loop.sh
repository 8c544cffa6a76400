#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Kernel selftest step 13 (and the spirit of step 10): a peer whose endpoint
# lies inside its own allowed IPs sends its outer packets back into the
# tunnel.  The kernel refuses such a route (-ELOOP); vguard drops its own
# outer datagrams when they come back through the TUN, so the loop cannot
# amplify: the ping fails, the outer traffic stays under 100 kB over 2 s
# and stops within a second of the last inner packet, the drops are counted
# (drop_routing_loop), the daemon survives, and once the endpoint is fixed
# the tunnel works again.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/tunnel_lib.sh"
require_root
require_cmd ip wg ping
require_dataplane
tunnel_up vguard wg
wait_ping "$NS_A" 10.78.0.2 || fail "no ping"

in_a wg set "$IF_A" peer "$PUB_B" endpoint 10.78.0.2:5
tx0=$(stat_of "$NS_A" "$IF_A" tx_bytes)
! in_a ping -c 1 -W 1 10.78.0.2 >/dev/null 2>&1 || fail "ping through a looping endpoint succeeded"
in_a ping -c 10 -i 0.2 -W 1 10.78.0.2 >/dev/null 2>&1 || true
tx1=$(stat_of "$NS_A" "$IF_A" tx_bytes)
log "looping endpoint: $((tx1 - tx0)) bytes sent over ~3 s of pings"
[ $((tx1 - tx0)) -lt 100000 ] || fail "the loop amplified: $((tx1 - tx0)) bytes (kernel: < 100000)"
loops=$(stat_of "$NS_A" "$IF_A" drop_routing_loop)
[ "$loops" -gt 0 ] || fail "no looping packet counted"
sleep 1
tx2=$(stat_of "$NS_A" "$IF_A" tx_bytes)
sleep 1
tx3=$(stat_of "$NS_A" "$IF_A" tx_bytes)
[ $((tx3 - tx2)) -lt 1000 ] || fail "the loop went on after the last ping: $((tx3 - tx2)) bytes in 1 s"
log "loop bounded: $loops looping packets dropped, $((tx3 - tx2)) bytes in the second after"
kill -0 "$(daemon_pid "$IF_A")" 2>/dev/null || fail "daemon died in the loop"
in_a wg show "$IF_A" >/dev/null || fail "daemon does not answer in the loop"

in_a wg set "$IF_A" peer "$PUB_B" endpoint 10.77.0.2:51821
wait_ping "$NS_A" 10.78.0.2 || fail "tunnel did not recover from the loop"
sleep 1
tx4=$(stat_of "$NS_A" "$IF_A" tx_bytes)
sleep 1
tx5=$(stat_of "$NS_A" "$IF_A" tx_bytes)
[ $((tx5 - tx4)) -lt 70000 ] || fail "loop still running after the fix: $((tx5 - tx4)) bytes in 1 s"
log "daemon survived, loop stopped with the fix, tunnel recovered"
