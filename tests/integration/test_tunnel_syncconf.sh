#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `wg syncconf` with the peer unchanged keeps the session (issue 6, item
# 5): no new handshake, and a transfer running across it completes.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/tunnel_lib.sh"
require_root
require_cmd ip wg python3
require_dataplane
tunnel_up vguard wg
wait_ping "$NS_A" 10.78.0.2 || fail "no ping"
hs_a=$(in_a wg show "$IF_A" latest-handshakes | awk '{print $2}')
in_a wg showconf "$IF_A" >"$_tmp/a.conf"
in_b wg showconf "$IF_B" >"$_tmp/b.conf"
(
	for i in 1 2 3 4 5; do
		sleep 0.4
		in_a wg syncconf "$IF_A" "$_tmp/a.conf"
		in_b wg syncconf "$IF_B" "$_tmp/b.conf"
		in_a wg setconf "$IF_A" "$_tmp/a.conf" 2>/dev/null || true
	done
) &
sync_pid=$!
transfer_check "$NS_A" "$NS_B" 10.78.0.2 100
wait "$sync_pid" || fail "wg syncconf failed"
hs_a2=$(in_a wg show "$IF_A" latest-handshakes | awk '{print $2}')
n=$(( $(stat_of "$NS_A" "$IF_A" handshake_initiations_sent) +
      $(stat_of "$NS_A" "$IF_A" handshake_initiations_received) ))
log "handshakes: $hs_a -> $hs_a2, initiations seen by A: $n"
[ "$hs_a" = "$hs_a2" ] || fail "syncconf started a new handshake ($hs_a -> $hs_a2)"
[ "$n" -eq 1 ] || fail "A saw $n initiations, want 1"

# Live changes that must take effect at once: fwmark re-marks the sockets,
# a new listen port rebinds them (the peer follows), a taken port is
# refused with EADDRINUSE and changes nothing.
in_a wg set "$IF_A" fwmark 0x42
in_a ss -uaen "sport = :51820" 2>/dev/null | grep -q 'fwmark:0x42' || fail "sockets not re-marked"
wait_ping "$NS_A" 10.78.0.2 || fail "no ping after the fwmark change"
in_a wg set "$IF_A" listen-port 51825
[ "$(in_a wg show "$IF_A" listen-port)" = 51825 ] || fail "listen port not changed"
in_a ss -uan "sport = :51825" 2>/dev/null | grep -q 51825 || fail "no socket on the new port"
wait_ping "$NS_A" 10.78.0.2 || fail "no ping after the port change"
in_b wg show "$IF_B" endpoints | grep -q ':51825' || fail "B did not follow A to port 51825"
in_a python3 -c 'import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", 51826)); time.sleep(5)' &
sleep 0.5
if in_a wg set "$IF_A" listen-port 51826 2>"$_tmp/err"; then fail "a taken port was accepted"; fi
grep -q "Address already in use" "$_tmp/err" || fail "unexpected error: $(cat "$_tmp/err")"
[ "$(in_a wg show "$IF_A" listen-port)" = 51825 ] || fail "a refused port change moved the port"
wait_ping "$NS_A" 10.78.0.2 || fail "no ping after a refused port change"
log "fwmark, listen-port and a refused port change ok"
