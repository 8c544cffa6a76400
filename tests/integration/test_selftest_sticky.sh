#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Kernel selftest step 17: reply to sender.  The responder (vguard, A) holds
# two IPv4 and two IPv6 addresses on its outer interface; the initiator (B)
# targets each in turn, and the endpoint B records for A must be exactly
# the address it targeted, so A's replies left from the address hit.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/tunnel_lib.sh"
require_root
require_cmd ip wg ping
require_dataplane
tunnel_up vguard wg
in_a ip addr add 10.77.0.11/24 dev veth0
in_a ip addr add fd77::11/64 dev veth0 nodad
# A must not initiate towards B's old endpoint from the wrong address.
in_a wg set "$IF_A" peer "$PUB_B" endpoint 10.77.0.2:51821

for target in 10.77.0.1:51820 10.77.0.11:51820 "[fd77::1]:51820" "[fd77::11]:51820" 10.77.0.1:51820; do
	in_b wg set "$IF_B" peer "$PUB_A" endpoint "$target"
	in_b ping -c 1 -W 2 10.78.0.1 >/dev/null || wait_ping "$NS_B" 10.78.0.1 ||
		fail "no ping via $target"
	ep=$(in_b wg show "$IF_B" endpoints | cut -f2)
	[ "$ep" = "$target" ] || fail "targeted $target, B recorded $ep"
	log "targeted $target: replies came from it"
done
