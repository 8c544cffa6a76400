#!/bin/bash
# SPDX-License-Identifier: MIT
#
# How configuration time grows with the number of peers: starts vguard in
# a network namespace of its own and times `wg setconf` and `wg show dump`
# for 1,000 / 10,000 / 65,536 peers (one allowed IP each).  Root.  Prints
# numbers (the median of RUNS runs per size); judges nothing.  Then the
# same with traffic: how long a ping through a tunnel goes unanswered while
# the far end takes `wg addconf` of N peers (60,000 unless SIZES says) and
# then single-peer `wg set`s, for vguard and upstream wireguard-go (see
# traffic_part below).
#
#   tools/bench/uapi-scale.sh [BUILD_DIR]      (or VGUARD_BUILD=BUILD_DIR)
#   SIZES="1000 10000" RUNS=5 LIMIT=60 tools/bench/uapi-scale.sh
#   PARTS=traffic SIZES=60000 WGGO=/path/to/wireguard-go tools/bench/uapi-scale.sh
set -u

BUILD=${1:-${VGUARD_BUILD:-.}}
VGUARD=$BUILD/tools/vguard
SIZES_SET=${SIZES:-"1000 10000 65536"}
RUNS=${RUNS:-3}
LIMIT=${LIMIT:-120}	# seconds one command may take before we give up

[ "$(id -u)" = 0 ] || { echo "uapi-scale: needs root" >&2; exit 77; }
[ -x "$VGUARD" ] || { echo "uapi-scale: no $VGUARD (give the build dir)" >&2; exit 1; }
command -v wg >/dev/null || { echo "uapi-scale: needs wg (wireguard-tools)" >&2; exit 77; }
command -v python3 >/dev/null || { echo "uapi-scale: needs python3" >&2; exit 77; }

NS=vgscale$$
IF=vgs$$
TMP=$(mktemp -d)
PID=

cleanup()
{
	[ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	rm -f "/var/run/wireguard/$IF.sock"
	declare -F traffic_down >/dev/null && traffic_down
	rm -rf "$TMP"
}
trap cleanup EXIT

in_ns() { ip netns exec "$NS" "$@"; }

# Config with N peers: random public keys (any 32 bytes is a key to wg),
# one distinct /32 each.
make_conf()
{
	python3 - "$1" "$2" <<'EOF'
import base64, os, sys
n, out = int(sys.argv[1]), sys.argv[2]
with open(out, "w") as f:
    f.write("[Interface]\nPrivateKey = %s\nListenPort = 51999\n" %
            base64.b64encode(os.urandom(32)).decode())
    for i in range(n):
        f.write("\n[Peer]\nPublicKey = %s\nAllowedIPs = 10.%d.%d.%d/32\n" %
                (base64.b64encode(os.urandom(32)).decode(),
                 64 + (i >> 16), (i >> 8) & 255, i & 255))
EOF
}

# Seconds (3 decimals) a command in the namespace took, or "timeout"/"failed".
timed()
{
	local t0 t1 rc

	t0=$(date +%s%N)
	timeout "$LIMIT" ip netns exec "$NS" "$@" >/dev/null 2>"$TMP/err"
	rc=$?
	t1=$(date +%s%N)
	[ $rc = 124 ] && { echo timeout; return; }
	[ $rc = 0 ] || { echo failed; return; }
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", (b - a) / 1e9 }'
}

median()
{
	tr ' ' '\n' | grep -v '^$' | sort -n | awk '{ v[NR] = $1 }
		END { if (NR) print v[int((NR + 1) / 2)]; else print "-" }'
}

setconf_part()
{
ip netns add "$NS" || exit 1
in_ns ip link set lo up
WG_PROCESS_FOREGROUND=1 in_ns "$VGUARD" -f "$IF" &
PID=$!
for _ in $(seq 50); do
	[ -S "/var/run/wireguard/$IF.sock" ] && break
	sleep 0.1
done
[ -S "/var/run/wireguard/$IF.sock" ] || { echo "uapi-scale: vguard did not start" >&2; exit 1; }
in_ns ip link set "$IF" up
printf '[Interface]\nListenPort = 51999\n' >"$TMP/empty.conf"

echo "vguard $("$VGUARD" --version 2>/dev/null | head -1), $(nproc) CPUs; median of $RUNS runs"
printf '%8s %12s %12s %10s\n' peers setconf_s show_dump_s dump_lines
for n in $SIZES_SET; do
	make_conf "$n" "$TMP/conf"
	set_t=
	get_t=
	lines=0
	for _ in $(seq "$RUNS"); do
		# From no peers each time: the cost of adding them all.
		timeout "$LIMIT" ip netns exec "$NS" wg setconf "$IF" "$TMP/empty.conf" || break
		t=$(timed wg setconf "$IF" "$TMP/conf")
		set_t="$set_t $t"
		case $t in timeout|failed) sed 's/^/  /' "$TMP/err" >&2; break ;; esac
		t=$(timed wg show "$IF" dump)
		get_t="$get_t $t"
		case $t in timeout|failed) sed 's/^/  /' "$TMP/err" >&2; break ;; esac
		lines=$(in_ns wg show "$IF" dump | wc -l)
	done
	case "$set_t$get_t" in
	*timeout*|*failed*)
		printf '%8s %12s %12s %10s\n' "$n" "${set_t##* }" "${get_t##* }" "$lines"
		echo "uapi-scale: stopping at $n peers (over ${LIMIT}s or failed)"
		return 0 ;;
	esac
	printf '%8s %12s %12s %10s\n' "$n" "$(echo "$set_t" | median)" \
		"$(echo "$get_t" | median)" "$lines"
