#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Live upgrade (README.md, "Live upgrade"): while a paced TCP transfer
# (SHA-256 checked end to end) and a ping every 50 ms cross the tunnel,
# the daemon in A is upgraded several times in a row, alternating between
# the normal build and a differently switched one (every offload off on the
# --upgrade command line, or VGUARD_UPGRADE_ALT, a second build), in the
# foreground (-f) and the usual background way.  After each: the old daemon
# exited 0, the interface kept its ifindex, addresses and routes, no new
# handshake happened on either end, the new options are in effect.  At the
# end: the transfer is intact, few pings were lost; pings lost and the
# longest gap in the transfer are printed per upgrade.  A state format that
# differs is refused with a one-line reason and the daemon keeps running.
# Then the same with upstream wireguard-go (VGUARD_WGGO_ANCHOR) as the peer
# when it is there.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/tunnel_lib.sh"
require_root
require_cmd ip wg python3 ping
require_dataplane

PEER=${1:-vguard}
ROUNDS=${VGUARD_UPGRADE_ROUNDS:-4}
ALT=${VGUARD_UPGRADE_ALT:-$VGUARD}
ANCHOR=${VGUARD_WGGO_ANCHOR:-/work/shared/anchors/wireguard-go}
RATE=$((8 << 20))	# transfer pace, bytes per second
SWITCHED=(--no-tso --no-uso --no-tcp-gro --no-udp-gro --no-udp-gso --no-udp-gro-rx)
MAX_LOST=3		# pings lost per upgrade, at most

if [ "$PEER" = wireguard-go ]; then
	[ -x "$ANCHOR" ] || skip "no upstream wireguard-go at $ANCHOR"
	tunnel_up "$ANCHOR" wg
else
	tunnel_up vguard wg
fi
CUR_PID=$(daemon_pid "$IF_A")
wait_ping "$NS_B" 10.78.0.1 || fail "no ping before the upgrades"

link_state() {
	ip -n "$NS_A" -o link show dev "$IF_A" | cut -d: -f1
	ip -n "$NS_A" -o addr show dev "$IF_A" | awk '{print $3, $4}'
	ip -n "$NS_A" route show dev "$IF_A"
	ip -n "$NS_A" -6 route show dev "$IF_A"
}
handshakes() {
	in_a wg show "$IF_A" latest-handshakes
	in_b wg show "$IF_B" latest-handshakes
}
# On a new handshake: who started it, and what the daemons said.
hs_report() {
	local k
	echo "before: $HS0"
	echo "now:    $(handshakes)"
	for k in handshake_initiations_sent handshake_initiations_received \
		handshake_responses_sent handshake_responses_received; do
		echo "A $k=$(stat_of "$NS_A" "$IF_A" "$k")"
	done
	for k in "$_tmp"/up*.log; do [ -e "$k" ] && { echo "== $k"; tail -n 8 "$k"; }; done
}

# A different state format: refused in one line, the daemon carries on.
log "a different state format is refused"
rc=0
in_a "$VGUARD" -f --upgrade --upgrade-test-version 999 "$IF_A" >"$_tmp/refused" 2>&1 || rc=$?
[ "$rc" = 1 ] || { cat "$_tmp/refused"; fail "refused upgrade exited $rc"; }
[ "$(wc -l <"$_tmp/refused")" = 1 ] || { cat "$_tmp/refused"; fail "not one line"; }
grep -q "state formats differ" "$_tmp/refused" || { cat "$_tmp/refused"; fail "reason"; }
log "$(cat "$_tmp/refused")"
kill -0 "$CUR_PID" 2>/dev/null || fail "the daemon stopped"
wait_ping "$NS_B" 10.78.0.1 || fail "no ping after the refusal"

STATE0=$(link_state)
# Both ends bring their links up at set-up and may both initiate; the
# loser's retransmission can complete a second handshake REKEY_TIMEOUT
# later.  The upgrades start once the handshake times have settled.
for i in 1 2 3; do
	HS0=$(handshakes)
	sleep 6
	[ "$(handshakes)" = "$HS0" ] && break
	log "a handshake from the set-up completed late"
done
[ -n "$HS0" ] || fail "no handshake"

