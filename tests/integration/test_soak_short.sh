#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The soak harness (tools/bench/soak) for two minutes, vguard at both ends:
# TCP streams both ways verified by SHA-256 while both ends rekey every 5 s,
# `vg syncconf` churns extra peers every 3 s, and every 12 s B roams, the
# MTU changes, A's link flaps, A's route to B is blackholed or B restarts.
# Passes when every stream was verified and none broke, no receive gap
# over 1 s fell outside a fault's window, A's RSS grew less than 32 MB and
# its fds by at most 4 after warm-up, and at least 12 handshakes completed.
# The report stays in /tmp/vguard-soak-short.PID.
here=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" -eq 0 ] || { echo "needs root"; exit 77; }
out=/tmp/vguard-soak-short.$$
DURATION=${SOAK_DURATION:-120} FAULT_EVERY=12 REKEY=5 RATE=100 MIN_HANDSHAKES=12 \
	MAX_RSS_KB=32768 MAX_FDS=4 OUT=$out \
	exec "$here/../../tools/bench/soak" "${VGUARD_BUILD:?}"
