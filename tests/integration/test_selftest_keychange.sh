#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Kernel selftest step 8: A switches to a new private key and B replaces A's
# old public key with the new one in a single `wg set`; the next ping must
# get through at once, under the new identity.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/tunnel_lib.sh"
require_root
require_cmd ip wg ping
require_dataplane
tunnel_up vguard wg
wait_ping "$NS_A" 10.78.0.2 || fail "no ping before the key change"

KEY_A2=$(wg genkey); PUB_A2=$(echo "$KEY_A2" | wg pubkey)
echo "$KEY_A2" >"$_tmp/ka2"
in_a wg set "$IF_A" private-key "$_tmp/ka2"
[ "$(in_a wg show "$IF_A" public-key)" = "$PUB_A2" ] || fail "A's public key did not change"
in_b wg set "$IF_B" peer "$PUB_A" remove peer "$PUB_A2" preshared-key "$_tmp/psk" \
	endpoint 10.77.0.1:51820 allowed-ips 10.78.0.1/32,fd78::1/128
[ "$(in_b wg show "$IF_B" peers)" = "$PUB_A2" ] || fail "B's peer list is not exactly the new key"
# Under 5 s (REKEY_TIMEOUT): the first initiation must do, no retransmit,
# with room for a busy machine's scheduling.
in_b ping -c 1 -W 4 10.78.0.1 >/dev/null || fail "B -> A: first ping after the key change lost"
in_a ping -c 1 -W 2 10.78.0.2 >/dev/null || fail "A -> B: ping after the key change lost"
in_a ping -c 1 -W 2 fd78::2 >/dev/null || fail "A -> B over IPv6 after the key change"
hs=$(in_b wg show "$IF_B" latest-handshakes | cut -f2)
[ "$hs" != 0 ] || fail "no handshake under the new key"
log "key change: ping works at once, handshake under $PUB_A2"
