#!/usr/bin/env bash
# A TUN created in another network namespace (issue 15): vguard starts in
# NS_A with WG_TUN_FD of a multi-queue TUN made in NS_C, keeps its UDP
# sockets in NS_A and follows the interface in NS_C (one queue: more would
# attach by name, in the wrong namespace); SHA-256-checked transfers from
# NS_C, then from NS_A after the interface is moved there.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/tunnel_lib.sh"
source "$here/netns_lib.sh"
require_root
require_cmd ip wg ss python3
require_dataplane
topo_init
tunnel_keys
netns_c_init
start_daemon "$NS_B" "$IF_B" vguard
start_vguard_tunfd "$NS_A" "$NS_C" "$IF_A"
in_c ip link show "$IF_A" >/dev/null || fail "the TUN is not in NS_C"
config_pair
iface_setup "$NS_C"
wait_ping "$NS_C" 10.78.0.2 || { daemon_log "$IF_A"; fail "no ping from NS_C"; }
transfer_check "$NS_C" "$NS_B" 10.78.0.2 20
transfer_check "$NS_B" "$NS_C" fd78::1 20
log_has "$IF_A" "interface in network namespace id" || fail "the namespace was not logged"
log_has "$IF_A" "one queue" || fail "no notice of the single queue"
port_bound "$NS_A" 51820 || fail "the UDP sockets are not in NS_A"
port_bound "$NS_C" 51820 && fail "UDP sockets in NS_C"
log "started on a TUN from NS_C: tunnel up, sockets in NS_A"

log "move it to NS_A"
move_iface "$NS_C" "$NS_A"
wait_ping "$NS_A" 10.78.0.2 || { daemon_log "$IF_A"; fail "no ping from NS_A"; }
transfer_check "$NS_A" "$NS_B" 10.78.0.2 20
log_has "$IF_A" "interface in this network namespace" || fail "the move was not logged"

in_a ip link del "$IF_A"
wait_exit "$IF_A" "ip link del in NS_A"
