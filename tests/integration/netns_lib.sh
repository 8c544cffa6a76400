# Helpers for the tests that move vguard's interface to another network
# namespace (sourced after lib.sh and tunnel_lib.sh).
#
# The usual topology (tunnel_up) has vguard's IF_A in NS_A, where its UDP
# sockets are; NS_C is a third namespace, joined to nothing, that IF_A is
# moved into (README.md, "Network namespaces").

NS_C=vgC$RUN_ID

netns_c_init() {
	ip netns add "$NS_C"; _nets+=("$NS_C")
	ip -n "$NS_C" link set lo up
}

in_c() { ip netns exec "$NS_C" "$@"; }

# move_iface FROM_NS TO_NS: moves IF_A, then gives it its inner addresses
# and sets it up in TO_NS.
move_iface() {
	ip -n "$1" link set "$IF_A" netns "$2"
	iface_setup "$2"
}

# port_bound NS PORT: some UDP socket is bound to PORT in NS.
port_bound() { [ -n "$(ip netns exec "$1" ss -Huln "sport = :$2")" ]; }

# wait_until CMD...: up to ~10 s for CMD to succeed.
wait_until() {
	local i
	for i in $(seq 1 50); do "$@" && return 0; sleep 0.2; done
	return 1
}

# log_has IFACE TEXT: the daemon serving IFACE logged TEXT.
log_has() { grep -qF -- "$2" "$_tmp/$1.log"; }

# stat_line IFACE KEY: one line's value from `vg stats`, run in NS_A.
stat_line() { in_a "$VG" stats "$1" | awk -v k="$2" '$1 == k { print $2; exit }'; }

# check_alive IFACE: the daemon serving IFACE still runs.
check_alive() {
	kill -0 "$(daemon_pid "$1")" 2>/dev/null || { daemon_log "$1"; fail "vguard $1 exited"; }
}

# outer_sizes NS IFNAME SPORT SECONDS: UDP payload sizes of the datagrams
# from port SPORT arriving on IFNAME in NS for SECONDS (run in the
# background while the caller sends), one per line.
outer_sizes() {
	ip netns exec "$1" python3 - "$2" "$3" "$4" <<'PY'
import socket, struct, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(3))
s.bind((sys.argv[1], 0))
s.settimeout(0.2)
sport, end = int(sys.argv[2]), time.time() + float(sys.argv[3])
while time.time() < end:
    try:
        pkt, addr = s.recvfrom(65535)
    except socket.timeout:
        continue
    if addr[2] == socket.PACKET_OUTGOING or pkt[0] >> 4 != 4 or pkt[9] != 17:
        continue
    ihl = (pkt[0] & 15) * 4
    sp, dp, ulen = struct.unpack("!HHH", pkt[ihl:ihl + 6])
    if sp == sport:
        print(ulen - 8, flush=True)
PY
}

# padded_size NS MTU: pings 10.78.0.2 from NS with a 1298-byte packet and
# checks the size of the datagram that carried it to B: data messages are
# padded to 16 bytes but never past the interface's MTU, so it is
# 32 + 1312 at an MTU of 1420 and 32 + 1300 at 1300.
padded_size() {
	local ns=$1 mtu=$2 want
	want=$((32 + (mtu < 1312 ? mtu : 1312)))
	outer_sizes "$NS_B" veth0 51820 3 >"$_tmp/sizes" &
	local cap=$!
	sleep 0.5
	ip netns exec "$ns" ping -c 3 -i 0.3 -s 1270 -W 1 10.78.0.2 >/dev/null ||
		fail "no ping with 1298-byte packets at MTU $mtu"
	wait "$cap"
	grep -qx "$want" "$_tmp/sizes" ||
		fail "at MTU $mtu: no $want-byte datagram, saw $(sort -u "$_tmp/sizes" | tr '\n' ' ')"
	awk -v w="$want" '$1 > 1000 && $1 != w { bad = 1 } END { exit bad }' "$_tmp/sizes" ||
		fail "at MTU $mtu: other large datagrams: $(sort -u "$_tmp/sizes" | tr '\n' ' ')"
	log "MTU $mtu: a 1298-byte packet travels in a $want-byte message"
}

