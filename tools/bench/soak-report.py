#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The soak harness's report and verdict (tools/bench/soak).

  soak-report.py OUT MIN_HANDSHAKES MAX_RSS_KB MAX_FDS

Reads what tools/bench/soak left in OUT, writes OUT/report.txt (also
printed) and OUT/rate.tsv (epoch second, bytes A->B, bytes B->A), and exits
1 when a stream broke or was corrupted, a receive gap over 1 s fell outside
every fault window (stretched by GRACE seconds after it), A's RSS or fd
count grew past the bounds after warm-up, or there were fewer than
MIN_HANDSHAKES completed handshakes.
"""

import glob
import json
import os
import statistics
import sys


def jsonl(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def params(out):
    p = {}
    with open(os.path.join(out, "params.txt")) as f:
        for line in f:
            w = line.split()
            if w[0] == "peer":
                p["peer"] = " ".join(w[1:])
                continue
            if w[0] == "load":
                p["load"] = " ".join(w[1:])
                continue
            for k, v in zip(w[::2], w[1::2]):
                p[k] = float(v)
    return p


def faults(out):
    path = os.path.join(out, "faults.tsv")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [(float(a), float(b), n) for a, b, n in (line.split() for line in f)]


def allowance(kind, grace, p):
    """How long after a fault a gap may last.  A flap or a restart makes
    one end forget the session while the other keeps it; if the forgetful
    end has nothing to send, the other learns only when its own timer
    starts a handshake (KEEPALIVE_TIMEOUT + REKEY_TIMEOUT, 15 s), and
    TCP's backed-off retransmission comes later still: the protocol's
    own delay, also in the kernel module."""
    if kind in ("flap", "restart"):
        return p.get("grace_reset", 30)
    return grace


def window_of(stall, wins, grace):
    """The fault whose window (stretched by 1 s before, grace after) the
    gap began in, or None."""
    for a, b, n in wins:
        if a - 1 < stall["start"] < b + grace or (stall["start"] <= a - 1 < stall["end"]):
            return (a, b, n)
    return None


def slope(points):
    """Least-squares slope of (t, v) in units per minute."""
    if len(points) < 3:
        return 0.0
    mt = statistics.fmean(t for t, _ in points)
    mv = statistics.fmean(v for _, v in points)
    den = sum((t - mt) ** 2 for t, _ in points)
    return 60 * sum((t - mt) * (v - mv) for t, v in points) / den if den else 0.0


def growth(points):
    k = max(1, min(5, len(points) // 4))
    return (statistics.median(v for _, v in points[-k:]) -
            statistics.median(v for _, v in points[:k]))


def peer_stats(path, key=None):
    with open(path) as f:
        j = json.load(f)
    dev = {k: v for k, v in j.get("device", {}).items() if isinstance(v, int)}
    peers = j.get("peers", [])
    return dev, (peers[0] if peers and key is None else
                 next((p for p in peers if p.get("public_key") == key), {}))


def main(argv):
    out = argv[1]
    min_hs, max_rss, max_fds = int(argv[2]), int(argv[3]), int(argv[4])
    p = params(out)
    grace = p["grace"]
    wins = faults(out)
    lines, bad = [], []
    say = lines.append

    say("soak: %s, %d s, rekey every %d s, a fault every %d s, syncconf every %d s" %
        (p["peer"], p["duration"], p["rekey"], p["fault_every"], p["sync_every"]))
    say("load at start: %s; pacing %d Mbit/s per direction (0 = unpaced)" %
        (p["load"], p["rate_mbit"]))

    canary = [e for e in jsonl(os.path.join(out, "canary.recv.log")) if e["ev"] == "stall"]
    csent = jsonl(os.path.join(out, "canary.send.log"))
    if csent:
        say("canary (A's loopback, no faults): %d streams verified, %d gaps > 1 s, longest %.1f s" %
            (sum(e["ev"] == "verified" for e in csent), len(canary),
             max([c["secs"] for c in canary], default=0)))

    # Streams and bytes.
    rates = {}
    for d in ("a2b", "b2a"):
        sent = jsonl(os.path.join(out, d + ".send.log"))
        recv = jsonl(os.path.join(out, d + ".recv.log"))
        ok = [e for e in sent if e["ev"] == "verified"]
        rok = {e["stream"]: e["sha256"] for e in recv if e["ev"] == "verified"}
        broken = [e for e in sent if e["ev"] == "broken"]
        corrupt = [e for e in sent + recv if e["ev"] == "corrupt"]
        unmatched = [e for e in ok if rok.get(e["stream"]) != e["sha256"]]
        vbytes = sum(e["bytes"] for e in ok)
        cfail = [e for e in sent if e["ev"] == "connect_failed"]
        say("%s: %d streams verified (%.2f GB), %d broken, %d corrupt, %d unmatched; "
            "%d connections not opened (retried)" %
            (d, len(ok), vbytes / 1e9, len(broken), len(corrupt), len(unmatched), len(cfail)))
        for e in broken + corrupt + unmatched:
            say("  %s" % json.dumps(e))
        if broken or corrupt or unmatched or not ok:
            bad.append("%s: streams not all verified" % d)
        series = {}
        path = os.path.join(out, d + ".rate")
        if os.path.exists(path):
            with open(path) as f:
                for line in f:
                    s, n = line.split()
                    series[int(s)] = series.get(int(s), 0) + int(n)
        rates[d] = series
        total = sum(series.values())
        run = [n for t, n in series.items() if p["start"] <= t < p["start"] + p["duration"]]
        say("%s: %.2f GB received, %.0f Mbit/s mean over the run, %d seconds with nothing" %
            (d, total / 1e9, sum(run) * 8 / 1e6 / max(1, len(run)), run.count(0)))

        stalls = [e for e in recv if e["ev"] == "stall"]
        by, unexpected, overlong, host = {}, [], [], []
        for s in stalls:
            w = window_of(s, wins, grace)
            if w and s["end"] <= w[1] + allowance(w[2], grace, p):
                by.setdefault(w[2].split("-")[0], []).append(s["secs"])
            elif any(c["start"] < s["end"] + 0.5 and c["end"] > s["start"] - 0.5
                     for c in canary):
                host.append(s)
            elif w:
                overlong.append((s, w))
            else:
                unexpected.append(s)
        say("%s: %d receive gaps > 1 s: %d in fault windows, %d outlasting theirs, "
            "%d outside any, %d while the loopback canary stalled too" %
            (d, len(stalls), sum(map(len, by.values())), len(overlong),
             len(unexpected), len(host)))
        for k in sorted(by):
            say("  in %s windows: %d, longest %.1f s" % (k, len(by[k]), max(by[k])))
        for s, w in overlong:
            say("  OVERLONG gap %.1f s after %s at t+%.0f s (fault lasted %.1f s, "
                "allowed %d s after it)" % (s["secs"], w[2], w[0] - p["start"], w[1] - w[0],
                                            allowance(w[2], grace, p)))
        for s in unexpected:
            say("  UNEXPECTED gap %.1f s at t+%.0f s" % (s["secs"], s["start"] - p["start"]))
        for s in host:
            say("  host-starved gap %.1f s at t+%.0f s" % (s["secs"], s["start"] - p["start"]))
        if unexpected or overlong:
            bad.append("%s: %d gaps outside the fault windows, %d outlasting them" %
                       (d, len(unexpected), len(overlong)))

    secs = sorted(set(rates["a2b"]) | set(rates["b2a"]))
    with open(os.path.join(out, "rate.tsv"), "w") as f:
        f.write("# epoch\ta2b_bytes\tb2a_bytes\n")
        for s in secs:
            f.write("%d\t%d\t%d\n" % (s, rates["a2b"].get(s, 0), rates["b2a"].get(s, 0)))

    kinds = {}
    for *_, n in wins:
        k = n.split("-")[0]
        kinds[k] = kinds.get(k, 0) + 1
    say("faults: %d (%s)" % (len(wins), ", ".join("%s %d" % kv for kv in sorted(kinds.items()))))

    # Handshakes and drops.
    with open(os.path.join(out, "pub_b")) as f:
        pub_b = f.read().strip()
    dev_a, peer_a = peer_stats(os.path.join(out, "stats_a.json"), pub_b)
    hs = peer_a.get("handshake_responses_received", 0) + peer_a.get("handshake_responses_sent", 0)
    restarts = kinds.get("restart", 0)
    say("A: tx %.2f GB rx %.2f GB; handshakes %d completed (initiations sent %d / received %d, "
        "responses received %d / sent %d), so ~%d rekeys besides the %d after B's restarts" %
        (dev_a.get("tx_bytes", 0) / 1e9, dev_a.get("rx_bytes", 0) / 1e9, hs,
         peer_a.get("handshake_initiations_sent", 0),
         peer_a.get("handshake_initiations_received", 0),
         peer_a.get("handshake_responses_received", 0),
         peer_a.get("handshake_responses_sent", 0), max(0, hs - 1 - restarts), restarts))
    if hs < min_hs:
        bad.append("only %d handshakes, want >= %d" % (hs, min_hs))
    say("A drops: " + (", ".join("%s %d" % (k, v) for k, v in sorted(dev_a.items())
                               if k.startswith("drop_")) or "-"))
    b_files = sorted(glob.glob(os.path.join(out, "stats_b.*.json")))
    if b_files:
        tot = {}
        for path in b_files:
            dev, _ = peer_stats(path)
            for k, v in dev.items():
                tot[k] = tot.get(k, 0) + v
        say("B drops (summed over %d daemons): " % len(b_files) +
            ", ".join("%s %d" % (k, v) for k, v in sorted(tot.items())
                      if k.startswith("drop_")))
    for name in ("syncconf.err", "restart.err"):
        path = os.path.join(out, name)
        if os.path.exists(path) and os.path.getsize(path):
            with open(path) as f:
                errs = f.read().splitlines()
            say("%s: %d lines, first: %s" % (name, len(errs), errs[0]))
            bad.append("%s not empty" % name)
    path = os.path.join(out, "syncconf.tsv")
    if os.path.exists(path):
        with open(path) as f:
            n = [int(line.split()[1]) for line in f]
        say("syncconf: %d runs, %d..%d peers" % (len(n), min(n, default=0), max(n, default=0)))

    # Memory and fds: A lives through the whole run; B restarts.
    # Columns: t, A's rss heap fds, B's pid rss heap fds (heap: RSS outside
    # the workers' batch buffers; older runs have no heap columns).
    samples = []
    with open(os.path.join(out, "samples.tsv")) as f:
        for line in f:
            w = line.split()
            if len(w) == 6:
                w = w[:2] + [w[1]] + w[2:5] + [w[4]] + w[5:]
            if len(w) != 8 or w[1] == "-":
                continue
            b = (w[4], int(w[5]), int(w[6]), int(w[7])) if w[5] != "-" else None
            samples.append((int(w[0]), int(w[1]), int(w[2]), int(w[3]), b))
    warm = p["start"] + min(120, p["duration"] / 4)
    after = [s for s in samples if s[0] >= warm]
    if len(after) >= 3:
        rss = [(s[0], s[1]) for s in after]
        heap = [(s[0], s[2]) for s in after]
        fds = [(s[0], s[3]) for s in after]
        g_rss, g_heap, g_fd = growth(rss), growth(heap), growth(fds)
        say("A RSS after warm-up (t+%d s .. t+%d s): %d -> %d kB, slope %+.1f kB/min "
            "(the workers' batch buffers filling in, bounded by their size)" %
            (rss[0][0] - p["start"], rss[-1][0] - p["start"], rss[0][1], rss[-1][1],
             slope(rss)))
        say("A RSS outside the batch buffers: %d -> %d kB, slope %+.1f kB/min, growth %+d kB"
            % (heap[0][1], heap[-1][1], slope(heap), g_heap))
        say("A fds: %d -> %d (min %d, max %d), slope %+.2f/min" %
            (fds[0][1], fds[-1][1], min(v for _, v in fds), max(v for _, v in fds),
             slope(fds)))
        if g_heap > max_rss:
            bad.append("A's RSS outside the batch buffers grew %d kB (bound %d)" %
                       (g_heap, max_rss))
        if g_fd > max_fds:
            bad.append("A's fds grew by %d (bound %d)" % (g_fd, max_fds))
    else:
        bad.append("too few samples of A after warm-up")
    by_pid = {}
    for s in samples:
        if s[4]:
            by_pid.setdefault(s[4][0], []).append(s[4][1:])
    if by_pid:
        say("B: %d daemons, peak RSS %d..%d kB (outside the batch buffers %d..%d), "
            "peak fds %d..%d" %
            (len(by_pid), min(max(r for r, _, _ in v) for v in by_pid.values()),
             max(max(r for r, _, _ in v) for v in by_pid.values()),
             min(max(h for _, h, _ in v) for v in by_pid.values()),
             max(max(h for _, h, _ in v) for v in by_pid.values()),
             min(max(f for _, _, f in v) for v in by_pid.values()),
             max(max(f for _, _, f in v) for v in by_pid.values())))

    say("verdict: " + ("PASS" if not bad else "FAIL: " + "; ".join(bad)))
    text = "\n".join(lines) + "\n"
    with open(os.path.join(out, "report.txt"), "w") as f:
        f.write(text)
    sys.stdout.write(text)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main(sys.argv)