done
}

# Traffic during configuration: two namespaces joined by a veth, a tunnel
# from vguard in A to the implementation under test in B, a ping every
# 10 ms from A through it, and while it runs (a) `wg addconf` of N more
# peers on B, then (b) 20 times `wg set` of one new peer on B (which has
# N + 1 peers by then).  For each: the time it took, the longest gap
# between two ping replies around it, and the pings never answered.
# vguard and upstream wireguard-go (when WGGO names it) side by side.
TNS_A=vgtA$$
TNS_B=vgtB$$
TIF_A=vgta$$
TIF_B=vgtb$$
TPIDS=
SETS=${SETS:-20}
HERE=$(cd "$(dirname "$0")" && pwd)
WGGO=${WGGO-}		# none: no wireguard-go column
if [ "$WGGO" = none ]; then
	WGGO=
elif [ -z "$WGGO" ]; then
	for d in /work/shared/anchors "$HERE/../../../shared/anchors"; do
		[ -x "$d/wireguard-go" ] && { WGGO=$(cd "$d" && pwd)/wireguard-go; break; }
	done
fi

traffic_down()
{
	local p

	for p in $TPIDS; do kill "$p" 2>/dev/null; done
	for p in $TPIDS; do wait "$p" 2>/dev/null; done
	TPIDS=
	ip netns del "$TNS_A" 2>/dev/null
	ip netns del "$TNS_B" 2>/dev/null
	rm -f "/var/run/wireguard/$TIF_A.sock" "/var/run/wireguard/$TIF_B.sock"
}

# tdaemon NS IFACE BINARY: started in the foreground, quiet, until its
# UAPI socket shows up.
tdaemon()
{
	LOG_LEVEL=error WG_PROCESS_FOREGROUND=1 ip netns exec "$1" "$3" -f "$2" \
		>"$TMP/$2.log" 2>&1 &
	TPIDS="$TPIDS $!"
	for _ in $(seq 100); do
		[ -S "/var/run/wireguard/$2.sock" ] && return 0
		sleep 0.1
	done
	echo "uapi-scale: $3 did not start" >&2
	return 1
}

# traffic_up BINARY_B: the tunnel 10.78.0.1 (vguard, A) <-> 10.78.0.2 (B).
traffic_up()
{
	local ka kb

	ip netns add "$TNS_A" && ip netns add "$TNS_B" || return 1
	ip -n "$TNS_A" link set lo up
	ip -n "$TNS_B" link set lo up
	ip -n "$TNS_A" link add veth0 type veth peer name veth0 netns "$TNS_B"
	ip -n "$TNS_A" addr add 10.77.0.1/24 dev veth0
	ip -n "$TNS_B" addr add 10.77.0.2/24 dev veth0
	ip -n "$TNS_A" link set veth0 up
	ip -n "$TNS_B" link set veth0 up
	tdaemon "$TNS_A" "$TIF_A" "$VGUARD" && tdaemon "$TNS_B" "$TIF_B" "$1" || return 1
	ka=$(wg genkey)
	kb=$(wg genkey)
	echo "$ka" >"$TMP/ka"
	echo "$kb" >"$TMP/kb"
	ip netns exec "$TNS_A" wg set "$TIF_A" private-key "$TMP/ka" listen-port 51820 \
		peer "$(echo "$kb" | wg pubkey)" endpoint 10.77.0.2:51821 \
		allowed-ips 10.78.0.2/32 || return 1
	ip netns exec "$TNS_B" wg set "$TIF_B" private-key "$TMP/kb" listen-port 51821 \
		peer "$(echo "$ka" | wg pubkey)" endpoint 10.77.0.1:51820 \
		allowed-ips 10.78.0.1/32 || return 1
	ip -n "$TNS_A" addr add 10.78.0.1/24 dev "$TIF_A"
	ip -n "$TNS_B" addr add 10.78.0.2/24 dev "$TIF_B"
	ip -n "$TNS_A" link set "$TIF_A" up
	ip -n "$TNS_B" link set "$TIF_B" up
	for _ in $(seq 20); do
		ip netns exec "$TNS_A" ping -c 1 -W 1 10.78.0.2 >/dev/null 2>&1 && return 0
		sleep 0.5
	done
	echo "uapi-scale: no ping through the tunnel" >&2
	return 1
}

