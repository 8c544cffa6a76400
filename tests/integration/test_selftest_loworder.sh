#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Kernel selftest step 23: peers whose public keys are low-order Curve25519
# points give an all-zero static-static ECDH result, so no handshake
# initiation may ever be sent to them, keepalive or not.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/tunnel_lib.sh"
require_root
require_cmd ip wg python3
require_dataplane
topo_init
start_daemon "$NS_A" "$IF_A" vguard

points=(
	AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=
	AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=
	4Ot6fDtBuK4WVuP68Z/EatoJjeucMrH9hmIFFl9JuAA=
	X5yVvKNQjCSx0LFVnIPvWwREXMRYHI6G2CJO3dCfEVc=
	7P///////////////////////////////////////38=
	7f///////////////////////////////////////38=
	7v///////////////////////////////////////38=
)
(umask 077; wg genkey >"$_tmp/k1")
args=()
for p in "${points[@]}"; do
	args+=(peer "$p" persistent-keepalive 1 endpoint 127.0.0.1:1111)
done
in_a wg set "$IF_A" private-key "$_tmp/k1" "${args[@]}"
n=$(in_a wg show "$IF_A" peers | wc -l)
[ "$n" -ge 1 ] || fail "no low-order peer was kept"
log "$n low-order peers configured"

# listen PORT FILE: the first datagram to 127.0.0.1:PORT within 3 s.
listen() {
	in_a python3 - "$1" "$2" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
sys.argv.pop(1)
open(sys.argv[1] + ".ready", "w").close()
s.settimeout(3)
try:
    d, a = s.recvfrom(65536)
    open(sys.argv[1], "w").write("%d bytes from %s, type %d\n" % (len(d), a, d[0] if d else -1))
except socket.timeout:
    pass
PY
	lp=$!
	for _ in $(seq 1 50); do [ -e "$2.ready" ] && break; sleep 0.1; done
}
listen 1111 "$_tmp/got"
in_a ip link set "$IF_A" up
wait "$lp"
[ ! -s "$_tmp/got" ] || fail "sent to a low-order peer: $(cat "$_tmp/got")"
sent=$(stat_of "$NS_A" "$IF_A" tx_packets)
log "nothing reached :1111 within 3 s (tx_packets=$sent)"

# The control: an ordinary peer with the same settings is contacted, so the
# silence above is the low-order check and not a deaf listener.
listen 1112 "$_tmp/ctl"
in_a wg set "$IF_A" peer "$(wg genkey | wg pubkey)" persistent-keepalive 1 endpoint 127.0.0.1:1112
wait "$lp"
[ -s "$_tmp/ctl" ] || fail "control: an ordinary peer was not contacted either"
log "control peer: $(cat "$_tmp/ctl")"
