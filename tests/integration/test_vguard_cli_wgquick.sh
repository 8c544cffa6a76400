#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# wg-quick drives vguard as its userspace implementation:
# WG_QUICK_USERSPACE_IMPLEMENTATION=vguard wg-quick up CONF starts the
# daemon (which must have created the interface and socket when it
# returns, since wg-quick runs `wg setconf` right after), configures it,
# brings the link up; a ping crosses the tunnel; `wg-quick down` deletes
# the interface, and the daemon must exit and remove its socket.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"

require_root
require_cmd wg wg-quick ip ping
[ -x "$VGUARD" ] || skip "no $VGUARD"

# wg-quick falls back to userspace only when the kernel has no WireGuard.
[ -d /sys/module/wireguard ] && skip "kernel WireGuard loaded: wg-quick would not use vguard"
probe=vgq$RUN_ID
ip netns add "$probe"; _nets+=("$probe")
if ip -n "$probe" link add wgprobe type wireguard 2>/dev/null; then
	skip "kernel WireGuard available: wg-quick would not use vguard"
fi

topo_init
tunnel_keys
mkdir -p "$_tmp/bin"
ln -s "$VGUARD" "$_tmp/bin/vguard"
_ifaces+=("$IF_A" "$IF_B")

# write_conf FILE KEY PORT ADDR PEER_PUB PEER_ENDPOINT PEER_ADDR
write_conf() {
	umask 077
	cat >"$1" <<EOF
[Interface]
PrivateKey = $2
ListenPort = $3
Address = $4/24

[Peer]
PublicKey = $5
PresharedKey = $PSK
Endpoint = $6
AllowedIPs = $7/32
EOF
}
write_conf "$_tmp/$IF_A.conf" "$KEY_A" 51820 10.78.0.1 "$PUB_B" 10.77.0.2:51821 10.78.0.2
write_conf "$_tmp/$IF_B.conf" "$KEY_B" 51821 10.78.0.2 "$PUB_A" 10.77.0.1:51820 10.78.0.1

quick() { # ns, up|down, conf
	ip netns exec "$1" env PATH="$_tmp/bin:$PATH" WG_QUICK_USERSPACE_IMPLEMENTATION=vguard \
		wg-quick "$2" "$3"
}

quick "$NS_A" up "$_tmp/$IF_A.conf" >"$_tmp/up_a.log" 2>&1 || { cat "$_tmp/up_a.log"; fail "wg-quick up A"; }
grep -q "^\[#\] vguard $IF_A\$" "$_tmp/up_a.log" || { cat "$_tmp/up_a.log"; fail "wg-quick did not run vguard"; }
quick "$NS_B" up "$_tmp/$IF_B.conf" >"$_tmp/up_b.log" 2>&1 || { cat "$_tmp/up_b.log"; fail "wg-quick up B"; }
log "wg-quick up on both ends ran vguard"

[ "$(in_a cat /sys/class/net/$IF_A/mtu)" = 1420 ] || fail "MTU not set by wg-quick"
in_a wg show "$IF_A" dump | grep -q "^$PUB_B	$PSK	10.77.0.2:51821	10.78.0.2/32	" ||
	{ in_a wg show "$IF_A" dump; fail "wg show after wg-quick up"; }
wait_ping "$NS_A" 10.78.0.2 || fail "no ping across the tunnel"
log "ping across the tunnel"

pid=$(ip netns pids "$NS_A" | head -n 1)
[ -n "$pid" ] || fail "no daemon in $NS_A"
quick "$NS_A" down "$_tmp/$IF_A.conf" >"$_tmp/down_a.log" 2>&1 || { cat "$_tmp/down_a.log"; fail "wg-quick down A"; }
for _ in $(seq 1 50); do
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
kill -0 "$pid" 2>/dev/null && fail "daemon still running after wg-quick down"
[ -e "/var/run/wireguard/$IF_A.sock" ] && fail "socket left after wg-quick down"
log "wg-quick down: the daemon exited and removed its socket"
quick "$NS_B" down "$_tmp/$IF_B.conf" >/dev/null 2>&1 || fail "wg-quick down B"
echo "wg-quick with vguard: all checks passed"
