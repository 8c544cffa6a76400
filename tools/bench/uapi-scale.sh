#!/bin/bash
# SPDX-License-Identifier: MIT
#
# How configuration time grows with the number of peers: starts vguard in
# a network namespace of its own and times `wg setconf` and `wg show dump`
# for 1,000 / 10,000 / 65,536 peers (one allowed IP each).  Root.  Prints
# numbers (the median of RUNS runs per size); judges nothing.
#
#   tools/bench/uapi-scale.sh [BUILD_DIR]      (or VGUARD_BUILD=BUILD_DIR)
#   SIZES="1000 10000" RUNS=5 LIMIT=60 tools/bench/uapi-scale.sh
set -u

BUILD=${1:-${VGUARD_BUILD:-.}}
VGUARD=$BUILD/tools/vguard
SIZES=${SIZES:-"1000 10000 65536"}
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
for n in $SIZES; do
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
		exit 0 ;;
	esac
	printf '%8s %12s %12s %10s\n' "$n" "$(echo "$set_t" | median)" \
		"$(echo "$get_t" | median)" "$lines"
done
