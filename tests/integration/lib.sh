# SPDX-License-Identifier: MIT
# Shared helpers for the tunnel integration tests (sourced, bash).
#
# A test calls topo_init, which makes two namespaces joined by a veth pair
# (10.77.0.1/24 + fd77::1/64 on the A side, .2/::2 on the B side) with
# names unique to this run, and registers the cleanup.  Every daemon a test
# starts is remembered and killed on exit; the namespaces and any UAPI
# socket are removed, even when the test fails.

set -euo pipefail

: "${VGUARD_BUILD:?VGUARD_BUILD must name the build directory}"
VGUARD=${VGUARD:-$VGUARD_BUILD/tools/vguard}
VG=${VG:-$VGUARD_BUILD/tools/vg}

skip() { echo "$*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }
log() { echo "--- $*"; }

require_root() { [ "$(id -u)" -eq 0 ] || skip "needs root"; }
require_cmd() { local c; for c; do command -v "$c" >/dev/null || skip "needs $c"; done; }

_pids=()
_nets=()
_ifaces=()
_tmp=$(mktemp -d /tmp/vguard-it.XXXXXX)

cleanup() {
	local rc=$? p n i
	set +e
	for p in "${_pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${_pids[@]}"; do
		for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null
	done
	for i in "${_ifaces[@]}"; do rm -f "/var/run/wireguard/$i.sock"; done
	for n in "${_nets[@]}"; do ip netns del "$n" 2>/dev/null; done
	rm -rf "$_tmp"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Unique per run: pid plus a random suffix, short enough for IFNAMSIZ.
RUN_ID=$(printf '%x%x' $$ $((RANDOM % 256)))
NS_A=vgA$RUN_ID
NS_B=vgB$RUN_ID
IF_A=vga$RUN_ID
IF_B=vgb$RUN_ID

topo_init() {
	ip netns add "$NS_A"; _nets+=("$NS_A")
	ip netns add "$NS_B"; _nets+=("$NS_B")
	ip -n "$NS_A" link set lo up
	ip -n "$NS_B" link set lo up
	ip -n "$NS_A" link add veth0 type veth peer name veth0 netns "$NS_B"
	ip -n "$NS_A" addr add 10.77.0.1/24 dev veth0
	ip -n "$NS_B" addr add 10.77.0.2/24 dev veth0
	ip -n "$NS_A" addr add fd77::1/64 dev veth0 nodad
	ip -n "$NS_B" addr add fd77::2/64 dev veth0 nodad
	ip -n "$NS_A" link set veth0 up
	ip -n "$NS_B" link set veth0 up
}

in_a() { ip netns exec "$NS_A" "$@"; }
in_b() { ip netns exec "$NS_B" "$@"; }

# start_daemon NS IFACE IMPL [ARGS...]: IMPL is vguard or wireguard-go.
# Runs it in the foreground under the namespace, logs to $_tmp/IFACE.log,
# and waits for its UAPI socket.
start_daemon() {
	local ns=$1 ifname=$2 impl=$3; shift 3
	local bin=$impl
	[ "$impl" = vguard ] && bin=$VGUARD
	_ifaces+=("$ifname")
	LOG_LEVEL=${DAEMON_LOG_LEVEL:-verbose} ip netns exec "$ns" "$bin" -f "$@" "$ifname" \
		>"$_tmp/$ifname.log" 2>&1 &
	_pids+=($!)
	local i
	for i in $(seq 1 100); do
		[ -S "/var/run/wireguard/$ifname.sock" ] && return 0
		kill -0 $! 2>/dev/null || { cat "$_tmp/$ifname.log"; fail "$impl $ifname exited at start"; }
		sleep 0.1
	done
	cat "$_tmp/$ifname.log"
	fail "$impl $ifname: no UAPI socket"
}

daemon_log() { cat "$_tmp/$1.log"; }

# tunnel_keys: generates KEY_A, PUB_A, KEY_B, PUB_B, PSK.
tunnel_keys() {
	KEY_A=$(wg genkey); PUB_A=$(echo "$KEY_A" | wg pubkey)
	KEY_B=$(wg genkey); PUB_B=$(echo "$KEY_B" | wg pubkey)
	PSK=$(wg genpsk)
}

# tunnel_config TOOL [OUTER]: configures IF_A in NS_A and IF_B in NS_B as
# peers of each other with TOOL (wg or vg), inner addresses 10.78.0.1/2 and
# fd78::1/2, outer endpoints over the veth (OUTER=4 or 6).
tunnel_config() {
	local tool=$1 outer=${2:-4} epa epb
	[ "$tool" = vg ] && tool=$VG
	if [ "$outer" = 6 ]; then epa="[fd77::1]:51820"; epb="[fd77::2]:51821"
	else epa="10.77.0.1:51820"; epb="10.77.0.2:51821"; fi
	echo "$KEY_A" >"$_tmp/ka"; echo "$KEY_B" >"$_tmp/kb"; echo "$PSK" >"$_tmp/psk"
	in_a "$tool" set "$IF_A" private-key "$_tmp/ka" listen-port 51820 \
		peer "$PUB_B" preshared-key "$_tmp/psk" endpoint "$epb" \
		allowed-ips 10.78.0.2/32,fd78::2/128
	in_b "$tool" set "$IF_B" private-key "$_tmp/kb" listen-port 51821 \
		peer "$PUB_A" preshared-key "$_tmp/psk" endpoint "$epa" \
		allowed-ips 10.78.0.1/32,fd78::1/128
	in_a ip addr add 10.78.0.1/24 dev "$IF_A"
	in_a ip addr add fd78::1/64 dev "$IF_A" nodad
	in_b ip addr add 10.78.0.2/24 dev "$IF_B"
	in_b ip addr add fd78::2/64 dev "$IF_B" nodad
	in_a ip link set "$IF_A" up
	in_b ip link set "$IF_B" up
}

# wait_ping NS ADDR: up to ~10 s for the first reply (handshake included).
wait_ping() {
	local ns=$1 addr=$2 i
	for i in $(seq 1 20); do
		ip netns exec "$ns" ping -c 1 -W 1 "$addr" >/dev/null 2>&1 && return 0
		sleep 0.5
	done
	return 1
}

# transfer_check SRC_NS DST_NS DST_ADDR MBYTES: sends MBYTES of random data
# over TCP and compares SHA-256 on both ends.
transfer_check() {
	local src=$1 dst=$2 addr=$3 mb=$4 port=$((20000 + RANDOM % 20000))
	head -c "${mb}M" /dev/urandom >"$_tmp/payload"
	local want got
	want=$(sha256sum <"$_tmp/payload" | cut -d' ' -f1)
	ip netns exec "$dst" timeout 120 python3 -c '
import socket, sys, hashlib
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(1)
c, _ = s.accept(); h = hashlib.sha256()
while True:
    b = c.recv(1 << 20)
    if not b: break
    h.update(b)
print(h.hexdigest())' "$addr" "$port" >"$_tmp/got" &
	local lp=$!
	sleep 0.5
	ip netns exec "$src" timeout 120 python3 -c '
import socket, sys
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
with open(sys.argv[3], "rb") as f:
    while True:
        b = f.read(1 << 20)
        if not b: break
        s.sendall(b)
s.shutdown(socket.SHUT_WR); s.recv(1)' "$addr" "$port" "$_tmp/payload"
	wait "$lp"
	got=$(cat "$_tmp/got")
	[ "$got" = "$want" ] || fail "transfer of ${mb} MB to $addr: sha256 $got, want $want"
	log "transfer ${mb} MB to $addr intact"
}
