#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tunpipe benchmark: what the TUN offloads buy before crypto enters.
# Two namespaces whose TUNs are joined by tools/bench/tunpipe (vguard's TUN
# layer: split on read, GRO on write, no encryption); iperf3 TCP from A to
# B with offloads on and off, 1 and 4 streams, median of RUNS runs.
#
#   tools/bench/tunpipe.sh [BUILD_DIR]     (root; env: SECS=5 RUNS=3)
#   (`make -C BUILD_DIR bench` builds tunpipe first)
set -euo pipefail
build=${1:-${VGUARD_BUILD:-build}}
TP=$build/tools/bench/tunpipe
SECS=${SECS:-5}
RUNS=${RUNS:-3}
[ "$(id -u)" -eq 0 ] || { echo "tunpipe.sh needs root" >&2; exit 77; }
command -v iperf3 >/dev/null || { echo "tunpipe.sh needs iperf3" >&2; exit 77; }
[ -x "$TP" ] || { echo "build $TP first (make -C $build bench)" >&2; exit 1; }

id=$$
NA=vgpA$id NB=vgpB$id IA=vgpa$id IB=vgpb$id
tmp=$(mktemp -d /tmp/vguard-tunpipe.XXXXXX)
pids=()
cleanup() {
	set +e
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	ip netns del "$NA" 2>/dev/null
	ip netns del "$NB" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
ip netns add "$NA"
ip netns add "$NB"

median() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

# One iperf3 run; prints the receiver's Mbit/s.
iperf() { # streams
	ip netns exec "$NA" iperf3 -c 10.204.0.2 -p 5302 -t "$SECS" -P "$1" -f m 2>&1 |
		awk '/receiver/ { for (i = 1; i < NF; i++) if ($(i + 1) == "Mbits/sec") v = $i } END { print v + 0 }'
}

# CPU seconds tunpipe used so far.
cpu() { awk '{ printf "%.2f\n", ($14 + $15) / 100 }' "/proc/$1/stat"; }

bench() { # label tunpipe-options...
	local label=$1 p s r
	shift
	"$TP" "$@" "$NA" "$IA" "$NB" "$IB" >"$tmp/out" 2>&1 &
	p=$!
	pids+=("$p")
	for _ in $(seq 100); do grep -q '^ready' "$tmp/out" && break; sleep 0.1; done
	ip -n "$NA" addr add 10.204.0.1/24 dev "$IA"
	ip -n "$NB" addr add 10.204.0.2/24 dev "$IB"
	ip -n "$NA" link set "$IA" up
	ip -n "$NB" link set "$IB" up
	ip netns exec "$NB" iperf3 -s -p 5302 >/dev/null 2>&1 &
	pids+=("$!")
	sleep 0.5
	for s in 1 4; do
		local c0 c1 runs=()
		c0=$(cpu "$p")
		for ((r = 0; r < RUNS; r++)); do runs+=("$(iperf "$s")"); done
		c1=$(cpu "$p")
		printf '%-14s %2d stream(s): median %6d Mbit/s  (runs: %s)  tunpipe CPU %.1f s per %d s\n' \
			"$label" "$s" "$(printf '%s\n' "${runs[@]}" | median)" "${runs[*]}" \
			"$(awk -v a="$c0" -v b="$c1" 'BEGIN { print b - a }')" $((SECS * RUNS))
	done
	kill "$p" "${pids[-1]}" 2>/dev/null
	wait "$p" 2>/dev/null || true
	grep "^$IB reads=" "$tmp/out" | tr ' ' '\n' | grep -E '^(tcp|udp)_(coalesced|merged)=' | tr '\n' ' '
	grep "^$IA reads=" "$tmp/out" | tr ' ' '\n' | grep -E '^(gso_tcp4|gso_tcp4_segments)=' | tr '\n' ' '
	echo
	pids=()
}

echo "tunpipe: kernel $(uname -r), $(nproc) CPUs, ${SECS}s x $RUNS runs, MTU 1420"
bench "offloads on"
bench "offloads off" --no-offload
