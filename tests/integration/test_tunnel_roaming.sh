#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Roaming (issue 6, item 6): one end's underlay address moves in the middle
# of a transfer; the other end follows the authenticated packets to the new
# address and the transfer completes.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/tunnel_lib.sh"
require_root
require_cmd ip wg python3
require_dataplane
tunnel_up vguard vg
wait_ping "$NS_A" 10.78.0.2 || fail "no ping"
in_b wg show "$IF_B" endpoints | grep -q '10.77.0.1:51820' || fail "B's endpoint for A is not 10.77.0.1"
transfer_check "$NS_A" "$NS_B" 10.78.0.2 400 &
xfer=$!
tx0=$(( $(stat_of "$NS_A" "$IF_A" tx_bytes) >> 20 ))
wait_tx "$NS_A" "$IF_A" $((tx0 + 30))
# Delete first: removing a primary address takes its secondaries along.
in_a ip addr del 10.77.0.1/24 dev veth0
in_a ip addr add 10.77.0.11/24 dev veth0
log "A moved from 10.77.0.1 to 10.77.0.11"
wait "$xfer" || fail "the transfer across the move failed"
# A fast transfer may finish before the address moves: a ping after the
# move is authenticated traffic from the new address either way.
wait_ping "$NS_A" 10.78.0.2 || fail "no ping after the move"
ep=$(in_b wg show "$IF_B" endpoints | awk '{print $2}')
log "B now reaches A at $ep"
[ "$ep" = "10.77.0.11:51820" ] || fail "B did not follow A to 10.77.0.11 ($ep)"
# And back the other way, B -> A, over the new address.
transfer_check "$NS_B" "$NS_A" 10.78.0.1 30