# start_vguard_tunfd HOME_NS DEV_NS IFACE: vguard in HOME_NS (where its
# sockets will be) on a TUN created in DEV_NS and handed over as
# WG_TUN_FD: multi-queue with a virtio header, as vguard makes its own.
start_vguard_tunfd() {
	local home=$1 devns=$2 ifname=$3 i
	_ifaces+=("$ifname")
	LOG_LEVEL=verbose ip netns exec "$home" python3 - "$devns" "$ifname" "$VGUARD" \
		>"$_tmp/$ifname.log" 2>&1 <<'PY' &
import ctypes, fcntl, os, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
def setns(fd):
    if libc.setns(fd, 0x40000000) != 0:		# CLONE_NEWNET
        raise OSError(ctypes.get_errno(), "setns")
home = os.open("/proc/self/ns/net", os.O_RDONLY)
setns(os.open("/run/netns/" + sys.argv[1], os.O_RDONLY))
fd = os.open("/dev/net/tun", os.O_RDWR)
# TUNSETIFF: IFF_TUN | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE
fcntl.ioctl(fd, 0x400454ca, struct.pack("16sH", sys.argv[2].encode(), 0x5101))
setns(home)
os.dup2(fd, 3)
os.environ["WG_TUN_FD"] = "3"
os.execv(sys.argv[3], [sys.argv[3], "-f", sys.argv[2]])
PY
	_pids+=($!)
	for i in $(seq 1 100); do
		[ -S "/var/run/wireguard/$ifname.sock" ] && return 0
		kill -0 $! 2>/dev/null || { cat "$_tmp/$ifname.log"; fail "vguard $ifname exited at start"; }
		sleep 0.1
	done
	cat "$_tmp/$ifname.log"
	fail "vguard $ifname: no UAPI socket"
}

# config_pair: configures IF_A (wherever it is; the UAPI socket is a file)
# and IF_B as peers over the IPv4 underlay; B's inner addresses and link.
config_pair() {
	echo "$KEY_A" >"$_tmp/ka"; echo "$KEY_B" >"$_tmp/kb"; echo "$PSK" >"$_tmp/psk"
	in_a wg set "$IF_A" private-key "$_tmp/ka" listen-port 51820 \
		peer "$PUB_B" preshared-key "$_tmp/psk" endpoint 10.77.0.2:51821 \
		allowed-ips 10.78.0.2/32,fd78::2/128
	in_b wg set "$IF_B" private-key "$_tmp/kb" listen-port 51821 \
		peer "$PUB_A" preshared-key "$_tmp/psk" endpoint 10.77.0.1:51820 \
		allowed-ips 10.78.0.1/32,fd78::1/128
	in_b ip addr add 10.78.0.2/24 dev "$IF_B"
	in_b ip addr add fd78::2/64 dev "$IF_B" nodad
	in_b ip link set "$IF_B" up
}

# iface_setup NS: IF_A's inner addresses and link up in NS.
iface_setup() {
	ip -n "$1" addr add 10.78.0.1/24 dev "$IF_A"
	ip -n "$1" addr add fd78::1/64 dev "$IF_A" nodad
	ip -n "$1" link set "$IF_A" up
}

# wait_exit IFACE WHAT: the daemon serving IFACE (the last one started
# for it) exits 0 within ~10 s.
wait_exit() {
	local i p
	for i in "${!_ifaces[@]}"; do [ "${_ifaces[$i]}" = "$1" ] && p=${_pids[$i]}; done
	for i in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$p" 2>/dev/null && fail "vguard $1 still runs after $2"
	wait "$p" || fail "vguard $1: exit status $? after $2"
	log "$2: exit 0"
}
