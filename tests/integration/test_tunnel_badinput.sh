#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Bad input (issue 6, item 7): garbage and truncated UAPI requests get the
# right errno and the daemon keeps serving; random UDP garbage and replayed
# captured data packets at the listen port change nothing but drop counters.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/tunnel_lib.sh"
require_root
require_cmd ip wg python3
require_dataplane
tunnel_up vguard wg
wait_ping "$NS_A" 10.78.0.2 || fail "no ping"

# UAPI: each request on its own connection, reply checked byte for byte.
uapi() { # NS IFACE REQUEST(printf format)
	ip netns exec "$1" python3 - "$2" "$3" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(5)
s.connect("/var/run/wireguard/%s.sock" % sys.argv[1])
s.sendall(sys.argv[2].encode().decode("unicode_escape").encode("latin-1"))
s.shutdown(socket.SHUT_WR)
buf = b""
try:
    while True:
        b = s.recv(65536)
        if not b: break
        buf += b
except socket.timeout:
    pass
sys.stdout.write(buf.decode("latin-1"))
PY
}
expect_uapi() { # request, wanted last line
	local got
	got=$(uapi "$NS_A" "$IF_A" "$1" | grep '^errno=' | tail -n 1)
	[ "$got" = "$2" ] || fail "UAPI '$1': got '$got', want '$2'"
}
expect_uapi 'set=1\nprivate_key=zz\n\n' 'errno=-22'
expect_uapi 'set=1\nlisten_port=70000\n\n' 'errno=-22'
expect_uapi 'set=1\nno_equals_sign\n\n' 'errno=-71'
expect_uapi 'set=1\nbogus_key=1\n\n' 'errno=-22'
expect_uapi 'set=1\npublic_key=00\n\n' 'errno=-22'
uapi "$NS_A" "$IF_A" 'set=1\nprivate_key=' >/dev/null   # truncated, no reply needed
uapi "$NS_A" "$IF_A" 'get=1\n' >/dev/null                 # truncated
uapi "$NS_A" "$IF_A" '\x00\xff\xfe garbage\n\n' >/dev/null
expect_uapi 'get=1\n\n' 'errno=0'
in_a wg show "$IF_A" >/dev/null || fail "wg show fails after bad requests"
log "bad UAPI requests answered, daemon still serving"

# Capture B's data packets to A on the veth (AF_PACKET), then replay them
# and random garbage at A's port from B's namespace.
rx_before=$(stat_of "$NS_A" "$IF_A" rx_packets)
ip netns exec "$NS_A" python3 - "$_tmp/captured" <<'PY' &
import socket, sys, struct
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
s.bind(("veth0", 0)); s.settimeout(10)
out = open(sys.argv[1], "wb"); n = 0
while n < 20:
    f = s.recv(65536)
    ip = f[14:]
    if ip[9] != 17: continue
    ihl = (ip[0] & 15) * 4
    udp = ip[ihl:]
    if struct.unpack("!H", udp[2:4])[0] != 51820: continue
    payload = udp[8:]
    if payload[0] != 4: continue
    out.write(struct.pack("!H", len(payload)) + payload); n += 1
out.close()
PY
cap=$!
sleep 0.5
in_b ping -c 25 -i 0.05 -q 10.78.0.1 >/dev/null || fail "ping while capturing"
wait "$cap" || fail "capture failed"
rx_mid=$(stat_of "$NS_A" "$IF_A" rx_packets)
replay_before=$(stat_of "$NS_A" "$IF_A" drop_replay)
in_b python3 - "$_tmp/captured" <<'PY'
import os, random, socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
dst = ("10.77.0.1", 51820)
data = open(sys.argv[1], "rb").read(); i = 0; pkts = []
while i < len(data):
    n = struct.unpack("!H", data[i:i+2])[0]; pkts.append(data[i+2:i+2+n]); i += 2 + n
for p in pkts:
    s.sendto(p, dst)
rnd = random.Random(6)
for n in range(300):
    size = rnd.choice([0, 1, 3, 4, 15, 16, 31, 32, 33, 92, 148, 64, 200, 1400])
    b = bytearray(rnd.getrandbits(8) for _ in range(size))
    if size >= 4 and n % 2:
        b[0] = rnd.choice([1, 2, 3, 4]); b[1:4] = b"\0\0\0"
    s.sendto(bytes(b), dst)
print("sent %d replays, 300 garbage" % len(pkts))
PY
sleep 1
rx_after=$(stat_of "$NS_A" "$IF_A" rx_packets)
replay_after=$(stat_of "$NS_A" "$IF_A" drop_replay)
log "rx_packets $rx_before -> $rx_mid -> $rx_after, drop_replay $replay_before -> $replay_after"
[ "$rx_after" = "$rx_mid" ] || fail "replayed or garbage packets were delivered"
[ "$replay_after" -ge $((replay_before + 20)) ] || fail "replays not counted"
log "drops: bad_mac=$(stat_of "$NS_A" "$IF_A" drop_bad_mac) malformed=$(stat_of "$NS_A" "$IF_A" drop_malformed) unknown_index=$(stat_of "$NS_A" "$IF_A" drop_unknown_index)"
wait_ping "$NS_A" 10.78.0.2 || fail "tunnel broken after garbage"
transfer_check "$NS_A" "$NS_B" 10.78.0.2 20
