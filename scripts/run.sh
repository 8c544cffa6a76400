#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The main job: installs what it needs, builds vguard, then runs the
# two-namespace tunnel demo (scripts/demo.sh) as root.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
bash scripts/deps.sh
autoreconf -fi
mkdir -p build
(cd build && "$top/configure" >/dev/null && make -j"$(nproc)")
exec bash scripts/demo.sh build
