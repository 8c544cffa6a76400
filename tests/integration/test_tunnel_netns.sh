#!/usr/bin/env bash
# The interface in another network namespace than its sockets (issue 15):
# vguard's IF_A is moved from NS_A, where its UDP sockets stay, to NS_C
# and back while the tunnel to B carries SHA-256-checked transfers; link
# down and up and an MTU change inside NS_C are followed (sockets, vg
# stats, padding); a better outer route in NS_A is followed by the route
# watcher there; `ip link del` inside NS_C, and deleting NS_C with the
# interface in it, make the daemon exit 0 as `ip link del` at home does.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/tunnel_lib.sh"
source "$here/netns_lib.sh"
require_root
require_cmd ip wg ss python3
require_dataplane
tunnel_up vguard wg
netns_c_init
wait_ping "$NS_A" 10.78.0.2 || fail "no ping"
transfer_check "$NS_A" "$NS_B" 10.78.0.2 20

log "move $IF_A to NS_C"
move_iface "$NS_A" "$NS_C"
wait_ping "$NS_C" 10.78.0.2 || { daemon_log "$IF_A"; fail "no ping from NS_C"; }
transfer_check "$NS_C" "$NS_B" 10.78.0.2 20
transfer_check "$NS_B" "$NS_C" fd78::1 20
check_alive "$IF_A"
log_has "$IF_A" "interface in network namespace id" || fail "the move was not logged"
port_bound "$NS_A" 51820 || fail "the UDP sockets left NS_A"
port_bound "$NS_C" 51820 && fail "UDP sockets in NS_C"
# The UAPI socket is a file: vg and wg reach it from any namespace.
in_c wg show "$IF_A" listen-port | grep -qx 51820 || fail "wg in NS_C cannot reach the daemon"
in_c "$VG" show "$IF_A" listen-port | grep -qx 51820 || fail "vg in NS_C cannot reach the daemon"
log "the tunnel works from NS_C; the sockets stayed in NS_A"

log "link down and up inside NS_C"
hs0=$(stat_of "$NS_A" "$IF_A" handshake_initiations_sent)
in_c ip link set "$IF_A" down
wait_until eval '! port_bound "$NS_A" 51820' || fail "link down in NS_C left the sockets open"
[ "$(stat_line "$IF_A" offload_udp_gso)" = off:inactive ] ||
	fail "vg stats: offload_udp_gso $(stat_line "$IF_A" offload_udp_gso) while down"
in_c ip link set "$IF_A" up
wait_until port_bound "$NS_A" 51820 || fail "link up in NS_C did not reopen the sockets"
[ "$(stat_line "$IF_A" offload_udp_gso)" != off:inactive ] || fail "vg stats: still inactive after up"
wait_ping "$NS_C" 10.78.0.2 || fail "no ping after link down and up in NS_C"
hs1=$(stat_of "$NS_A" "$IF_A" handshake_initiations_sent)
[ "$hs1" -gt "$hs0" ] || fail "no new session after link down and up ($hs0 -> $hs1)"
log "down and up followed: sockets closed and reopened, new session"

log "MTU change inside NS_C"
padded_size "$NS_C" 1420
in_c ip link set "$IF_A" mtu 1300
wait_until log_has "$IF_A" "MTU 1300" || fail "the MTU change was not followed"
padded_size "$NS_C" 1300
in_c ip link set "$IF_A" mtu 1420
wait_until log_has "$IF_A" "MTU 1420" || fail "the MTU change back was not followed"

# The outer routes are in NS_A, and so is the route watcher: a better route
# to B appearing there clears the sticky source (doc/architecture.md,
# "Sticky sources") while the interface is in NS_C.
log "a better outer route in NS_A"
in_b wg set "$IF_B" peer "$PUB_A" endpoint 10.77.0.1:51820
in_c ping -c 1 -W 2 10.78.0.2 >/dev/null || fail "ping lost before the better route"
in_b ping -c 1 -W 2 10.78.0.1 >/dev/null || fail "ping B -> NS_C lost before the better route"
[ "$(in_b wg show "$IF_B" endpoints | cut -f2)" = 10.77.0.1:51820 ] || fail "B does not see A at 10.77.0.1"
ip -n "$NS_A" link add veth1 type veth peer name veth1 netns "$NS_B"
in_a ip addr add 10.77.1.3/24 dev veth1
in_b ip addr add 10.77.1.4/24 dev veth1
in_a ip link set veth1 up
in_b ip link set veth1 up
for ns in "$NS_A" "$NS_B"; do
	ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.veth1.rp_filter=0
done
in_a ip route add 10.77.0.2/32 dev veth1 src 10.77.1.3 metric 1
sleep 0.5
in_c ping -c 1 -W 2 10.78.0.2 >/dev/null || fail "ping lost after the better route"
in_b ping -c 1 -W 2 10.78.0.1 >/dev/null || fail "ping B -> NS_C lost after the better route"
ep=$(in_b wg show "$IF_B" endpoints | cut -f2)
[ "$ep" = 10.77.1.3:51820 ] || fail "better route in NS_A not taken: B sees A at $ep"
log "better route in NS_A: B sees A at $ep"

log "move $IF_A back to NS_A"
move_iface "$NS_C" "$NS_A"
wait_ping "$NS_A" 10.78.0.2 || { daemon_log "$IF_A"; fail "no ping after the move back"; }
transfer_check "$NS_A" "$NS_B" 10.78.0.2 20
log_has "$IF_A" "interface in this network namespace" || fail "the move back was not logged"
check_alive "$IF_A"

log "move it again, then delete it inside NS_C"
move_iface "$NS_A" "$NS_C"
wait_ping "$NS_C" 10.78.0.2 || fail "no ping after the second move"
in_c ip link del "$IF_A"
wait_exit "$IF_A" "ip link del in NS_C"

# The namespace goes, and the interface with it, as with the kernel's
# WireGuard: vguard keeps nothing in NS_C that would hold it alive.
log "delete NS_C with the interface in it"
start_daemon "$NS_A" "$IF_A" vguard
in_a wg set "$IF_A" private-key "$_tmp/ka" listen-port 51820 \
	peer "$PUB_B" preshared-key "$_tmp/psk" endpoint 10.77.0.2:51821 \
	allowed-ips 10.78.0.2/32,fd78::2/128
move_iface "$NS_A" "$NS_C"
wait_ping "$NS_C" 10.78.0.2 || fail "no ping from NS_C after a restart"
ip netns del "$NS_C"
wait_exit "$IF_A" "NS_C deleted with the interface in it"
