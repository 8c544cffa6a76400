#!/usr/bin/env bash
# Kernel selftest step 13 (and the spirit of step 10): a peer whose endpoint
# lies inside its own allowed IPs sends its outer packets back into the
# tunnel.  The ping must fail, the daemon must survive, and once the
# endpoint is fixed the loop must stop and the tunnel work again.
#
# Not asserted: the kernel refuses such a route (-ELOOP, "Avoiding routing
# loop") and bounds step 10 at 70,000 bytes a second.  vguard, like
# wireguard-go, sends into the loop; locally fragmented outer datagrams
# re-enter the TUN and multiply, so the volume is only logged here.
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
tx1=$(stat_of "$NS_A" "$IF_A" tx_bytes)
log "looping endpoint: $((tx1 - tx0)) bytes sent in ~1 s (kernel: < 70000)"
kill -0 "$(daemon_pid "$IF_A")" 2>/dev/null || fail "daemon died in the loop"
in_a wg show "$IF_A" >/dev/null || fail "daemon does not answer in the loop"

in_a wg set "$IF_A" peer "$PUB_B" endpoint 10.77.0.2:51821
wait_ping "$NS_A" 10.78.0.2 || fail "tunnel did not recover from the loop"
sleep 1
tx2=$(stat_of "$NS_A" "$IF_A" tx_bytes)
sleep 1
tx3=$(stat_of "$NS_A" "$IF_A" tx_bytes)
[ $((tx3 - tx2)) -lt 70000 ] || fail "loop still running after the fix: $((tx3 - tx2)) bytes in 1 s"
log "daemon survived, loop stopped with the fix, tunnel recovered"
