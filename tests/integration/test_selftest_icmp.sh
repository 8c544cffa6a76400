#!/usr/bin/env bash
# Kernel selftest step 15: "return an icmp error along the right route".
# A router (R, vguard) source-NATs a LAN host's (H) packets into its
# tunnel, which has no peer for them: R answers "host unreachable", and the
# error must reach H through the NAT from R's LAN address, the only source
# H's firewall takes from the LAN (the selftest's manual rpfilter).  R's
# own pings get the error from their own address, IPv4 and IPv6, as the
# kernel module sources them (icmp_ndo_send).
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/tunnel_lib.sh"
require_root
require_cmd ip wg ping nft
require_dataplane
umask 077

# H (NS_A) 10.77.0.1 --veth0-- 10.77.0.2 R (NS_B), tunnel 192.168.241.2/24
# and fd00::2/112 without a peer for .1 or ::9.
topo_init
tunnel_keys
echo "$KEY_B" >"$_tmp/kb"
start_daemon "$NS_B" "$IF_B" vguard
in_b wg set "$IF_B" private-key "$_tmp/kb" listen-port 51821 \
	peer "$PUB_A" allowed-ips 192.168.241.99/32
in_b ip addr add 192.168.241.2/24 dev "$IF_B"
in_b ip addr add fd00::2/112 dev "$IF_B" nodad
in_b ip link set "$IF_B" up
in_b sysctl -qw net.ipv4.ip_forward=1
in_b nft -f - <<'NFT' || skip "nft NAT unavailable"
table ip vgnat {
	chain post {
		type nat hook postrouting priority srcnat;
		ip saddr 10.77.0.0/24 ip daddr 192.168.241.0/24 snat to 192.168.241.2
	}
}
NFT
in_a nft -f - <<'NFT'
table ip vgrpf {
	chain in {
		type filter hook input priority 0;
		iifname "veth0" ip saddr != 10.77.0.0/24 drop
	}
}
NFT
in_a ip route add 192.168.241.1 via 10.77.0.2

# ping prints the error's source: "From ADDR icmp_seq=1 Destination ...".
expect_from() { # what, want, ns, ping args...
	local what=$1 want=$2 ns=$3 out i
	shift 3
	for i in 1 2 3 4 5; do
		out=$(ip netns exec "$ns" ping -c 1 -W 1 "$@" 2>&1 || true)
		[[ $out == *"From $want icmp_seq=1 Destination"* ]] && { log "$what: from $want"; return 0; }
		sleep 0.5
	done
	echo "$out"
	daemon_log "$IF_B" | tail -n 20
	fail "$what: want an error from $want"
}

expect_from "LAN host behind the NAT" 10.77.0.2 "$NS_A" 192.168.241.1
expect_from "router's own IPv4 ping" 192.168.241.2 "$NS_B" 192.168.241.9
expect_from "router's own IPv6 ping" fd00::2 "$NS_B" -6 fd00::9
