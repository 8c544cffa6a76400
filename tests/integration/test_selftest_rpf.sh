#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Kernel selftest step 7: cryptokey routing is a reverse-path filter.  A
# datagram whose inner source maps to another peer, or to none, is dropped
# after decryption; the authenticated outer source still updates the
# sender's endpoint (kernel and wireguard-go set it before the check).
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/tunnel_lib.sh"
require_root
require_cmd ip wg python3
require_dataplane
tunnel_up vguard wg
in_a wg set "$IF_A" peer "$PUB_B" allowed-ips 10.78.0.0/24
wait_ping "$NS_A" 10.78.0.2 || fail "no ping"

# udp_probe SRC: B sends one datagram from SRC to 10.78.0.1; prints 1 if A
# received it within 2 s, else 0.
udp_probe() {
	local port=$((30000 + RANDOM % 20000))
	in_a python3 - "$port" >"$_tmp/probe" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.78.0.1", int(sys.argv[1]))); s.settimeout(2)
try:
    s.recvfrom(2048); print(1)
except socket.timeout:
    print(0)
PY
	local lp=$!
	sleep 0.3
	in_b python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 0)); s.sendto(b"rpf", ("10.78.0.1", int(sys.argv[2])))' "$1" "$port"
	wait "$lp"
	cat "$_tmp/probe"
}

[ "$(udp_probe 10.78.0.2)" = 1 ] || fail "datagram from B's own allowed IP not delivered"
log "datagram from 10.78.0.2 delivered while B owns 10.78.0.0/24"

# Another peer takes 10.78.0.2/32; B also moves to a new listen port, so
# the dropped datagram is the first to arrive from it.
PUB_C=$(wg genkey | wg pubkey)
in_a wg set "$IF_A" peer "$PUB_C" allowed-ips 10.78.0.2/32
in_b wg set "$IF_B" listen-port 51829
[ "$(udp_probe 10.78.0.2)" = 0 ] || fail "datagram whose source maps to another peer was delivered"
log "datagram from 10.78.0.2 dropped once 10.78.0.2/32 is another peer's"
in_a wg set "$IF_A" peer "$PUB_C" remove
ep=$(in_a wg show "$IF_A" endpoints | grep "^$PUB_B" | cut -f2)
[ "$ep" = 10.77.0.2:51829 ] || fail "endpoint after the dropped datagram: got '$ep', want 10.77.0.2:51829"
log "endpoint learnt from the dropped datagram: $ep"

# A source that maps to no peer at all.
in_b ip addr add 10.79.0.2/32 dev "$IF_B"
[ "$(udp_probe 10.79.0.2)" = 0 ] || fail "datagram from a source no peer owns was delivered"
log "datagram from 10.79.0.2 (no peer) dropped"
[ "$(udp_probe 10.78.0.2)" = 1 ] || fail "B's own source no longer delivered"
