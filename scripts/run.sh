#!/usr/bin/env bash
# The main job.  Until the tunnel daemon lands this builds vguard and runs the
# offload-engine benchmark (split and GRO of 64 KiB super-packets).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
bash scripts/deps.sh
autoreconf -fi
mkdir -p build
(cd build && "$top/configure" >/dev/null && make -j"$(nproc)")
exec build/tools/bench/offload-bench
