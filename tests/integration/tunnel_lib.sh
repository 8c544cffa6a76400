# SPDX-License-Identifier: MIT
# Helpers shared by the tunnel tests (sourced after lib.sh).

# A missing daemon or tool is a broken build, not a reason to skip.
require_dataplane() {
	[ -x "$VGUARD" ] || fail "no $VGUARD"
	[ -x "$VG" ] || fail "no $VG"
}

# stop_daemon IFACE: SIGTERM the daemon serving IFACE, wait for it to exit
# and return its exit status.
stop_daemon() {
	local ifname=$1 i p
	for i in "${!_ifaces[@]}"; do
		[ "${_ifaces[$i]}" = "$ifname" ] || continue
		p=$(daemon_pid "$ifname") || return 1
		kill "$p" 2>/dev/null
		local rc=0
		wait "$p" || rc=$?
		return $rc
	done
	return 1
}

# daemon_pid IFACE: the pid start_daemon recorded for IFACE (same index).
daemon_pid() {
	local i
	for i in "${!_ifaces[@]}"; do
		if [ "${_ifaces[$i]}" = "$1" ]; then
			# _pids and _ifaces are appended together by start_daemon.
			echo "${_pids[$i]}"
			return 0
		fi
	done
	return 1
}

# iperf_check SRC_NS DST_NS DST_ADDR tcp|udp SECONDS: runs iperf3 and
# prints the receiver's rate; fails when nothing arrived.
iperf_check() {
	local src=$1 dst=$2 addr=$3 proto=$4 secs=${5:-3} port=$((40000 + RANDOM % 10000)) out
	ip netns exec "$dst" iperf3 -s -1 -p "$port" >/dev/null 2>&1 &
	local sp=$!
	sleep 0.5
	local args=(-c "$addr" -p "$port" -t "$secs" -J)
	[ "$proto" = udp ] && args+=(-u -b 100M -l 1300)
	out=$(ip netns exec "$src" timeout $((secs + 20)) iperf3 "${args[@]}") ||
		{ kill "$sp" 2>/dev/null; fail "iperf3 $proto to $addr failed"; }
	wait "$sp" || true
	python3 -c '
import json, sys
j = json.loads(sys.argv[1]); e = j["end"]
if sys.argv[2] == "udp":
    s = e["sum"]; bps = s["bits_per_second"]; lost = s.get("lost_percent", 0)
    print("%.0f Mbit/s, %.1f%% lost" % (bps / 1e6, lost))
    sys.exit(0 if bps > 1e6 and lost < 50 else 1)
bps = e["sum_received"]["bits_per_second"]
print("%.0f Mbit/s" % (bps / 1e6))
sys.exit(0 if bps > 1e6 else 1)' "$out" "$proto" | sed "s/^/--- iperf3 $proto to $addr: /" ||
		fail "iperf3 $proto to $addr: too little got through"
}

# stats_all NS IFACE: vguard's stats=1 lines (device part only).
stats_all() {
	ip netns exec "$1" python3 - "$2" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect("/var/run/wireguard/%s.sock" % sys.argv[1])
s.sendall(b"stats=1\n\n")
buf = b""
while not buf.endswith(b"\n\n"):
    b = s.recv(65536)
    if not b: break
    buf += b
for line in buf.decode().splitlines():
    if line.startswith("public_key="): break
    print(line)
PY
}

# stat_of NS IFACE KEY: one device counter from stats=1.
stat_of() {
	stats_all "$1" "$2" | sed -n "s/^$3=//p"
}

# wait_tx NS IFACE MBYTES: until the device has sent MBYTES (a transfer
# started in the background is under way), at most ~30 s.
wait_tx() {
	local i
	for i in $(seq 1 150); do
		[ "$(stat_of "$1" "$2" tx_bytes)" -ge $(($3 << 20)) ] && return 0
		sleep 0.2
	done
	fail "no traffic from $2"
}

# tunnel_up IMPL_B TOOL: the usual two-namespace topology with vguard in A
# and IMPL_B (vguard or wireguard-go) in B, configured with TOOL (wg or vg)
# over the IPv4 underlay.
tunnel_up() {
	topo_init
	tunnel_keys
	start_daemon "$NS_A" "$IF_A" vguard
	start_daemon "$NS_B" "$IF_B" "$1"
	tunnel_config "$2" 4
}
