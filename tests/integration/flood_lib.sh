# SPDX-License-Identifier: MIT
# Helpers for handshake floods (sourced after lib.sh and tunnel_lib.sh, by
# test_handshake_flood.sh and tools/bench/flood-bench).  B is the victim,
# A its legitimate peer, X the attacker on a veth of its own to B:
#   B vx0 10.79.0.1/16  <->  X vx0 10.79.0.2/16 + FLOOD_NSRC addresses
#   from 10.79.1.0 up (the sources of the flood).

NS_X=vgX$RUN_ID
FLOOD_BIN=${FLOOD_BIN:-$VGUARD_BUILD/tools/bench/flood}
FLOOD_NSRC=${FLOOD_NSRC:-256}
FLOOD_DST=10.79.0.1
FLOOD_SRC0=10.79.1.0

# flood_topo: the attacker's namespace and its addresses.
flood_topo() {
	local i
	ip netns add "$NS_X"; _nets+=("$NS_X")
	ip -n "$NS_X" link set lo up
	ip -n "$NS_B" link add vx0 type veth peer name vx0 netns "$NS_X"
	ip -n "$NS_B" addr add "$FLOOD_DST/16" dev vx0
	ip -n "$NS_X" addr add 10.79.0.2/16 dev vx0
	for ((i = 0; i < FLOOD_NSRC; i++)); do
		echo "addr add 10.79.$((1 + i / 256)).$((i % 256))/16 dev vx0"
	done | ip -n "$NS_X" -batch -
	ip -n "$NS_B" link set vx0 up
	ip -n "$NS_X" link set vx0 up
	# One neighbour entry per source on B: keep them all.
	ip netns exec "$NS_B" sysctl -qw net.ipv4.neigh.default.gc_thresh1=$((FLOOD_NSRC + 256)) \
		net.ipv4.neigh.default.gc_thresh2=$((FLOOD_NSRC + 512)) \
		net.ipv4.neigh.default.gc_thresh3=$((FLOOD_NSRC + 1024)) 2>/dev/null || true
}

# flood_start PORT SECS [ARGS...]: floods B's port from X in the
# background; FLOOD_PID, output in $_tmp/flood.out.
flood_start() {
	local port=$1 secs=$2; shift 2
	ip netns exec "$NS_X" "$FLOOD_BIN" -k "$PUB_B" -d "$FLOOD_DST:$port" -s "$FLOOD_SRC0" \
		-n "$FLOOD_NSRC" -t "$secs" "$@" >"$_tmp/flood.out" &
	FLOOD_PID=$!
}

# flood_field KEY: a value from the flood's report.
flood_field() {
	tr ' ' '\n' <"$_tmp/flood.out" | sed -n "s/^$1=//p"
}

# rehandshake NS IFACE PUB TIMEOUT PING_ADDR PEER_ARGS...: removes the peer
# and adds it again with PEER_ARGS (wg set ... peer PUB PEER_ARGS: a new
# peer, no session), then prints the seconds from the re-add until it has
# completed a handshake, or fails after TIMEOUT seconds.  A ping to
# PING_ADDR every 0.1 s, started before, makes it initiate at once
# (whatever TCP's retransmission timer says).
rehandshake() {
	local ns=$1 ifname=$2 pub=$3 timeout=$4 addr=$5 t0 now hs ping rc=1
	shift 5
	ip netns exec "$ns" ping -i 0.1 -W 1 "$addr" >/dev/null 2>&1 &
	ping=$!
	sleep 0.2
	ip netns exec "$ns" wg set "$ifname" peer "$pub" remove
	ip netns exec "$ns" wg set "$ifname" peer "$pub" "$@"
	t0=${EPOCHREALTIME/./}
	while :; do
		hs=$(ip netns exec "$ns" wg show "$ifname" latest-handshakes | awk '{print $2}')
		now=${EPOCHREALTIME/./}
		if [ "${hs:-0}" != 0 ]; then
			printf '%d.%02d\n' $(((now - t0) / 1000000)) $(((now - t0) % 1000000 / 10000))
			rc=0
			break
		fi
		[ $((now - t0)) -lt $((timeout * 1000000)) ] || break
		sleep 0.02
	done
	kill "$ping" 2>/dev/null
	wait "$ping" 2>/dev/null
	return $rc
}

# vm_hwm PID: peak resident set in kB.
vm_hwm() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }

# cpu_ticks PID...: utime + stime of all, in clock ticks.
cpu_ticks() {
	local t=0 p
	for p; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
	echo "$t"
}

# udp_rcvbuf_errors NS: datagrams the namespace dropped for full sockets.
udp_rcvbuf_errors() {
	ip netns exec "$1" awk '/^Udp:/ { if (n++) print $6 }' /proc/net/snmp
}

# vx_rx_packets: what reached B from the attacker's veth.
vx_rx_packets() {
	ip netns exec "$NS_B" cat /sys/class/net/vx0/statistics/rx_packets
}

