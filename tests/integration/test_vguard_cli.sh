#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The vguard daemon's process contract (wireguard-go's main.go): exit codes,
# the TUN and a 0700 UAPI socket existing when the command returns, stale
# sockets replaced, live ones refused, exit 0 on SIGTERM/SIGINT, on deletion
# of the socket file and of the interface, exit 1 with one line on setup
# failure.  Runs in its own network namespace; removes everything it made.
set -uo pipefail

: "${VGUARD_BUILD:?VGUARD_BUILD must name the build directory}"
VGUARD=${VGUARD:-$VGUARD_BUILD/tools/vguard}
[ "$(id -u)" -eq 0 ] || { echo "needs root"; exit 77; }
[ -x "$VGUARD" ] || { echo "no $VGUARD"; exit 77; }
[ -c /dev/net/tun ] || { echo "no /dev/net/tun"; exit 77; }
command -v python3 >/dev/null || { echo "needs python3"; exit 77; }

id=$(printf '%x' $$)
NS=vgcli$id
IF=vgc${id}a
IF2=vgc${id}b
SOCKDIR=/var/run/wireguard
pids=()
tmp=$(mktemp -d /tmp/vguard-cli.XXXXXX)

cleanup() {
	local p
	for p in "${pids[@]}" $(ip netns pids "$NS" 2>/dev/null); do
		kill -TERM "$p" 2>/dev/null
	done
	sleep 0.3
	for p in $(ip netns pids "$NS" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
	ip netns del "$NS" 2>/dev/null
	rm -f "$SOCKDIR/$IF.sock" "$SOCKDIR/$IF2.sock"
	rm -rf "$tmp"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok - $*"; }
in_ns() { ip netns exec "$NS" "$@"; }

# A UAPI round trip: prints the reply.
uapi() {
	python3 - "$SOCKDIR/$1.sock" "$2" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode().decode('unicode_escape').encode())
out = b''
while not out.endswith(b'\n\n'):
    b = s.recv(65536)
    if not b:
        break
    out += b
sys.stdout.write(out.decode())
EOF
}

# expect_exit WANT DESCRIPTION CMD...: runs CMD, checks its status and that
# stderr's first line is one "vguard: ..." line.
expect_exit() {
	local want=$1 what=$2 rc; shift 2
	"$@" >"$tmp/out" 2>"$tmp/err"; rc=$?
	[ "$rc" -eq "$want" ] || { cat "$tmp/err"; fail "$what: exit $rc, want $want"; }
	if [ "$want" -ne 0 ]; then
		head -n 1 "$tmp/err" | grep -q '^vguard: ' || { cat "$tmp/err"; fail "$what: no one-line reason"; }
	fi
	ok "$what (exit $rc)"
}

wait_gone() { # pid, seconds
	local i
	for i in $(seq 1 $(( $2 * 10 ))); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}

daemon_pid() { # iface: the background daemon serving it
	local p
	for p in $(ip netns pids "$NS"); do
		tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q -- " $1 *$" && { echo "$p"; return; }
	done
}

ip netns add "$NS" || fail "netns add"

# ---- command line ----
expect_exit 0 "--version" "$VGUARD" --version
grep -q '^vguard v' "$tmp/out" || fail "--version output"
expect_exit 0 "--help" "$VGUARD" --help
grep -q '^Usage: vguard' "$tmp/out" || fail "--help output"
expect_exit 2 "no interface" "$VGUARD"
grep -q '^Usage: vguard' "$tmp/err" || fail "usage after the reason"
expect_exit 2 "unknown option" "$VGUARD" --bogus "$IF"
expect_exit 2 "two interfaces" "$VGUARD" a b
expect_exit 2 "--queues 0" "$VGUARD" --queues 0 "$IF"
expect_exit 2 "--queues 257" "$VGUARD" --queues=257 "$IF"
grep -q 'from 1 to 256' "$tmp/err" || fail "--queues 257: $(head -n 1 "$tmp/err")"
expect_exit 2 "--queues without a value" "$VGUARD" "$IF" --queues
expect_exit 2 "name too long" "$VGUARD" abcdefghijklmnopq
expect_exit 2 "--udp-rcvbuf 10" "$VGUARD" --udp-rcvbuf 10 "$IF"
grep -q 'from 64K to 1G' "$tmp/err" || fail "--udp-rcvbuf 10: $(head -n 1 "$tmp/err")"
expect_exit 2 "VGUARD_UDP_RCVBUF=2G" env VGUARD_UDP_RCVBUF=2G "$VGUARD" "$IF"

# ---- background start: everything exists when the command returns ----
# The directory's mode is ours to check only if the daemon makes it (an
# administrator or wg-quick may have made it 0700 before).
made_dir=true; [ -d "$SOCKDIR" ] && made_dir=false
expect_exit 0 "background start" in_ns "$VGUARD" --queues 2 --udp-rcvbuf 256K "$IF"
[ -S "$SOCKDIR/$IF.sock" ] || fail "no socket right after return"
[ "$(stat -c %a "$SOCKDIR/$IF.sock")" = 700 ] || fail "socket mode $(stat -c %a "$SOCKDIR/$IF.sock")"
! $made_dir || [ "$(stat -c %a "$SOCKDIR")" = 755 ] || fail "socket dir mode $(stat -c %a "$SOCKDIR")"
in_ns ip link show "$IF" >/dev/null || fail "no interface right after return"
ok "socket (0700 in a 0755 dir) and interface exist on return"
pid=$(daemon_pid "$IF")
[ -n "$pid" ] || fail "no background process"
pids+=("$pid")
[ "$(readlink "/proc/$pid/fd/1")" = /dev/null ] || fail "stdout not /dev/null without LOG_LEVEL"
tr '\0' '\n' <"/proc/$pid/environ" | grep -qx 'WG_PROCESS_FOREGROUND=1' || fail "child env"
ok "background process $pid: stdio on /dev/null, WG_PROCESS_FOREGROUND=1"

reply=$(uapi "$IF" 'set=1\nlisten_port=51999\nfwmark=7\n\nget=1\n\n')
[ "$reply" = "$(printf 'errno=0\n\nlisten_port=51999\nfwmark=7\nerrno=0')" ] || fail "uapi reply: $reply"
# --udp-rcvbuf 256K: the kernel doubles it, on every socket of the port
# (open while the link is up).
in_ns ip link set "$IF" up
for _ in 1 2 3 4 5 6 7 8 9 10; do
	rb=$(in_ns ss -uamnH "sport = :51999" | grep -o 'rb[0-9]*' | sort -u | tr '\n' ' ')
	[ -n "$rb" ] && break
	sleep 0.1
done
in_ns ip link set "$IF" down
[ "$rb" = "rb524288 " ] || fail "receive buffers with --udp-rcvbuf 256K: $rb"
ok "--udp-rcvbuf sets the sockets' receive buffer"
if command -v wg >/dev/null; then
	key=$(wg genkey); peer=$(wg genkey | wg pubkey)
	in_ns wg set "$IF" private-key <(echo "$key") peer "$peer" allowed-ips 10.9.0.0/24 \
		endpoint 192.0.2.1:51820 || fail "wg set"
	in_ns wg show "$IF" dump >"$tmp/dump" || fail "wg show dump"
	grep -q "^$peer	(none)	192.0.2.1:51820	10.9.0.0/24	0	0	0	off$" "$tmp/dump" ||
		{ cat "$tmp/dump"; fail "wg show dump content"; }
	ok "wg set / wg show dump against the daemon"
fi
reply=$(uapi "$IF" 'set=1\nlisten_port=x\n\n')
[ "$reply" = "$(printf 'errno=-22')" ] || fail "bad set reply: $reply"
ok "bad set gets errno=-22, daemon keeps serving"

# ---- a live socket is refused, the running daemon untouched ----
expect_exit 1 "second daemon on a live socket" in_ns "$VGUARD" "$IF"
grep -q 'in use' "$tmp/err" || fail "reason: $(cat "$tmp/err")"
kill -0 "$pid" || fail "first daemon died"
[ "$(in_ns cat /sys/class/net/$IF/mtu)" = 1420 ] || fail "MTU touched"
uapi "$IF" 'get=1\n\n' | grep -q '^listen_port=51999$' || fail "first daemon not serving"

# ---- deleting the socket stops the background daemon ----
rm -f "$SOCKDIR/$IF.sock"
wait_gone "$pid" 5 || fail "daemon still running after socket deletion"
sleep 0.2
in_ns ip link show "$IF" >/dev/null 2>&1 && fail "interface left after exit"
ok "socket deletion stops the daemon and removes the interface"

# ---- more queues than the CPUs: the kernel's TUN gets every one ----
expect_exit 0 "--queues 16" in_ns "$VGUARD" --queues 16 "$IF"
pid=$(daemon_pid "$IF")
[ -n "$pid" ] || fail "--queues 16: no background process"
pids+=("$pid")
# The background process attaches the queues after the command returns.
for _ in $(seq 1 50); do
	nq=$(in_ns ls "/sys/class/net/$IF/queues" | grep -c '^rx-')
	[ "$nq" -eq 16 ] && break
	sleep 0.1
done
[ "$nq" -eq 16 ] || fail "--queues 16: the TUN has $nq queues"
nfd=$(grep -lx "iff:[[:space:]]*$IF" /proc/"$pid"/fdinfo/* 2>/dev/null | wc -l)
[ "$nfd" -eq 16 ] || fail "--queues 16: the daemon holds $nfd TUN fds"
uapi "$IF" 'get=1\n\n' | grep -qx 'errno=0' || fail "--queues 16: not serving"
rm -f "$SOCKDIR/$IF.sock"
wait_gone "$pid" 5 || fail "--queues 16: daemon still running after socket deletion"
sleep 0.2
in_ns ip link show "$IF" >/dev/null 2>&1 && fail "--queues 16: interface left after exit"
ok "--queues 16: the TUN has 16 queues, one fd each in the daemon"

# ---- WG_TUN_FD / WG_UAPI_FD: the caller's TUN and socket are used ----
in_ns python3 - "$VGUARD" "$IF" "$SOCKDIR/$IF.sock" <<'PY' || fail "passed fds: vguard failed"
import fcntl, os, socket, struct, subprocess, sys
vguard, name, path = sys.argv[1:4]
IFF_TUN, IFF_NO_PI, IFF_VNET_HDR, IFF_MULTI_QUEUE = 0x1, 0x1000, 0x4000, 0x100
tun = os.open("/dev/net/tun", os.O_RDWR)
fcntl.ioctl(tun, 0x400454ca, struct.pack("16sH", name.encode(),
            IFF_TUN | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE))
os.makedirs(os.path.dirname(path), exist_ok=True)
s = socket.socket(socket.AF_UNIX)
s.bind(path)
s.listen(16)
env = dict(os.environ, WG_TUN_FD=str(tun), WG_UAPI_FD=str(s.fileno()))
sys.exit(subprocess.run([vguard, name], env=env, pass_fds=(tun, s.fileno())).returncode)
PY
pid=$(daemon_pid "$IF")
[ -n "$pid" ] || fail "passed fds: no background process"
pids+=("$pid")
uapi "$IF" 'set=1\nfwmark=9\n\nget=1\n\n' | grep -qx 'fwmark=9' || fail "passed fds: not serving"
in_ns ip link show "$IF" >/dev/null || fail "passed fds: interface gone with the caller"
rm -f "$SOCKDIR/$IF.sock"
wait_gone "$pid" 5 || fail "passed fds: daemon still running after socket deletion"
ok "WG_TUN_FD and WG_UAPI_FD honoured by the background start"

# ---- foreground: exit statuses ----
fg_start() { # iface, extra env...
	local ifname=$1; shift
	env "$@" ip netns exec "$NS" "$VGUARD" -f "$ifname" >"$tmp/fg.log" 2>&1 &
	fgpid=$!
	local i
	for i in $(seq 1 50); do
		[ -S "$SOCKDIR/$ifname.sock" ] && return 0
		kill -0 "$fgpid" 2>/dev/null || { cat "$tmp/fg.log"; fail "foreground daemon exited at start"; }
		sleep 0.1
	done
	fail "foreground daemon: no socket"
}
fg_expect() { # description
	local rc
	wait_gone "$fgpid" 5 || fail "$1: still running"
	wait "$fgpid"; rc=$?
	[ "$rc" -eq 0 ] || { cat "$tmp/fg.log"; fail "$1: exit $rc"; }
	[ -e "$SOCKDIR/$IF.sock" ] && fail "$1: socket left behind"
	ok "$1: exit 0, socket removed"
}

fg_start "$IF" LOG_LEVEL=verbose
# The socket exists before the device starts; the offload line follows.
for _ in $(seq 1 50); do grep -q 'Device started' "$tmp/fg.log" && break; sleep 0.1; done
grep -q 'Offloads: tso=' "$tmp/fg.log" || { cat "$tmp/fg.log"; fail "no offload line in the log"; }
ok "LOG_LEVEL=verbose logs the offloads at start"
kill -TERM "$fgpid"; fg_expect "SIGTERM"
fg_start "$IF"
kill -INT "$fgpid"; fg_expect "SIGINT"
fg_start "$IF"
rm -f "$SOCKDIR/$IF.sock"; fg_expect "socket deletion"
fg_start "$IF"
in_ns ip link del "$IF"; fg_expect "ip link del"

# ---- a stale socket is replaced ----
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$SOCKDIR/$IF.sock"
[ -S "$SOCKDIR/$IF.sock" ] || fail "could not make a stale socket"
fg_start "$IF"
uapi "$IF" 'get=1\n\n' | grep -qx 'errno=0' || fail "not serving on the replaced socket"
ok "stale socket replaced"
kill -TERM "$fgpid"; fg_expect "SIGTERM after replacing a stale socket"

# ---- setup failures: exit 1, one line, nothing left behind ----
in_ns ip link add "$IF2" type veth peer name "${IF2}p" || fail "veth"
expect_exit 1 "name taken by a non-TUN interface" in_ns "$VGUARD" "$IF2"
[ -e "$SOCKDIR/$IF2.sock" ] && fail "socket left after a failed start"
expect_exit 1 "bad WG_TUN_FD" env WG_TUN_FD=x ip netns exec "$NS" "$VGUARD" -f "$IF"
expect_exit 1 "WG_TUN_FD not a TUN" env WG_TUN_FD=0 ip netns exec "$NS" "$VGUARD" -f "$IF" </dev/null
[ -e "$SOCKDIR/$IF.sock" ] && fail "socket left after a failed start"

echo "all vguard CLI checks passed"
