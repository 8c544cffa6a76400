#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Kernel selftest step 22: bad interface names and key edge cases, read
# back through the stock `wg` tool.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/tunnel_lib.sh"
require_root
require_cmd ip wg
require_dataplane
topo_init
start_daemon "$NS_A" "$IF_A" vguard

expect() { # what got want
	[ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"
}

! in_a wg show "doesnotexist$RUN_ID" >/dev/null 2>&1 || fail "wg show of a missing interface succeeded"

# key1 must not start with "+": the clamping check below derives another
# key from it by its first character, which would otherwise be key1 itself.
key1=$(wg genkey)
while [ "${key1:0:1}" = "+" ]; do key1=$(wg genkey); done
pub1=$(echo "$key1" | wg pubkey)
key2=$(wg genkey); pub2=$(echo "$key2" | wg pubkey)
psk=$(wg genpsk)
echo "$key1" >"$_tmp/k1"; echo "$key2" >"$_tmp/k2"; echo "$psk" >"$_tmp/psk"

in_a wg set "$IF_A" private-key "$_tmp/k1" peer "$pub2" preshared-key "$_tmp/psk"
expect "private key" "$(in_a wg show "$IF_A" private-key)" "$key1"
expect "psk" "$(in_a wg show "$IF_A" preshared-keys)" "$pub2	$psk"
in_a wg set "$IF_A" private-key /dev/null peer "$pub2" preshared-key /dev/null
expect "cleared private key" "$(in_a wg show "$IF_A" private-key)" "(none)"
expect "cleared public key" "$(in_a wg show "$IF_A" public-key)" "(none)"
expect "cleared psk" "$(in_a wg show "$IF_A" preshared-keys)" "$pub2	(none)"
log "private key and PSK cleared by /dev/null read back (none)"

# Taking a peer's identity as our own removes that peer.
in_a wg set "$IF_A" peer "$pub2"
in_a wg set "$IF_A" private-key "$_tmp/k2"
expect "public key after taking the peer's key" "$(in_a wg show "$IF_A" public-key)" "$pub2"
expect "peers after taking the peer's key" "$(in_a wg show "$IF_A" peers)" ""
# A peer with our own public key is ignored, without an error.
in_a wg set "$IF_A" peer "$pub2" || fail "adding a peer with our own key failed"
expect "peers after adding ourselves" "$(in_a wg show "$IF_A" peers)" ""
log "own key as a peer: removed, then ignored"

# Stored clamped: a first base64 character "/" (0b111111) loses bit 2 of
# byte 0 and reads back as "+" (0b111110).
echo "/${key1:1}" >"$_tmp/k3"
in_a wg set "$IF_A" private-key "$_tmp/k3"
expect "clamped private key" "$(in_a wg show "$IF_A" private-key)" "+${key1:1}"
log "private key reads back clamped"

# Overlapping prefixes are accepted, and replace each other.
in_a wg set "$IF_A" peer "$pub1" allowed-ips 0.0.0.0/0,10.0.0.0/8,100.0.0.0/10,172.16.0.0/12,192.168.0.0/16
expect "v4 overlap" "$(in_a wg show "$IF_A" allowed-ips | tr '\t ' '\n\n' | sort | tr '\n' ' ')" \
	"$(printf '%s\n' "$pub1" 0.0.0.0/0 10.0.0.0/8 100.0.0.0/10 172.16.0.0/12 192.168.0.0/16 | sort | tr '\n' ' ')"
in_a wg set "$IF_A" peer "$pub1" allowed-ips 0.0.0.0/0
expect "v4 replaced" "$(in_a wg show "$IF_A" allowed-ips)" "$pub1	0.0.0.0/0"
in_a wg set "$IF_A" peer "$pub1" allowed-ips ::/0,1700::/111,5000::/4,e000::/37,9000::/75
expect "v6 overlap" "$(in_a wg show "$IF_A" allowed-ips | tr '\t ' '\n\n' | sort | tr '\n' ' ')" \
	"$(printf '%s\n' "$pub1" ::/0 1700::/111 5000::/4 e000::/37 9000::/75 | sort | tr '\n' ' ')"
in_a wg set "$IF_A" peer "$pub1" allowed-ips ::/0
expect "v6 replaced" "$(in_a wg show "$IF_A" allowed-ips)" "$pub1	::/0"
in_a wg set "$IF_A" peer "$pub1" remove
expect "peers after remove" "$(in_a wg show "$IF_A" peers)" ""
log "overlapping allowed IPs accepted"
