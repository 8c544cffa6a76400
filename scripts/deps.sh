#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs the Debian packages vguard builds, tests and benchmarks with.
# Without --no-install-recommends, wireguard-tools pulls in a kernel image.
set -euo pipefail
pkgs=(build-essential autoconf automake pkg-config libsodium-dev libmnl-dev check
      libssl-dev iproute2 iputils-ping iperf3 wireguard-tools wireguard-go
      clang libclang-rt-dev xz-utils procps python3)
# The NAT selftest (tests/integration/test_selftest_nat.sh) builds its SNAT with nft.
pkgs+=(nftables)
# The socket fault test (tests/integration/test_tunnel_faults.sh) closes a
# running daemon's sockets through gdb.
pkgs+=(gdb)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends "${missing[@]}"
