#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# vg against Debian's wg on the same wireguard-go daemons: every show
# form, showconf, set/setconf/addconf/syncconf in both directions, and
# the error cases, compared byte for byte (exit codes included).
# Two namespaces joined by a veth run one wireguard-go each, so there are
# real handshakes and transfer counters to print.
set -uo pipefail

VG=${VGUARD_BUILD:-}/tools/vg
[ "$(id -u)" -eq 0 ] || { echo "needs root"; exit 77; }
[ -x "$VG" ] || { echo "no vg at $VG (set VGUARD_BUILD)"; exit 77; }
for t in wg wireguard-go ip; do
	command -v "$t" >/dev/null || { echo "$t is not installed"; exit 77; }
done
[ -c /dev/net/tun ] || { echo "no /dev/net/tun"; exit 77; }

# UAPI socket paths are global, so the names carry our pid.
A=vgta$$ B=vgtb$$ NSA=vgtnsa$$ NSB=vgtnsb$$
TMP=$(mktemp -d /tmp/vg-compat.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	ip netns del "$NSA" 2>/dev/null
	ip netns del "$NSB" 2>/dev/null
	rm -f "/var/run/wireguard/$A.sock" "/var/run/wireguard/$B.sock"
	rm -rf "$TMP"
}
trap cleanup EXIT

failures=0 checks=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# vg run under the name "wg", so usage lines name the same program.
vgw() { bash -c 'exec -a wg "$0" "$@"' "$VG" "$@"; }

# Runs a command as wg and as vg: stdout, stderr and exit code must match.
same() {
	local what="$*" wrc vrc
	checks=$((checks + 1))
	wg "$@" >"$TMP/w.out" 2>"$TMP/w.err" </dev/null; wrc=$?
	vgw "$@" >"$TMP/v.out" 2>"$TMP/v.err" </dev/null; vrc=$?
	[ "$wrc" = "$vrc" ] || fail "$what: exit $wrc (wg) vs $vrc (vg)"
	cmp -s "$TMP/w.out" "$TMP/v.out" || { fail "$what: stdout differs"; diff "$TMP/w.out" "$TMP/v.out" | head -20; }
	cmp -s "$TMP/w.err" "$TMP/v.err" || { fail "$what: stderr differs"; diff "$TMP/w.err" "$TMP/v.err" | head -20; }
}

# The daemon lists peers in hash-map order, which changes between calls:
# compare line-sorted output (exit codes and stderr still exact).
same_sorted() {
	local what="$*" wrc vrc
	checks=$((checks + 1))
	wg "$@" 2>"$TMP/w.err" </dev/null | sort >"$TMP/w.out"; wrc=${PIPESTATUS[0]}
	vgw "$@" 2>"$TMP/v.err" </dev/null | sort >"$TMP/v.out"; vrc=${PIPESTATUS[0]}
	[ "$wrc" = "$vrc" ] || fail "$what: exit $wrc (wg) vs $vrc (vg)"
	cmp -s "$TMP/w.out" "$TMP/v.out" || { fail "$what: sorted stdout differs"; diff "$TMP/w.out" "$TMP/v.out" | head -20; }
	cmp -s "$TMP/w.err" "$TMP/v.err" || { fail "$what: stderr differs"; diff "$TMP/w.err" "$TMP/v.err" | head -20; }
}

# "show all ...": only the lines of this test's interfaces are compared;
# other interfaces on the machine may change between the two calls.
same_all() {
	local what="show all $*" wrc vrc
	checks=$((checks + 1))
	wg show all "$@" 2>"$TMP/w.err" </dev/null | grep -E "^($A|$B)	" | sort >"$TMP/w.out"
	wrc=${PIPESTATUS[0]}
	vgw show all "$@" 2>"$TMP/v.err" </dev/null | grep -E "^($A|$B)	" | sort >"$TMP/v.out"
	vrc=${PIPESTATUS[0]}
	[ -s "$TMP/w.out" ] || fail "$what: no line for $A or $B"
	[ "$wrc" = "$vrc" ] || fail "$what: exit $wrc (wg) vs $vrc (vg)"
	cmp -s "$TMP/w.out" "$TMP/v.out" || { fail "$what: sorted stdout differs"; diff "$TMP/w.out" "$TMP/v.out" | head -20; }
	cmp -s "$TMP/w.err" "$TMP/v.err" || { fail "$what: stderr differs"; diff "$TMP/w.err" "$TMP/v.err" | head -20; }
}

# Output that shows "N seconds ago" can straddle a second: retry a bit.
same_timed() {
	local i
	for i in 1 2 3; do
		wg "$@" >"$TMP/w.out" 2>&1; vgw "$@" >"$TMP/v.out" 2>&1
		cmp -s "$TMP/w.out" "$TMP/v.out" && { checks=$((checks + 1)); return; }
	done
	fail "$*: output differs"; diff "$TMP/w.out" "$TMP/v.out" | head -20
}

