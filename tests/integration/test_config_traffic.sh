#!/usr/bin/env bash
# Configuration never holds up the data path (doc/architecture.md,
# "Configuration"): with a ping every 10 ms running through a vguard
# tunnel, B takes `wg addconf` of 5000 peers and then 10 single-peer
# `wg set`s.  No ping may be lost, no gap between two replies may exceed
# GAP_MS, and every peer must be there afterwards.
#
# GAP_MS: on a busy 2-core machine a 10 ms ping sees gaps of up to ~70 ms
# with no configuration at all (the scheduler, not vguard); a data path
# that waits for the addconf goes quiet for as long as it runs (~200 ms
# and more here for 5000 peers), so 150 ms keeps clear of both.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/tunnel_lib.sh"
require_root
require_cmd ip wg ping python3
require_dataplane
PEERS=${PEERS:-5000}
SETS=${SETS:-10}
GAP_MS=${GAP_MS:-150}

tunnel_up vguard wg
wait_ping "$NS_A" 10.78.0.2 || fail "no ping through the tunnel"

python3 - "$PEERS" "$_tmp/peers" "$_tmp/keys" <<'PY'
import base64, os, sys
n, conf, keys = int(sys.argv[1]), sys.argv[2], sys.argv[3]
with open(conf, "w") as f, open(keys, "w") as k:
    for i in range(n):
        key = base64.b64encode(os.urandom(32)).decode()
        k.write(key + "\n")
        f.write("[Peer]\nPublicKey = %s\nAllowedIPs = 10.%d.%d.%d/32\n\n" %
                (key, 64 + (i >> 16), (i >> 8) & 255, i & 255))
PY

# Not through in_a: $! must be ping itself for the SIGINT below.
ip netns exec "$NS_A" ping -D -i 0.01 10.78.0.2 >"$_tmp/ping" 2>&1 &
pinger=$!
_pids+=("$pinger")
sleep 0.5
t0=$(date +%s%N)
in_b wg addconf "$IF_B" "$_tmp/peers" || fail "wg addconf of $PEERS peers"
t1=$(date +%s%N)
for i in $(seq 1 "$SETS"); do
	key=$(wg genkey | wg pubkey)
	echo "$key" >>"$_tmp/keys"
	in_b wg set "$IF_B" peer "$key" allowed-ips "10.100.0.$i/32" || fail "wg set $i"
done
t2=$(date +%s%N)
sleep 0.5
kill -INT "$pinger"
wait "$pinger" || true
log "addconf of $PEERS peers $(( (t1 - t0) / 1000000 )) ms, $SETS sets $(( (t2 - t1) / 1000000 )) ms"

# The longest gap between replies from the last one before the changes to
# the first one after them; lost = sequence numbers never answered.
read -r gap lost got < <(python3 - "$_tmp/ping" "$t0" "$t2" <<'PY'
import re, sys
t0, t1 = int(sys.argv[2]) / 1e9, int(sys.argv[3]) / 1e9
rx = re.compile(r"^\[(\d+\.\d+)\].*icmp_seq=(\d+)")
got = [(float(m.group(1)), int(m.group(2)))
       for m in map(rx.match, open(sys.argv[1])) if m]
ts = [t for t, _ in got]
win = [t for t in ts if t < t0][-1:] + [t for t in ts if t0 <= t <= t1] + \
      [t for t in ts if t > t1][:1]
gap = max((b - a for a, b in zip(win, win[1:])), default=1e9)
seqs = {s for _, s in got}
lost = max(seqs) - min(seqs) + 1 - len(seqs) if seqs else -1
print("%d %d %d" % (gap * 1e3, lost, len(got)))
PY
)
log "longest ping gap ${gap} ms (bound ${GAP_MS}), $got replies, $lost lost"
[ "$got" -gt 0 ] && [ "$lost" -eq 0 ] || fail "$lost pings lost"
[ "$gap" -le "$GAP_MS" ] || fail "no ping reply for ${gap} ms during configuration"

in_b wg show "$IF_B" peers | sort >"$_tmp/shown"
sort "$_tmp/keys" >"$_tmp/want"
missing=$(comm -23 "$_tmp/want" "$_tmp/shown" | wc -l)
[ "$missing" -eq 0 ] || fail "$missing of $((PEERS + SETS)) peers missing from wg show peers"
[ "$(wc -l <"$_tmp/shown")" -eq $((PEERS + SETS + 1)) ] ||
	fail "wg show peers: $(wc -l <"$_tmp/shown") peers, want $((PEERS + SETS + 1))"
log "all $((PEERS + SETS + 1)) peers listed"
