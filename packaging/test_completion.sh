#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The bash completion for vg (packaging/bash-completion/vg), driven the way
# bash drives it, against a stub vg that knows two interfaces and two peers.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

K1=yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=
K2=xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=
cat >"$tmp/vg" <<STUB
#!/bin/sh
case "\$*" in
"show interfaces") echo "wg0 vg1" ;;
"show wg0 peers") printf '%s\n' "$K1" "$K2" ;;
esac
STUB
chmod +x "$tmp/vg"
touch "$tmp/key1" "$tmp/conf.conf"
cd "$tmp"

compopt() { :; }	# outside a real completion it would fail
source "$here/bash-completion/vg"

fails=0
# expect LINE [WANT...]: completes LINE with the cursor at its end and
# compares the candidates, in any order, with WANT.
expect() {
	local line=$1 got want
	shift
	COMP_LINE=$line
	COMP_POINT=${#line}
	# bash's own words: split at blanks and around runs of '=' and ':'.
	read -ra COMP_WORDS <<<"$(sed -E 's/([=:]+)/ \1 /g' <<<"$line")"
	[[ $line == *[[:blank:]] || ${line: -1} == [=:] ]] && COMP_WORDS+=( "" )
	COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
	COMPREPLY=()
	_vg_completion "$tmp/vg" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
	got=$(printf '%s\n' "${COMPREPLY[@]}" | sed '/^$/d' | sort | tr '\n' ' ')
	want=$(printf '%s\n' "$@" | sed '/^$/d' | sort | tr '\n' ' ')
	if [ "$got" != "$want" ]; then
		echo "FAIL: '$line': got [$got], want [$want]"
		fails=$((fails + 1))
	fi
}

expect "vg " help show showconf set setconf addconf syncconf genkey genpsk pubkey stats offload-check
expect "vg sh" show showconf
expect "vg show " wg0 vg1 all interfaces
expect "vg show v" vg1
expect "vg show wg0 " public-key private-key listen-port fwmark peers preshared-keys endpoints \
	allowed-ips latest-handshakes transfer persistent-keepalive dump
expect "vg show all e" endpoints
expect "vg show interfaces "
expect "vg show wg0 dump "
expect "vg showconf " wg0 vg1
expect "vg showconf wg0 "
expect "vg genkey "
expect "vg setconf wg0 co" conf.conf
expect "vg syncconf " wg0 vg1
expect "vg stats " wg0 vg1
expect "vg stats wg0 " --json --prometheus
expect "vg stats wg0 --json "
expect "vg offload-check " --json --no-offload --no-tso --no-uso --no-tcp-gro --no-udp-gro --megabytes
expect "vg offload-check --json --no-tso " --no-offload --no-uso --no-tcp-gro --no-udp-gro --megabytes
expect "vg offload-check --megabytes "
expect "vg set " wg0 vg1
expect "vg set wg0 " listen-port fwmark private-key peer
expect "vg set wg0 listen-port 51820 " fwmark private-key peer
expect "vg set wg0 listen-port "
expect "vg set wg0 private-key k" key1
expect "vg set wg0 peer " "$K1" "$K2"
expect "vg set wg0 peer y" "$K1"
expect "vg set wg0 peer $K1 " preshared-key endpoint allowed-ips persistent-keepalive remove peer
expect "vg set wg0 peer $K1 endpoint [fd77::2]:51821 allowed-ips fd78::/64,10.0.0.0/8 " \
	preshared-key persistent-keepalive remove peer
expect "vg set wg0 peer $K1 endpoint "
expect "vg set wg0 peer $K1 preshared-key k" key1
expect "vg set wg0 peer $K1 remove " peer
expect "vg set wg0 fwmark 0x1 peer $K1 remove peer $K2 " \
	preshared-key endpoint allowed-ips persistent-keepalive remove peer

if [ "$fails" -ne 0 ]; then
	echo "$fails completion case(s) failed"
	exit 1
fi
echo "vg bash completion: all cases pass"
