#!/usr/bin/env bash
# The interface in another network namespace when the kernel does not
# tell all (issue 15; README.md, "Network namespaces"):
#  - without CAP_NET_BROADCAST no link event comes from other namespaces:
#    vguard polls the interface's state there, so link down and up, the
#    MTU and deletion are still followed;
#  - without TUNGETDEVNETNS (Linux < 5.2, here an LD_PRELOAD shim) the
#    interface cannot be followed: once it leaves, it is taken as up, and
#    its deletion is still noticed.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/tunnel_lib.sh"
source "$here/netns_lib.sh"
require_root
require_cmd ip wg ss python3 capsh
require_dataplane
topo_init
tunnel_keys
netns_c_init
REAL_VGUARD=$VGUARD

log "no CAP_NET_BROADCAST: polled"
cat >"$_tmp/vguard-nobcast" <<SH
#!/bin/sh
exec capsh --drop=cap_net_broadcast -- -c 'exec "\$0" "\$@"' "$REAL_VGUARD" "\$@"
SH
chmod +x "$_tmp/vguard-nobcast"
VGUARD=$_tmp/vguard-nobcast start_daemon "$NS_A" "$IF_A" vguard
start_daemon "$NS_B" "$IF_B" vguard
caps=$(awk '/^CapEff/ { print $2 }' "/proc/$(daemon_pid "$IF_A")/status")
(( (0x$caps >> 11) & 1 )) && fail "vguard still has CAP_NET_BROADCAST ($caps)"
config_pair
move_iface "$NS_A" "$NS_C"
wait_ping "$NS_C" 10.78.0.2 || { daemon_log "$IF_A"; fail "no ping from NS_C"; }
transfer_check "$NS_C" "$NS_B" 10.78.0.2 20
log_has "$IF_A" "polling" || fail "no notice of polling"
in_c ip link set "$IF_A" down
wait_until eval '! port_bound "$NS_A" 51820' || fail "link down in NS_C left the sockets open"
in_c ip link set "$IF_A" mtu 1300 up
wait_until port_bound "$NS_A" 51820 || fail "link up in NS_C did not reopen the sockets"
wait_until log_has "$IF_A" "MTU 1300" || fail "the MTU change was not followed"
wait_ping "$NS_C" 10.78.0.2 || fail "no ping after link down and up in NS_C"
log "down, up and MTU followed by polling"
in_c ip link del "$IF_A"
wait_exit "$IF_A" "ip link del in NS_C (polled)"

log "no TUNGETDEVNETNS: taken as up"
cc=${CC:-cc}
command -v "$cc" >/dev/null || skip "needs a C compiler for the LD_PRELOAD shim"
"$cc" -shared -fPIC -o "$_tmp/no_tungetdevnetns.so" "$here/no_tungetdevnetns.c" -ldl ||
	fail "cannot build the shim"
# (A sanitizer build would insist on coming first.)
cat >"$_tmp/vguard-old" <<SH
#!/bin/sh
ASAN_OPTIONS=\${ASAN_OPTIONS:+\$ASAN_OPTIONS:}verify_asan_link_order=0 \\
LD_PRELOAD=$_tmp/no_tungetdevnetns.so exec "$REAL_VGUARD" "\$@"
SH
chmod +x "$_tmp/vguard-old"
VGUARD=$_tmp/vguard-old start_daemon "$NS_A" "$IF_A" vguard
in_a wg set "$IF_A" private-key "$_tmp/ka" listen-port 51820 \
	peer "$PUB_B" preshared-key "$_tmp/psk" endpoint 10.77.0.2:51821 \
	allowed-ips 10.78.0.2/32,fd78::2/128
iface_setup "$NS_A"
wait_ping "$NS_A" 10.78.0.2 || fail "no ping at home without TUNGETDEVNETNS"
move_iface "$NS_A" "$NS_C"
wait_ping "$NS_C" 10.78.0.2 || { daemon_log "$IF_A"; fail "no ping from NS_C without TUNGETDEVNETNS"; }
transfer_check "$NS_C" "$NS_B" 10.78.0.2 20
log_has "$IF_A" "cannot be followed" || fail "no notice that the interface cannot be followed"
in_c ip link del "$IF_A"
wait_exit "$IF_A" "ip link del in NS_C (not followed)"
