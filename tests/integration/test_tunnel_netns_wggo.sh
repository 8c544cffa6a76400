#!/usr/bin/env bash
# The interface moved to another network namespace (issue 15) with
# upstream wireguard-go as the peer: vguard's IF_A goes from NS_A to NS_C
# and back; SHA-256-checked transfers each way before, between and after.
# Upstream's binary is VGUARD_WGGO_ANCHOR, by default the project's
# measuring stick in /work/shared/anchors; without it the test is skipped.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/tunnel_lib.sh"
source "$here/netns_lib.sh"
require_root
require_cmd ip wg ss python3
require_dataplane
ANCHOR=${VGUARD_WGGO_ANCHOR:-/work/shared/anchors/wireguard-go}
[ -x "$ANCHOR" ] || skip "no upstream wireguard-go at $ANCHOR"
tunnel_up "$ANCHOR" wg
netns_c_init
wait_ping "$NS_A" 10.78.0.2 || fail "no ping"
transfer_check "$NS_A" "$NS_B" 10.78.0.2 20

log "move $IF_A to NS_C"
move_iface "$NS_A" "$NS_C"
wait_ping "$NS_C" 10.78.0.2 || { daemon_log "$IF_A"; fail "no ping from NS_C"; }
transfer_check "$NS_C" "$NS_B" 10.78.0.2 20
transfer_check "$NS_B" "$NS_C" fd78::1 20
port_bound "$NS_A" 51820 || fail "the UDP sockets left NS_A"

log "move $IF_A back to NS_A"
move_iface "$NS_C" "$NS_A"
wait_ping "$NS_A" 10.78.0.2 || { daemon_log "$IF_A"; fail "no ping after the move back"; }
transfer_check "$NS_A" "$NS_B" fd78::2 20
transfer_check "$NS_B" "$NS_A" 10.78.0.1 20
check_alive "$IF_A"
