#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The UAPI byte for byte against Debian's wireguard-go: the same set=1
# requests go to both daemons (one connection per operation, as wg does),
# and the errno replies and the get=1 output that follows must be equal.
# Only single-peer states are compared (wireguard-go lists peers in Go map
# order) and listen_port is left out of the comparison (wireguard-go binds
# a real port; vguard's reply reports what its device bound).
set -uo pipefail

: "${VGUARD_BUILD:?VGUARD_BUILD must name the build directory}"
VGUARD=${VGUARD:-$VGUARD_BUILD/tools/vguard}
[ "$(id -u)" -eq 0 ] || { echo "needs root"; exit 77; }
[ -x "$VGUARD" ] || { echo "no $VGUARD"; exit 77; }
command -v wireguard-go >/dev/null || { echo "needs wireguard-go"; exit 77; }
command -v python3 >/dev/null || { echo "needs python3"; exit 77; }

id=$(printf '%x' $$)
NS=vgcu$id
IFG=vgu${id}g
IFV=vgu${id}v
SOCKDIR=/var/run/wireguard

cleanup() {
	local p
	for p in $(ip netns pids "$NS" 2>/dev/null); do kill -TERM "$p" 2>/dev/null; done
	sleep 0.3
	for p in $(ip netns pids "$NS" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
	ip netns del "$NS" 2>/dev/null
	rm -f "$SOCKDIR/$IFG.sock" "$SOCKDIR/$IFV.sock"
}
trap cleanup EXIT

ip netns add "$NS" || exit 1
ip netns exec "$NS" wireguard-go "$IFG" >/dev/null 2>&1 || { echo "wireguard-go did not start"; exit 77; }
ip netns exec "$NS" "$VGUARD" "$IFV" || { echo "FAIL: vguard did not start"; exit 1; }

python3 - "$SOCKDIR/$IFG.sock" "$SOCKDIR/$IFV.sock" <<'EOF'
import re, socket, sys

def talk(path, req):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    s.connect(path)
    s.sendall(req.encode())
    out = b''
    while not out.endswith(b'\n\n'):
        b = s.recv(65536)
        if not b:
            break
        out += b
    s.close()
    return out.decode()

# Debian's wireguard-go drops an IPv6 endpoint's zone from get; upstream
# prints it, and so does vguard (test_endpoint_scope.sh compares zones
# with upstream): here the zone is left out of the comparison.
def get(path):
    return "\n".join(re.sub(r"^(endpoint=\[[^%\]]*)%[^\]]*\]", r"\1]", l)
                     for l in talk(path, "get=1\n\n").split("\n")
                     if not l.startswith("listen_port="))

P1 = "b85996fecc9c7f1fc6d2572a76eda11d59bcd20be8e543b15ce4bd85a8e75a33"
P2 = "58402e695ba1772b1cc9309755f043251ea77fdcf10fbe63989ceb7e19321376"
P3 = "662e14fd594556f522604703340351258903b64f35553763f19426ab2a515c58"
PSK = "188515093e952f5f22e865cef3012e72f8b5f0b598ac0309d5dacce3b70fcf52"
sets = [
    "private_key=ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff\nfwmark=5",
    "private_key=E84B5A6D2717C1003A13B431570353DBACA9146CF150C5F8575680FEBA52027F\nfwmark=4294967295",
    "replace_peers=true\npublic_key=%s\npreshared_key=%s\npersistent_keepalive_interval=25" % (P1, PSK),
    "public_key=%s\nendpoint=[2001:DB8:0:0:1:0:0:1]:51" % P1,
    "public_key=%s\nendpoint=[2001:db8::1]:0051" % P1,
    "public_key=%s\nendpoint=[fe80::1%%1]:51" % P1,
    "public_key=%s\nendpoint=[::192.0.2.5]:9" % P1,
    "public_key=%s\nendpoint=[::ffff:192.0.2.5]:9" % P1,
    "public_key=%s\nendpoint=[1:0:0:2:0:0:0:3]:9" % P1,
    "public_key=%s\nendpoint=[1:0:0:2:0:0:3:4]:9" % P1,
    "public_key=%s\nendpoint=192.0.2.200:65535" % P1,
    "public_key=%s\nallowed_ip=10.0.0.7/24\nallowed_ip=fd00:0:0:1::5/64\nallowed_ip=0.0.0.0/0" % P1,
    "public_key=%s\nallowed_ip=::ffff:1.2.3.4/120\nallowed_ip=::ffff:1.2.3.4/96" % P1,
    "public_key=%s\nallowed_ip=::/0\nallowed_ip=10.0.0.0/8\nallowed_ip=10.0.0.0/8" % P1,
    "public_key=%s\nreplace_allowed_ips=true\nallowed_ip=10.1.0.0/16\nallowed_ip=10.2.0.0/16" % P1,
    "public_key=%s\nupdate_only=true\nallowed_ip=10.2.0.0/16" % P2,
    "public_key=%s\npersistent_keepalive_interval=0\npreshared_key=%s" % (P1, "0" * 64),
    "public_key=%s\nprotocol_version=1\nupdate_only=true\npersistent_keepalive_interval=65535" % P1,
    "listen_port=x", "listen_port=65536", "foo", "foo=1", "=", "fwmark=-1",
    "private_key=abc", "replace_peers=false", "public_key=%s\nlisten_port=1" % P1,
    "public_key=%s0" % P1, "public_key=%s\nendpoint=1.2.3.4" % P1,
    "public_key=%s\nendpoint=[1.2.3.4]:5" % P1, "public_key=%s\nendpoint=::1:5" % P1,
    "public_key=%s\nendpoint=host.example:5" % P1,
    "public_key=%s\nallowed_ip=1.2.3.4/33" % P1, "public_key=%s\nallowed_ip=1.2.3.4" % P1,
    "public_key=%s\nprotocol_version=2" % P1, "public_key=%s\nremove=yes" % P1,
    "public_key=%s\nbogus=1" % P1, "public_key=%s\nno_equals" % P1,
    "public_key=%s\nremove=true" % P1,
    "public_key=%s\nupdate_only=true\nallowed_ip=10.3.0.0/16" % P3,
    "private_key=%s\nfwmark=0" % ("0" * 64),
]
g, v = sys.argv[1], sys.argv[2]
bad = 0
for body in sets:
    req = "set=1\n" + body + "\n\n"
    rg, rv = talk(g, req), talk(v, req)
    gg, gv = get(g), get(v)
    if rg != rv or gg != gv:
        bad += 1
        print("DIFF after %r\n wireguard-go: %r %r\n vguard:       %r %r" % (body, rg, gg, rv, gv))
for req in ["get=1\nX", "get=2\n\n", "set=1\r\n\n"]:
    rg, rv = talk(g, req), talk(v, req)
    if rg != rv:
        bad += 1
        print("DIFF for %r: wireguard-go %r, vguard %r" % (req, rg, rv))
print("%d requests compared, %d differ" % (len(sets) + 3, bad))
sys.exit(1 if bad else 0)
EOF
