#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Kernel selftest steps 20 and 21: large configurations read back complete
# through split UAPI responses, and removal of single prefixes with
# "-prefix".  VG_BIGCONF_A caps the first octet of the one-peer test
# (255 as in the kernel: 255 * 256 * 2 = 130,560 prefixes).
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/tunnel_lib.sh"
require_root
require_cmd ip wg python3
require_dataplane
topo_init
start_daemon "$NS_A" "$IF_A" vguard
umask 077
top=${VG_BIGCONF_A:-255}

# One peer, $top * 256 v4 /16s and as many v6 /128s.
python3 - "$top" "$(wg genkey)" "$(wg genkey | wg pubkey)" >"$_tmp/c1" <<'PY'
import sys
top = int(sys.argv[1])
print("[Interface]\nPrivateKey=%s\n[Peer]\nPublicKey=%s" % (sys.argv[2], sys.argv[3]))
for a in range(1, top + 1):
    for b in range(256):
        print("AllowedIPs=%d.%d.0.0/16,%x::%x/128" % (a, b, a, b))
PY
t0=$(date +%s.%N)
in_a wg setconf "$IF_A" "$_tmp/c1"
t1=$(date +%s.%N)
in_a wg show "$IF_A" allowed-ips >"$_tmp/out1"
t2=$(date +%s.%N)
n=$(wc -w <"$_tmp/out1")
want=$((top * 256 * 2 + 1))
[ "$n" -eq "$want" ] || fail "one peer: $n words read back, want $want"
# Byte-exact content: the same prefix set as configured.
python3 - "$_tmp/c1" "$_tmp/out1" <<'PY' || fail "one peer: prefixes read back differ"
import ipaddress, sys
want = set()
for line in open(sys.argv[1]):
    if line.startswith("AllowedIPs="):
        want.update(ipaddress.ip_network(p) for p in line[11:].strip().split(","))
got = set(ipaddress.ip_network(p) for p in open(sys.argv[2]).read().split()[1:])
sys.exit(0 if got == want else 1)
PY
log "one peer with $((want - 1)) prefixes: setconf $(awk "BEGIN{print $t1 - $t0}") s, show $(awk "BEGIN{print $t2 - $t1}") s"

# 40 peers x 52 prefixes: 53 words on each of 40 lines.
python3 - "$(wg genkey)" >"$_tmp/c2" <<PY
import sys
print("[Interface]\nPrivateKey=%s" % sys.argv[1])
keys = """$(for i in $(seq 1 40); do wg genkey | wg pubkey; done)""".split()
for a, k in enumerate(keys, 1):
    print("[Peer]\nPublicKey=%s" % k)
    for b in range(1, 53):
        print("AllowedIPs=%d.%d.0.0/16" % (a, b))
PY
in_a wg setconf "$IF_A" "$_tmp/c2"
in_a wg show "$IF_A" allowed-ips >"$_tmp/out2"
[ "$(wc -l <"$_tmp/out2")" -eq 40 ] || fail "40 peers: $(wc -l <"$_tmp/out2") lines"
bad=$(awk 'NF != 53' "$_tmp/out2" | wc -l)
[ "$bad" -eq 0 ] || fail "40 peers: $bad lines without 53 words"
log "40 peers x 52 prefixes read back"

# A peer with 197 v6 /128s beside a peer with none.
p1=$(wg genkey | wg pubkey); p2=$(wg genkey | wg pubkey)
{
	printf '[Interface]\nPrivateKey=%s\n[Peer]\nPublicKey=%s\n' "$(wg genkey)" "$p1"
	for i in $(seq 1 197); do printf 'AllowedIPs=abcd::%x/128\n' "$i"; done
	printf '[Peer]\nPublicKey=%s\n' "$p2"
} >"$_tmp/c3"
in_a wg setconf "$IF_A" "$_tmp/c3"
in_a wg show "$IF_A" allowed-ips >"$_tmp/out3"
[ "$(grep "^$p2" "$_tmp/out3")" = "$p2	(none)" ] || fail "peer without prefixes: '$(grep "^$p2" "$_tmp/out3")'"
[ "$(grep "^$p1" "$_tmp/out3" | wc -w)" -eq 198 ] || fail "peer with 197 /128s: $(grep "^$p1" "$_tmp/out3" | wc -w) words"
log "197 /128s beside a peer with (none)"

# Step 21: 197 /32s and 197 /128s, then three of each removed.
{
	printf '[Interface]\nPrivateKey=%s\n[Peer]\nPublicKey=%s\n' "$(wg genkey)" "$p1"
	for i in $(seq 1 197); do printf 'AllowedIPs=192.168.0.%d/32,abcd::%x/128\n' "$i" "$i"; done
} >"$_tmp/c4"
in_a wg setconf "$IF_A" "$_tmp/c4"
rm4="-192.168.0.1/32,-192.168.0.20/32,-192.168.0.100/32,-abcd::1/128,-abcd::14/128,-abcd::64/128"
if ! in_a wg set "$IF_A" peer "$p1" allowed-ips "$rm4" 2>/dev/null; then
	# wireguard-tools older than the "-prefix" syntax: vg speaks it.
	in_a "$VG" set "$IF_A" peer "$p1" allowed-ips "$rm4" || fail "vg set allowed-ips -prefix failed"
	log "(wg lacks -prefix; removed with vg)"
fi
in_a wg show "$IF_A" allowed-ips | cut -f2 | tr ' ' '\n' | sort >"$_tmp/out4"
for i in $(seq 1 197); do
	case $i in 1|20|100) continue;; esac
	printf '192.168.0.%d/32\nabcd::%x/128\n' "$i" "$i"
done | sort >"$_tmp/want4"
[ "$(wc -l <"$_tmp/out4")" -eq 388 ] || fail "after removal: $(wc -l <"$_tmp/out4") prefixes, want 388"
cmp -s "$_tmp/out4" "$_tmp/want4" || fail "after removal: wrong prefixes: $(diff "$_tmp/want4" "$_tmp/out4" | head -5)"
log "six prefixes removed, 388 left"
