#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Verified TCP streams for the soak harness (tools/bench/soak).

  soak-traffic.py recv PORT DIR NAME
  soak-traffic.py send HOST PORT DIR NAME UNTIL RATE STREAM_BYTES

The sender opens one TCP connection per stream and sends a 16-byte header
(stream id, length), LENGTH pseudo-random bytes and the SHA-256 of what it
sent.  The receiver hashes what arrived, compares, and answers with one
verdict byte and its own hash; the stream counts as verified only when the
sender gets that answer and the hashes agree on both ends.  A connection
that breaks or makes no progress for IDLE_TIMEOUT seconds is logged as
broken (TCP could not recover it) and the sender opens the next stream;
a connection that cannot be opened (nothing sent yet) is retried.

Both write JSON lines to DIR/NAME.send.log / DIR/NAME.recv.log; the
receiver also writes DIR/NAME.rate (epoch second, bytes received in it)
and logs every gap of more than STALL seconds between two receives.
"""

import hashlib
import json
import os
import random
import socket
import struct
import sys
import threading
import time

CHUNK = 64 << 10
IDLE_TIMEOUT = 60.0
STALL = 1.0
HDR = struct.Struct("<QQ")
MAGIC_OK, MAGIC_BAD = b"V", b"X"


class Log:
    def __init__(self, path):
        self.f = open(path, "a", buffering=1)
        self.lock = threading.Lock()

    def __call__(self, ev, **kw):
        kw["t"] = round(time.time(), 3)
        kw["ev"] = ev
        with self.lock:
            self.f.write(json.dumps(kw) + "\n")


def recv_exact(c, n, on_bytes=None, h=None):
    parts = []
    while n:
        b = c.recv(min(n, 1 << 20))
        if not b:
            raise ConnectionError("closed by peer")
        if on_bytes:
            on_bytes(len(b))
        if h:
            h.update(b)
        else:
            parts.append(b)
        n -= len(b)
    return b"".join(parts)


class Receiver:
    def __init__(self, port, outdir, name):
        self.log = Log(os.path.join(outdir, name + ".recv.log"))
        self.rate = open(os.path.join(outdir, name + ".rate"), "a", buffering=1)
        self.lock = threading.Lock()
        self.last_rx = None
        self.second = int(time.time())
        self.count = 0
        self.port = port

    def on_bytes(self, n):
        now = time.time()
        with self.lock:
            if self.last_rx is not None and now - self.last_rx > STALL:
                self.log("stall", start=round(self.last_rx, 3), end=round(now, 3),
                         secs=round(now - self.last_rx, 3))
            self.last_rx = now
            self.count += n

    def ticker(self):
        while True:
            time.sleep(1 - time.time() % 1)
            sec = int(time.time()) - 1
            with self.lock:
                n, self.count = self.count, 0
            self.rate.write("%d %d\n" % (sec, n))

    def serve(self, c, peer):
        sid = None
        got = 0
        try:
            c.settimeout(IDLE_TIMEOUT)
            sid, length = HDR.unpack(recv_exact(c, HDR.size))
            h = hashlib.sha256()

            def count(n):
                nonlocal got
                got += n
                self.on_bytes(n)
            recv_exact(c, length, count, h)
            sent = recv_exact(c, 32)
            mine = h.digest()
            ok = mine == sent
            c.sendall((MAGIC_OK if ok else MAGIC_BAD) + mine)
            self.log("verified" if ok else "corrupt", stream=sid, bytes=length,
                     sha256=mine.hex())
        except (OSError, ConnectionError, struct.error) as e:
            self.log("broken", stream=sid, bytes=got, error=str(e))
        finally:
            c.close()

    def run(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", self.port))
        s.listen(16)
        threading.Thread(target=self.ticker, daemon=True).start()
        self.log("listening", port=self.port)
        while True:
            c, peer = s.accept()
            threading.Thread(target=self.serve, args=(c, peer), daemon=True).start()


def pattern(seed):
    # A random block read at a different offset for every chunk: cheap, and
    # no two chunks of a stream are alike, so a duplicated or misplaced
    # segment changes the hash.
    return random.Random(seed).randbytes(2 * CHUNK)


def send_stream(c, sid, length, rate, block, clock):
    """Sends one stream; returns its hash.  Raises on a broken connection."""
    try:
        c.settimeout(IDLE_TIMEOUT)
        c.sendall(HDR.pack(sid, length))
        h = hashlib.sha256()
        view = memoryview(block)
        k = 0
        left = length
        while left:
            off = (k * 4099 + sid * 7) % CHUNK
            n = min(left, CHUNK)
            chunk = view[off:off + n]
            h.update(chunk)
            c.sendall(chunk)
            left -= n
            k += 1
            if rate:
                clock[1] += n
                ahead = clock[1] / rate - (time.monotonic() - clock[0])
                if ahead > 0:
                    time.sleep(ahead)
                elif ahead < -2:
                    # Behind after a fault: pace from now on rather than
                    # burst to catch up.
                    clock[0], clock[1] = time.monotonic(), 0
        digest = h.digest()
        c.sendall(digest)
        answer = recv_exact(c, 33)
        if answer[:1] != MAGIC_OK or answer[1:] != digest:
            raise ValueError("receiver's hash %s, sent %s" % (answer[1:].hex(), digest.hex()))
        return digest
    finally:
        c.close()


def sender(host, port, outdir, name, until, rate, stream_bytes):
    log = Log(os.path.join(outdir, name + ".send.log"))
    block = pattern(int.from_bytes(os.urandom(8), "little"))
    sid = int(time.time() * 1000) % (1 << 40)
    # Rate pacing over the whole run (bytes/s), not per stream, so a stream
    # that waited out a fault does not burst to catch up with its own clock.
    clock = [time.monotonic(), 0]
    while time.time() < until:
        sid += 1
        t0 = time.time()
        try:
            c = socket.create_connection((host, port), timeout=IDLE_TIMEOUT)
        except OSError as e:
            # Nothing was sent: a fault's window (the link is down, say).
            log("connect_failed", stream=sid, error=str(e), secs=round(time.time() - t0, 3))
            sid -= 1
            time.sleep(0.2)
            continue
        try:
            d = send_stream(c, sid, stream_bytes, rate, block, clock)
            log("verified", stream=sid, bytes=stream_bytes, secs=round(time.time() - t0, 3),
                sha256=d.hex())
        except ValueError as e:
            log("corrupt", stream=sid, error=str(e))
        except OSError as e:
            log("broken", stream=sid, error=str(e), secs=round(time.time() - t0, 3))
            time.sleep(0.2)
    log("done")


def main(argv):
    if len(argv) == 5 and argv[1] == "recv":
        Receiver(int(argv[2]), argv[3], argv[4]).run()
    elif len(argv) == 9 and argv[1] == "send":
        sender(argv[2], int(argv[3]), argv[4], argv[5], float(argv[6]), float(argv[7]),
               int(argv[8]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
