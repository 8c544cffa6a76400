#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A running daemon's UDP socket closed underneath it, then replaced by
# another socket (through gdb, as a buggy library or a stray close() in the
# same process would): the daemon reopens its sockets on the same port,
# counts it (udp_socket_reopens), logs it once each time and carries on
# without a restart (README.md, "Faults").
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/tunnel_lib.sh"
require_root
require_cmd ip wg python3 ss gdb
require_dataplane
tunnel_up vguard wg
wait_ping "$NS_A" 10.78.0.2 || fail "no ping"
pa=$(daemon_pid "$IF_A")

# udp_fds: the fds of A's IPv4 sockets on 51820 (one per queue), as ss
# reports them.
udp_fds() {
	in_a ss -H -u -a -n -p 'sport = :51820' | awk '$4 ~ /^0\.0\.0\.0:/' |
		grep -o "pid=$pa,fd=[0-9]*" | cut -d= -f3 | sort -n | paste -sd' ' -
}

# in_daemon EXPR FD...: evaluates the C expression (FD in it stands for
# each fd in turn) inside A's daemon, all while it is stopped.
in_daemon() {
	local expr=$1 fd args=()
	shift
	for fd; do args+=(-ex "call (int)(${expr//FD/$fd})"); done
	gdb -p "$pa" -batch -nx "${args[@]}" >"$_tmp/gdb.log" 2>&1 ||
		{ cat "$_tmp/gdb.log"; fail "gdb: $expr"; }
}

# recovers N: ping both ways within ~10 s and N reopens so far.
recovers() {
	local i n=0
	wait_ping "$NS_A" 10.78.0.2 || fail "no ping from A after the fault"
	wait_ping "$NS_B" 10.78.0.1 || fail "no ping from B after the fault"
	for i in $(seq 1 20); do
		n=$(stat_of "$NS_A" "$IF_A" udp_socket_reopens)
		[ "$n" -ge "$1" ] && break
		sleep 0.2
	done
	[ "$n" -eq "$1" ] || fail "udp_socket_reopens $n, want $1"
	kill -0 "$pa" 2>/dev/null || fail "the daemon is gone"
	[ "$(in_a wg show "$IF_A" listen-port)" = 51820 ] || fail "port changed"
	n=$(grep -c "reopening port 51820" "$_tmp/$IF_A.log")
	[ "$n" -eq "$1" ] || { daemon_log "$IF_A"; fail "$n log lines, want $1"; }
}

fds=$(udp_fds)
[ -n "$fds" ] || fail "no IPv4 socket of A on 51820"
# shellcheck disable=SC2086
in_daemon "close(FD)" $fds
recovers 1
log "sockets $fds closed underneath: reopened on 51820, ping both ways"

# Another socket on the same number: sends would still "work"; the
# once-a-second probe finds it.
fds=$(udp_fds)
[ -n "$fds" ] || fail "no IPv4 socket of A on 51820 after the reopen"
# shellcheck disable=SC2086
in_daemon "dup2((int)socket(2, 2, 0), FD)" $fds
recovers 2
log "sockets $fds replaced underneath: reopened on 51820, ping both ways"
