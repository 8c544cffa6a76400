#!/usr/bin/env bash
# Link-local endpoints keep their scope (issue 15): get prints an IPv6
# endpoint's zone byte for byte as upstream wireguard-go does (when its
# binary is there: VGUARD_WGGO_ANCHOR), wg and vg show it alike, and
# `showconf` then `setconf` into a fresh daemon keeps the endpoint working
# over a veth with link-local addresses only, both for an endpoint set by
# name and for one learnt from the peer's packets.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/tunnel_lib.sh"
require_root
require_cmd ip wg python3
require_dataplane
topo_init
ip -n "$NS_A" addr add fe80::1/64 dev veth0 nodad
ip -n "$NS_B" addr add fe80::2/64 dev veth0 nodad

ANCHOR=${VGUARD_WGGO_ANCHOR:-/work/shared/anchors/wireguard-go}
if [ -x "$ANCHOR" ]; then
	IF_W=vgw$RUN_ID IF_V=vgv$RUN_ID
	start_daemon "$NS_A" "$IF_W" "$ANCHOR"
	start_daemon "$NS_A" "$IF_V" vguard
	in_a python3 - "/var/run/wireguard/$IF_W.sock" "/var/run/wireguard/$IF_V.sock" <<'PY' ||
import socket, sys

def talk(path, req):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    s.connect(path)
    s.sendall(req.encode())
    out = b""
    while not out.endswith(b"\n\n"):
        b = s.recv(65536)
        if not b:
            break
        out += b
    s.close()
    return out.decode()

P1 = "b85996fecc9c7f1fc6d2572a76eda11d59bcd20be8e543b15ce4bd85a8e75a33"
bad = 0
for ep in ["[fe80::1%1]:51", "[fe80::1%veth0]:51", "[fe80::1%0]:51", "[fe80::2%2]:52",
           "[fd00::1%veth0]:7", "[FE80::1%veth0]:8", "[fe80::1%4294967295]:5",
           "[fe80::1]:9", "[fe80::1%lo]:65535"]:
    req = "set=1\npublic_key=%s\nendpoint=%s\n\n" % (P1, ep)
    r = [talk(p, req) for p in sys.argv[1:]]
    g = [[l for l in talk(p, "get=1\n\n").split("\n") if l.startswith("endpoint=")]
         for p in sys.argv[1:]]
    if r[0] != r[1] or g[0] != g[1]:
        bad += 1
        print("DIFF for %s: wireguard-go %r %r, vguard %r %r" % (ep, r[0], g[0], r[1], g[1]))
    else:
        print("--- %s: %s" % (ep, g[1][0] if g[1] else "(none)"))
sys.exit(1 if bad else 0)
PY
		fail "get differs from upstream wireguard-go"
	log "endpoint zones printed byte for byte as upstream wireguard-go"
else
	log "no upstream wireguard-go at $ANCHOR: zones not compared with it"
fi

# configure NS IFACE KEYFILE PORT PEER_PUB PEER_INNER [ENDPOINT]
configure() {
	local ns=$1 ifname=$2 key=$3 port=$4 pub=$5 inner=$6 ep=${7:-}
	ip netns exec "$ns" wg set "$ifname" private-key "$key" listen-port "$port" \
		peer "$pub" allowed-ips "$inner/32" ${ep:+endpoint "$ep"}
}
inner_up() { # NS IFACE ADDR
	ip -n "$1" addr add "$3/24" dev "$2"
	ip -n "$1" link set "$2" up
}

tunnel_keys
echo "$KEY_A" >"$_tmp/ka"; echo "$KEY_B" >"$_tmp/kb"
start_daemon "$NS_A" "$IF_A" vguard
start_daemon "$NS_B" "$IF_B" vguard
configure "$NS_A" "$IF_A" "$_tmp/ka" 51820 "$PUB_B" 10.78.0.2 "[fe80::2%veth0]:51821"
configure "$NS_B" "$IF_B" "$_tmp/kb" 51821 "$PUB_A" 10.78.0.1
inner_up "$NS_A" "$IF_A" 10.78.0.1
inner_up "$NS_B" "$IF_B" 10.78.0.2
wait_ping "$NS_A" 10.78.0.2 || fail "no ping over the link-local endpoint"

for ns in "$NS_A" "$NS_B"; do
	if [ "$ns" = "$NS_A" ]; then ifname=$IF_A; else ifname=$IF_B; fi
	w=$(ip netns exec "$ns" wg show "$ifname" endpoints)
	v=$(ip netns exec "$ns" "$VG" show "$ifname" endpoints)
	[ "$w" = "$v" ] || fail "vg show endpoints: '$v', wg: '$w'"
	ip netns exec "$ns" wg showconf "$ifname" >"$_tmp/$ifname.wg"
	ip netns exec "$ns" "$VG" showconf "$ifname" >"$_tmp/$ifname.vg"
	cmp -s "$_tmp/$ifname.wg" "$_tmp/$ifname.vg" ||
		fail "vg showconf differs from wg showconf: $(diff "$_tmp/$ifname.wg" "$_tmp/$ifname.vg")"
done
grep -qx "Endpoint = \[fe80::2%veth0\]:51821" "$_tmp/$IF_A.wg" ||
	fail "A's endpoint lost its zone: $(grep Endpoint "$_tmp/$IF_A.wg")"
grep -q "^Endpoint = \[fe80::.*%veth0\]:51820$" "$_tmp/$IF_B.wg" ||
	fail "B's learnt endpoint lost its zone: $(grep Endpoint "$_tmp/$IF_B.wg")"
log "wg and vg show the zones alike: $(grep Endpoint "$_tmp/$IF_A.wg" "$_tmp/$IF_B.wg" | tr '\n' ' ')"

# A fresh A knows B only from the configuration A's showconf gave.
stop_daemon "$IF_A" || fail "vguard A: exit status $?"
start_daemon "$NS_A" "$IF_A" vguard
in_a wg setconf "$IF_A" "$_tmp/$IF_A.wg"
inner_up "$NS_A" "$IF_A" 10.78.0.1
wait_ping "$NS_A" 10.78.0.2 || fail "no ping after showconf | setconf of a set endpoint"
log "a configured link-local endpoint survives showconf | setconf"

# A fresh B knows A only from the endpoint B had learnt, via showconf.
in_b wg showconf "$IF_B" >"$_tmp/$IF_B.wg"
stop_daemon "$IF_B" || fail "vguard B: exit status $?"
start_daemon "$NS_B" "$IF_B" vguard
in_b wg setconf "$IF_B" "$_tmp/$IF_B.wg"
inner_up "$NS_B" "$IF_B" 10.78.0.2
in_a wg set "$IF_A" peer "$PUB_B" remove
configure "$NS_A" "$IF_A" "$_tmp/ka" 51820 "$PUB_B" 10.78.0.2
wait_ping "$NS_B" 10.78.0.1 || fail "no ping after showconf | setconf of a learnt endpoint"
log "a learnt link-local endpoint survives showconf | setconf"
