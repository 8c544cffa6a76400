#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Lifecycle (issue 6, item 8): link down and up starts a new session;
# restarting one end in the middle of a transfer recovers with a new
# handshake; `ip link del` and deleting the UAPI socket each make the
# daemon exit 0.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/tunnel_lib.sh"
require_root
require_cmd ip wg python3
require_dataplane
tunnel_up vguard wg
wait_ping "$NS_A" 10.78.0.2 || fail "no ping"

# Link down drops every session, as in the kernel: after up, A's next
# packet starts a fresh handshake, then data flows both ways again.
hs0=$(stat_of "$NS_A" "$IF_A" handshake_initiations_sent)
in_a ip link set "$IF_A" down
in_a ip link set "$IF_A" up
wait_ping "$NS_A" 10.78.0.2 || fail "no ping after link down and up"
hs1=$(stat_of "$NS_A" "$IF_A" handshake_initiations_sent)
[ "$hs1" -gt "$hs0" ] || fail "no new handshake after link down and up ($hs0 -> $hs1)"
wait_ping "$NS_B" 10.78.0.1 || fail "no ping from B after A's link down and up"
log "link down and up: new handshake ($hs0 -> $hs1 initiations), ping both ways"

# Restart B while A sends to it; TCP rides out the gap.
transfer_check "$NS_A" "$NS_B" 10.78.0.2 100 &
xfer=$!
tx0=$(( $(stat_of "$NS_A" "$IF_A" tx_bytes) >> 20 ))
wait_tx "$NS_A" "$IF_A" $((tx0 + 30))
stop_daemon "$IF_B" || fail "vguard B: exit status $? on SIGTERM"
log "B stopped (exit 0) in the middle of the transfer"
start_daemon "$NS_B" "$IF_B" vguard
in_b wg set "$IF_B" private-key "$_tmp/kb" listen-port 51821 \
	peer "$PUB_A" preshared-key "$_tmp/psk" endpoint 10.77.0.1:51820 \
	allowed-ips 10.78.0.1/32,fd78::1/128
in_b ip addr add 10.78.0.2/24 dev "$IF_B"
in_b ip addr add fd78::2/64 dev "$IF_B" nodad
in_b ip link set "$IF_B" up
wait "$xfer" || fail "the transfer did not survive a restart of B"
log "transfer survived a restart of B"

# Deleting the UAPI socket: the daemon exits 0.
# start_daemon registered IF_B twice; the live one is the last.
pb=${_pids[$((${#_pids[@]} - 1))]}
rm -f "/var/run/wireguard/$IF_B.sock"
rc=0; wait "$pb" || rc=$?
[ "$rc" -eq 0 ] || fail "vguard exit status $rc after its socket was deleted"
log "socket deleted: exit 0"

# ip link del: the daemon notices and exits 0.
pa=$(daemon_pid "$IF_A")
in_a ip link del "$IF_A"
rc=0; wait "$pa" || rc=$?
[ "$rc" -eq 0 ] || fail "vguard exit status $rc after ip link del"
log "ip link del: exit 0"