# The transfer: B receives, noting every pause of 20 ms or more.
PORT=$((20000 + RANDOM % 20000))
SIZE=$(((ROUNDS * 2 + 4) * RATE))
head -c "$SIZE" /dev/urandom >"$_tmp/payload"
WANT=$(sha256sum <"$_tmp/payload" | cut -d' ' -f1)
# Background jobs run without a function around them, so that $! is the
# program itself and not a subshell carrying the test's traps.
ip netns exec "$NS_B" timeout 120 python3 -c '
import socket, sys, hashlib, time
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(1)
c, _ = s.accept(); h = hashlib.sha256(); last = None; gaps = []
while True:
    b = c.recv(1 << 20)
    t = time.time()
    if not b: break
    h.update(b)
    if last is not None and t - last >= 0.02: gaps.append((last, t - last))
    last = t
print(h.hexdigest())
for g in gaps: print("gap %.6f %.6f" % g)' 10.78.0.2 "$PORT" >"$_tmp/got" &
RECV=$!
sleep 0.5
ip netns exec "$NS_A" timeout 120 python3 -c '
import socket, sys, time
for i in range(100):	# the receiver may take a while to listen
    try:
        s = socket.create_connection((sys.argv[1], int(sys.argv[2]))); break
    except ConnectionRefusedError:
        time.sleep(0.1)
rate = float(sys.argv[4]); start = time.time(); sent = 0
with open(sys.argv[3], "rb") as f:
    while True:
        b = f.read(1 << 16)
        if not b: break
        s.sendall(b); sent += len(b)
        ahead = sent / rate - (time.time() - start)
        if ahead > 0: time.sleep(ahead)
s.shutdown(socket.SHUT_WR); s.recv(1)' 10.78.0.2 "$PORT" "$_tmp/payload" "$RATE" &
SEND=$!
ip netns exec "$NS_B" ping -D -i 0.05 -W 2 10.78.0.1 >"$_tmp/ping" 2>&1 &
PING=$!
_pids+=("$PING")

# pid_of_upgrade OLD: the background process now serving IF_A.
pid_of_upgrade() {
	local p
	for p in $(pgrep -f -- "--upgrade.* $IF_A\$"); do
		[ "$p" != "$1" ] && [ "$(readlink "/proc/$p/exe")" != "" ] && echo "$p"
	done | tail -n 1
}

# gone PID: until it has exited (at most ~15 s); a zombie nobody has
# reaped yet (a background daemon is not our child) counts as gone.
gone() {
	local i
	for i in $(seq 1 1500); do
		kill -0 "$1" 2>/dev/null || return 0
		[ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ] && return 0
		sleep 0.01
	done
	return 1
}