start_daemon() { # netns iface
	ip netns exec "$1" env WG_PROCESS_FOREGROUND=1 LOG_LEVEL=error wireguard-go "$2" \
		>"$TMP/$2.log" 2>&1 &
	pids+=($!)
	for _ in $(seq 50); do
		[ -S "/var/run/wireguard/$2.sock" ] && return 0
		sleep 0.1
	done
	echo "wireguard-go did not create its socket for $2"; cat "$TMP/$2.log"; exit 1
}

ip netns add "$NSA" && ip netns add "$NSB" || exit 1
ip link add vgtva$$ netns "$NSA" type veth peer name vgtvb$$ netns "$NSB" || exit 1
ip -n "$NSA" addr add 192.168.237.1/24 dev vgtva$$
ip -n "$NSB" addr add 192.168.237.2/24 dev vgtvb$$
ip -n "$NSA" link set vgtva$$ up; ip -n "$NSB" link set vgtvb$$ up
ip -n "$NSA" link set lo up; ip -n "$NSB" link set lo up
start_daemon "$NSA" "$A"
start_daemon "$NSB" "$B"
ip -n "$NSA" addr add 10.237.0.1/24 dev "$A"; ip -n "$NSA" link set "$A" up
ip -n "$NSB" addr add 10.237.0.2/24 dev "$B"; ip -n "$NSB" link set "$B" up

umask 077
cd "$TMP" || exit 1

echo "== keys"
"$VG" genkey >ka; "$VG" genkey >kb; "$VG" genpsk >psk
wg pubkey <ka >pa.wg; "$VG" pubkey <ka >pa
cmp -s pa pa.wg || fail "vg pubkey differs from wg pubkey"
"$VG" pubkey <kb >pb
# genkey clamps: re-encoding through wg must not change the key.
"$VG" set "$A" private-key ka
[ "$(wg show "$A" private-key)" = "$(cat ka)" ] || fail "genkey output is not a clamped key"
checks=$((checks + 3))
PA=$(cat pa) PB=$(cat pb)
for i in 1 2 3; do wg genkey | wg pubkey >"p$i"; done

echo "== configure A with vg, B with wg"
"$VG" set "$A" listen-port 51901 fwmark 0x2a private-key ka \
	peer "$PB" preshared-key psk endpoint 192.168.237.2:51902 allowed-ips 10.237.0.2/32,fd37::2/128 \
	persistent-keepalive 25 || fail "vg set"
wg set "$B" listen-port 51902 private-key kb \
	peer "$PA" preshared-key psk endpoint 192.168.237.1:51901 allowed-ips 10.237.0.1/32,fd37::1/128 || fail "wg set"
# The first initiation can race the daemons' link-up; the retry comes 5 s later.
ip netns exec "$NSA" ping -c 1 -w 15 10.237.0.2 >/dev/null || fail "no ping through the tunnel"
ip netns exec "$NSB" ping -c 2 -i 0.2 -W 2 10.237.0.1 >/dev/null || fail "no ping back"
checks=$((checks + 1))

echo "== one peer: exact bytes"
for IF in "$A" "$B"; do
	same_timed show "$IF"
	same show "$IF" dump
	same showconf "$IF"
	for f in public-key private-key listen-port fwmark peers preshared-keys endpoints \
		allowed-ips latest-handshakes persistent-keepalive transfer dump; do
		same show "$IF" "$f"
	done
	WG_COLOR_MODE=always same_timed show "$IF"
	WG_HIDE_KEYS=never same_timed show "$IF"
done

echo "== several peers"
cat >add.conf <<CONF
# extra peers, with comments and odd spacing
[peer]
publickey = $(cat p1)
AllowedIPs = 10.238.0.0/16 , fd38::/48
Endpoint = [fd00::7]:9999
[Peer]
PublicKey=$(cat p2)
PersistentKeepalive = 7
CONF
"$VG" addconf "$A" add.conf || fail "vg addconf"
for f in "" dump peers endpoints allowed-ips latest-handshakes persistent-keepalive transfer preshared-keys; do
	same_sorted show "$A" $f
done
same_sorted showconf "$A"
same_all dump
same_all peers

echo "== show interfaces / all"
# Whole outputs first: grep -q stops reading at the first match, and with
# pipefail a writer killed by SIGPIPE would fail the check.
ifaces=$("$VG" show interfaces)
all=$("$VG" show all)
tr ' ' '\n' <<<"$ifaces" | grep -qx "$A" || fail "vg show interfaces lacks $A"
grep -q "^interface: $A\$" <<<"$all" || fail "vg show all lacks $A"
checks=$((checks + 2))