# Peers only (addconf keeps the interface as it is), random keys, one
# distinct /32 each under 10.64.0.0/10.
make_peers()
{
	python3 - "$1" "$2" <<'PY'
import base64, os, sys
n, out = int(sys.argv[1]), sys.argv[2]
with open(out, "w") as f:
    for i in range(n):
        f.write("[Peer]\nPublicKey = %s\nAllowedIPs = 10.%d.%d.%d/32\n\n" %
                (base64.b64encode(os.urandom(32)).decode(),
                 64 + (i >> 16), (i >> 8) & 255, i & 255))
PY
}

# ping_gap LOG T0 T1: from `ping -D` output, the longest gap in ms between
# two replies around the window T0..T1 (ns, same clock), counting the last
# reply before it and the first after; then the pings lost in between
# (sequence numbers never answered, up to the last reply).
ping_gap()
{
	python3 - "$@" <<'PY'
import re, sys
log, t0, t1 = sys.argv[1], int(sys.argv[2]) / 1e9, int(sys.argv[3]) / 1e9
rx = re.compile(r"^\[(\d+\.\d+)\].*icmp_seq=(\d+)")
got = []
for line in open(log):
    m = rx.match(line)
    if m:
        got.append((float(m.group(1)), int(m.group(2))))
before = [t for t, _ in got if t < t0]
inside = [t for t, _ in got if t0 <= t <= t1]
after = [t for t, _ in got if t > t1]
ts = before[-1:] + inside + after[:1]
gap = max((b - a for a, b in zip(ts, ts[1:])), default=float("nan"))
seqs = {s for _, s in got}
lost = max(seqs) - min(seqs) + 1 - len(seqs) if seqs else -1
print("%.0f %d" % (gap * 1e3, lost))
PY
}

now() { date +%s%N; }

# traffic_one BINARY_B NAME N: one row of the table.
traffic_one()
{
	local bin=$1 name=$2 n=$3 t0 t1 pp rc add gap_a set_t gap_b i a0 a1 s0 s1

	traffic_up "$bin" || { traffic_down; printf '%-14s %7s  (no tunnel)\n' "$name" "$n"; return; }
	ip netns exec "$TNS_A" ping -D -i 0.01 -W 5 10.78.0.2 >"$TMP/ping" 2>&1 &
	pp=$!
	TPIDS="$TPIDS $pp"
	sleep 1
	a0=$(now)
	timeout "$LIMIT" ip netns exec "$TNS_B" wg addconf "$TIF_B" "$TMP/peers" 2>"$TMP/err"
	rc=$?
	a1=$(now)
	add=$(awk -v a="$a0" -v b="$a1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
	[ $rc = 0 ] || add=failed
	sleep 1
	set_t=
	s0=$(now)
	for i in $(seq "$SETS"); do
		t0=$(now)
		ip netns exec "$TNS_B" wg set "$TIF_B" peer "$(wg genkey | wg pubkey)" \
			allowed-ips "10.100.0.$i/32" 2>>"$TMP/err" || set_t="$set_t failed"
		t1=$(now)
		set_t="$set_t $(( (t1 - t0) / 1000000 ))"
	done
	s1=$(now)
	sleep 1
	kill -INT "$pp" 2>/dev/null
	wait "$pp" 2>/dev/null
	gap_a=$(ping_gap "$TMP/ping" "$a0" "$a1")
	gap_b=$(ping_gap "$TMP/ping" "$s0" "$s1")
	printf '%-14s %7s %10s %9s %10s %10s %9s %6s %7s\n' "$name" "$n" "$add" "${gap_a% *}" \
		"$(echo "$set_t" | median)" \
		"$(echo "$set_t" | tr ' ' '\n' | grep -v '^$' | sort -n | tail -1)" \
		"${gap_b% *}" "${gap_b#* }" \
		"$(ip netns exec "$TNS_B" wg show "$TIF_B" peers 2>/dev/null | wc -l)"
	[ -s "$TMP/err" ] && sed 's/^/  /' "$TMP/err" >&2
	: >"$TMP/err"
	traffic_down
}

traffic_part()
{
	local n

	echo
	echo "traffic during configuration: ping -i 0.01 from vguard through the tunnel to B;"
	echo "(a) wg addconf of N peers on B, (b) $SETS x wg set of one peer on B (N+1 peers)"
	if [ -n "$WGGO" ]; then echo "wireguard-go: $WGGO"
	else echo "(no wireguard-go column: set WGGO or see /work/shared/anchors)"; fi
	printf '%-14s %7s %10s %9s %10s %10s %9s %6s %7s\n' B peers addconf_s gap_a_ms \
		set_med_ms set_max_ms gap_b_ms lost peers_end
	for n in ${SIZES:-60000}; do
		make_peers "$n" "$TMP/peers"
		traffic_one "$VGUARD" vguard "$n"
		[ -n "$WGGO" ] && traffic_one "$WGGO" wireguard-go "$n"
	done
}

case ${PARTS:-setconf traffic} in *setconf*) setconf_part ;; esac
case ${PARTS:-setconf traffic} in *traffic*) traffic_part ;; esac
