#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The packaged binaries carry a tunnel: VGUARD and VG name the vguard and
# vg extracted from the .deb (scripts/test-package.sh runs this; the name
# keeps run.sh from picking it up).  vguard at both ends, keys from the
# packaged vg, configuration with it, ping both ways inside IPv4 and IPv6,
# a 20 MB transfer compared by SHA-256, then vg show (colours as
# WG_COLOR_MODE says) and vg stats on the live device.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/tunnel_lib.sh"
require_root
require_cmd ip ping python3
require_dataplane

topo_init
KEY_A=$("$VG" genkey); PUB_A=$(echo "$KEY_A" | "$VG" pubkey)
KEY_B=$("$VG" genkey); PUB_B=$(echo "$KEY_B" | "$VG" pubkey)
PSK=$("$VG" genpsk)
start_daemon "$NS_A" "$IF_A" vguard
start_daemon "$NS_B" "$IF_B" vguard
tunnel_config vg 4

wait_ping "$NS_A" 10.78.0.2 || fail "no IPv4 ping through the tunnel"
wait_ping "$NS_B" fd78::1 || fail "no IPv6 ping through the tunnel"
log "ping both ways, IPv4 and IPv6 inside"
transfer_check "$NS_A" "$NS_B" 10.78.0.2 20

[ "$(in_a "$VG" show "$IF_A" peers)" = "$PUB_B" ] || fail "vg show peers"
in_a "$VG" show "$IF_A" latest-handshakes | awk '{ exit !($2 > 0) }' ||
	fail "vg show: no handshake"
WG_COLOR_MODE=always in_a "$VG" show "$IF_A" | grep -q $'\e\\[32m' ||
	fail "vg show: no colours with WG_COLOR_MODE=always"
in_a "$VG" show "$IF_A" | grep -q $'\e' && fail "vg show: colours on a pipe"
in_a "$VG" stats "$IF_A" --json | python3 -c 'import json, sys; json.load(sys.stdin)' ||
	fail "vg stats --json"
log "vg show and vg stats on the packaged daemon"