echo "== setconf / addconf / syncconf: the same daemon state either way"
cat >full.conf <<CONF
[Interface]
PrivateKey = $(cat ka)
ListenPort = 51901
[Peer]
PublicKey = $PB
PresharedKey = $(cat psk)
AllowedIPs = 10.237.0.2/32
Endpoint = 192.168.237.2:51902
[Peer]
PublicKey = $(cat p3)
AllowedIPs = 10.239.0.0/24
CONF
cat >sync.conf <<CONF
[Interface]
PrivateKey = $(cat ka)
ListenPort = 51901
[Peer]
PublicKey = $PB
AllowedIPs = 10.237.0.2/32, fd37::2/128
Endpoint = 192.168.237.2:51902
CONF
state() { wg showconf "$A" | sort; }
for op in setconf addconf syncconf; do
	conf=full.conf; [ $op = syncconf ] && conf=sync.conf
	wg setconf "$A" full.conf; wg addconf "$A" add.conf
	wg "$op" "$A" "$conf" || fail "wg $op"
	state >"want.$op"
	wg setconf "$A" full.conf; wg addconf "$A" add.conf
	"$VG" "$op" "$A" "$conf" || fail "vg $op"
	state >"got.$op"
	checks=$((checks + 1))
	# Debian's wg (1.0.20210914) predates the syncconf fix that clears a
	# preshared key the file no longer has; vg follows current wg there.
	[ $op = syncconf ] && { grep -v '^PresharedKey' "want.$op" >want.tmp; mv want.tmp "want.$op"; }
	cmp -s "want.$op" "got.$op" || { fail "vg $op left another state than wg $op"; diff "want.$op" "got.$op"; }
done
grep -q "$(cat p1)" got.syncconf && fail "syncconf kept a peer the file does not name"
grep -q PresharedKey got.syncconf && fail "syncconf kept a preshared key the file drops"
checks=$((checks + 2))

echo "== configured by wg, read by vg"
wg setconf "$A" full.conf
wg set "$A" peer "$(cat p2)" allowed-ips 10.240.0.1/32 persistent-keepalive 9 endpoint 127.0.0.1:1
same_sorted show "$A" dump
same_sorted showconf "$A"

echo "== host names"
# Endpoint names go through getaddrinfo in both tools: same address.
same set "$A" peer "$PB" endpoint localhost:51902
same_sorted show "$A" endpoints
same set "$A" listen-port domain
same show "$A" listen-port

echo "== errors"
printf '[Interface]\nAddress = 10.0.0.1/24\n' >bad1.conf
printf '[Peer]\nPublicKey = abc\n' >bad2.conf
printf '[Peer]\nAllowedIPs = 10.0.0.1/32\n' >bad3.conf
printf '[Interface]\nListenPort = 70000\n' >bad4.conf
printf '[Peer]\nPublicKey = %s\nEndpoint = [::1:5\n' "$PA" >bad5.conf
printf '[Interface]\nFwMark = 0xfffffffff\n' >bad6.conf
printf '[Peer]\nPublicKey = %s\nPersistentKeepalive = -1\n' "$PA" >bad7.conf
for c in bad1 bad2 bad3 bad4 bad5 bad6 bad7; do
	same setconf "$A" "$c.conf"
	same addconf "$A" "$c.conf"
done
same setconf "$A" /nonexistent/vg.conf
same setconf "$A"
same set "$A" peer not-a-key
same set "$A" listen-port 99999
same set "$A" fwmark 0x1ffffffff
same set "$A" peer "$PB" allowed-ips 10.0.0.0/33
same set "$A" peer "$PB" allowed-ips 10.0.0.256
same set "$A" peer "$PB" endpoint 1.2.3.4
same set "$A" peer "$PB" persistent-keepalive 70000
same set "$A" private-key /nonexistent/key
WG_ENDPOINT_RESOLUTION_RETRIES=bogus same set "$A" peer "$PB" endpoint 1.2.3.4:5
same set "$A" listen-port ""
same set "$A" peer "$PB" endpoint ""
same set "$A" bogus
same set "$A"
same set
same show "$A" bogus-field
same show nosuch$$
same show nosuch$$ dump
same showconf nosuch$$
same set nosuch$$ listen-port 1
same show "$A" dump extra
same show interfaces extra
same showconf
same genkey extra
same genpsk extra
same pubkey extra
checks=$((checks + 1))
for input in "" "short" "$(cat ka)x" "$(cat ka) trailing"; do
	w=$(printf '%s' "$input" | wg pubkey 2>&1); wrc=$?
	v=$(printf '%s' "$input" | vgw pubkey 2>&1); vrc=$?
	[ "$w" = "$v" ] && [ $wrc = $vrc ] || fail "pubkey <<<'$input': '$w'/$wrc vs '$v'/$vrc"
done
wg nosuchcommand 2>&1 | head -1 >w.first; vgw nosuchcommand 2>&1 | head -1 >v.first
vgw nosuchcommand >/dev/null 2>&1 && fail "vg nosuchcommand exited 0"
cmp -s w.first v.first || fail "invalid subcommand message differs"
checks=$((checks + 2))

echo "== stats against a daemon without stats=1"
timeout 10 "$VG" stats "$A" >/dev/null 2>stats.err; rc=$?
[ $rc = 1 ] || fail "vg stats on wireguard-go: exit $rc, want 1"
checks=$((checks + 1))

echo "vg compat: $checks checks, $failures failures"
[ "$failures" -eq 0 ]