UP_AT=()
sleep 1.5
for k in $(seq 1 "$ROUNDS"); do
	bin=$VGUARD; args=(); mode=background
	[ $((k % 2)) = 1 ] && { bin=$ALT; args=("${SWITCHED[@]}"); }
	[ $((k % 4)) = 1 ] && mode=foreground
	[ $((k % 4)) = 3 ] && mode=foreground
	old=$CUR_PID
	log "upgrade $k: $mode, $(basename "$bin") ${args[*]:-(defaults)}"
	UP_AT+=("$(date +%s.%N)")
	t0=$(date +%s%N)
	if [ "$mode" = foreground ]; then
		LOG_LEVEL=verbose ip netns exec "$NS_A" "$bin" -f --upgrade "${args[@]}" "$IF_A" \
			>"$_tmp/up$k.log" 2>&1 &
		CUR_PID=$!
		_pids+=("$CUR_PID")
		gone "$old" || fail "upgrade $k: the old daemon still runs"
	else
		LOG_LEVEL=verbose ip netns exec "$NS_A" "$bin" --upgrade "${args[@]}" "$IF_A" \
			>"$_tmp/up$k.log" 2>&1 || { cat "$_tmp/up$k.log"; fail "upgrade $k failed"; }
		CUR_PID=$(pid_of_upgrade "$old")
		[ -n "$CUR_PID" ] || fail "upgrade $k: no new daemon"
		_pids+=("$CUR_PID")
		gone "$old" || fail "upgrade $k: the old daemon still runs"
	fi
	t1=$(date +%s%N)
	# The old one was started by this shell when it ran in the foreground.
	if wait "$old" 2>/dev/null; then :; else
		rc=$?
		[ "$rc" = 127 ] || { cat "$_tmp/up$k.log"; fail "upgrade $k: the old daemon exited $rc"; }
	fi
	kill -0 "$CUR_PID" 2>/dev/null || { cat "$_tmp/up$k.log"; fail "upgrade $k: the new daemon died"; }
	log "upgrade $k: old daemon gone $(((t1 - t0) / 1000000)) ms after the command started (new pid $CUR_PID)"
	oldlog=$_tmp/up$((k - 1)).log
	[ "$k" = 1 ] && oldlog=$_tmp/$IF_A.log
	grep -o "handed over, packets held for [0-9]* ms" "$oldlog" | sed "s/^/--- upgrade $k: /" || true
	[ "$(link_state)" = "$STATE0" ] || { link_state; fail "upgrade $k: ifindex, addresses or routes changed"; }
	[ "$(handshakes)" = "$HS0" ] || { hs_report; fail "upgrade $k: a new handshake"; }
	want=on
	[ ${#args[@]} -gt 0 ] && want=off:disabled
	got=$(stat_of "$NS_A" "$IF_A" offload_udp_gso)
	[ "$got" = "$want" ] || fail "upgrade $k: offload_udp_gso=$got, want $want"
	sleep 1.5
done

wait "$SEND" || fail "the sender failed"
wait "$RECV" || true
sleep 0.3
kill -INT "$PING"
wait "$PING" || true
GOT=$(head -n 1 "$_tmp/got")
[ "$GOT" = "$WANT" ] || fail "transfer: sha256 $GOT, want $WANT"
log "transfer of $((SIZE >> 20)) MB intact"
[ "$(handshakes)" = "$HS0" ] || { hs_report; fail "a new handshake"; }
[ "$(link_state)" = "$STATE0" ] || fail "ifindex, addresses or routes changed"

# What was dropped on the way, by reason (a note, not a check).
for side in "$NS_A $IF_A" "$NS_B $IF_B"; do
	set -- $side
	log "$2 drops: $(stats_all "$1" "$2" | grep '^drop_' | grep -v '=0$' | tr '\n' ' ')"
done

# Per upgrade: the pings whose slot is nearest to it, and the longest
# pause in the transfer from just before it to 1.4 s after.
python3 - "$_tmp/ping" "$_tmp/got" "$MAX_LOST" "${UP_AT[@]}" <<'PY' || { hs_report; fail "too many pings lost"; }
import re, sys
ping, got, max_lost, ups = sys.argv[1], sys.argv[2], int(sys.argv[3]), [float(x) for x in sys.argv[4:]]
seen = {}
sent = 0
for line in open(ping):
    m = re.match(r"\[(\d+\.\d+)\].*icmp_seq=(\d+) ", line)
    if m:
        seen.setdefault(int(m.group(2)), float(m.group(1)))
    m = re.match(r"(\d+) packets transmitted", line)
    if m:
        sent = int(m.group(1))
seqs = sorted(seen)
lost = [s for s in range(1, sent + 1) if s not in seen]
def when(s):
    before = [q for q in seqs if q < s]
    after = [q for q in seqs if q > s]
    if before and after:
        a, b = before[-1], after[0]
        return seen[a] + (seen[b] - seen[a]) * (s - a) / (b - a)
    return seen[before[-1]] if before else seen[after[0]]
per = [0] * len(ups)
for s in lost:
    t = when(s)
    per[min(range(len(ups)), key=lambda i: abs(ups[i] - t))] += 1
gaps = []
for line in open(got):
    if line.startswith("gap "):
        _, t, g = line.split()
        gaps.append((float(t), float(g)))
ok = True
for i, u in enumerate(ups):
    g = max([d for t, d in gaps if u - 0.2 <= t <= u + 1.4], default=0.0)
    print("--- upgrade %d: %d pings lost, longest transfer gap %.0f ms" % (i + 1, per[i], g * 1000))
    ok = ok and per[i] <= max_lost
print("--- in all: %d of %d pings lost, longest transfer gap %.0f ms" %
      (len(lost), sent, max([d for _, d in gaps], default=0.0) * 1000))
sys.exit(0 if ok else 1)
PY

check_alive() {
	kill -0 "$CUR_PID" 2>/dev/null || fail "the last daemon died"
	[ -S "/var/run/wireguard/$IF_A.sock" ] || fail "the UAPI socket is gone"
}
check_alive
wait_ping "$NS_A" fd78::2 || fail "no IPv6 ping after the upgrades"

# The same with upstream wireguard-go as the peer, in a run of its own.
if [ "$PEER" = vguard ]; then
	if [ -x "$ANCHOR" ]; then
		log "again with upstream wireguard-go as the peer"
		VGUARD_UPGRADE_ROUNDS=3 bash "$0" wireguard-go || fail "with wireguard-go"
	else
		log "no upstream wireguard-go at $ANCHOR: that part skipped"
	fi
fi
