"""Line noise for the board's port: malformed frames of every kind, seeded and reproducible.

What a noisy cable, a confused terminal or a hostile program can put on the link: random bytes,
truncated frames, frames with a bad CRC, oversized length fields, well-framed messages of every
type with garbage payloads (valid hello frames among them, so part of the noise lands inside an
open session), and streams rich in the bytes a MicroPython REPL acts on (0x01-0x05, CR, LF) with
Python source lines between them. None of it is the maintenance request: that frame needs its
exact key (docs/wire-protocol.md), which no generator here emits.

    python -m tmspio.tools.noise --port PORT [--frames N] [--seed S]

sends the noise to a board and prints what came back (tests/e2e/test_link_noise.py and
bench/bench_noise.py use blast() on the emulated board).
"""

import argparse
import json
import random
import struct
import sys
import threading
import time

from ..firmware import wire as _wire

wire = _wire()

KINDS = ("random", "truncated", "bad-crc", "oversized", "garbage-payload", "repl")
_HOST_TYPES = [t for t in sorted(wire.NAMES) if t < 0x80 and t != wire.MAINTENANCE]
_REPL_BYTES = b"\x01\x02\x03\x04\x05\r\n"
_REPL_LINES = (
    b"import machine,time;p=machine.Pin(2,machine.Pin.OUT);p.value(1);time.sleep_ms(1);p.value(0)",
    b"import machine;machine.Pin(3,machine.Pin.OUT,value=1)",
    b"raise SystemExit",
)


def _payload(rng, n):
    return bytes(rng.getrandbits(8) for _ in range(n))


def _garbage_frame(rng):
    mtype = rng.choice(_HOST_TYPES + [rng.randrange(256)])
    if mtype == wire.MAINTENANCE:
        mtype = wire.HELLO
    if mtype == wire.HELLO and rng.random() < 0.5:  # a real hello: the noise opens a session
        return wire.frame(mtype, rng.randrange(256), struct.pack("<H", wire.WIRE_VERSION))
    return wire.frame(mtype, rng.randrange(256), _payload(rng, rng.randrange(0, 40)))


def frame(rng, kind):
    """One malformed chunk of the given kind (bytes)."""
    if kind == "random":
        return _payload(rng, rng.randrange(1, 48))
    if kind == "truncated":
        f = _garbage_frame(rng)
        return f[: rng.randrange(1, len(f))]
    if kind == "bad-crc":
        f = bytearray(_garbage_frame(rng))
        i = rng.randrange(1, len(f))
        f[i] ^= 1 << rng.randrange(8)
        return bytes(f)
    if kind == "oversized":
        n = rng.randrange(wire.MAX_PAYLOAD + 1, 1 << 16)
        return struct.pack(
            "<BHBB", wire.START, n, rng.choice(_HOST_TYPES), rng.randrange(256)
        ) + _payload(rng, rng.randrange(0, 16))
    if kind == "garbage-payload":
        return _garbage_frame(rng)
    if kind == "repl":
        parts = []
        for _ in range(rng.randrange(1, 6)):
            if rng.random() < 0.2:
                parts.append(rng.choice(_REPL_LINES))
            parts.append(bytes(rng.choice(_REPL_BYTES) for _ in range(rng.randrange(1, 6))))
        return b"".join(parts)
    raise ValueError("kind %r: one of %s" % (kind, ", ".join(KINDS)))


def frames(n, seed=0):
    """n malformed chunks, kinds in turn, from one seeded generator."""
    rng = random.Random(seed)
    for i in range(n):
        yield frame(rng, KINDS[i % len(KINDS)])


def blast(ser, n, seed=0, quiet_s=1.0, progress=None):
    """Write n malformed chunks to an open serial object while reading whatever comes back,
    then wait until the board has been silent for quiet_s. Returns counts."""
    received = [0]
    done = threading.Event()

    def reader():
        while not done.is_set():
            data = ser.read(4096)
            if data:
                received[0] += len(data)

    t = threading.Thread(target=reader, name="tmspio-noise-rx", daemon=True)
    t.start()
    sent = 0
    start = time.monotonic()
    batch = []
    for i, chunk in enumerate(frames(n, seed)):
        batch.append(chunk)
        if len(batch) == 64 or i == n - 1:
            data = b"".join(batch)
            ser.write(data)
            sent += len(data)
            batch = []
            if progress:
                progress(i + 1, n)
    last, seen = time.monotonic(), received[0]
    while time.monotonic() - last < quiet_s:
        time.sleep(0.05)
        if received[0] != seen:
            last, seen = time.monotonic(), received[0]
    done.set()
    t.join(2)
    return {
        "frames": n,
        "bytes_sent": sent,
        "bytes_received": received[0],
        "seconds": round(time.monotonic() - start, 3),
    }


def main(argv=None):
    from .. import link

    p = argparse.ArgumentParser(
        prog="python -m tmspio.tools.noise",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--port", required=True)
    p.add_argument("--frames", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=0)
    ns = p.parse_args(argv)
    ser = link.open_port(ns.port)
    try:
        result = blast(ser, ns.frames, ns.seed)
    finally:
        ser.close()
    with link.connect(ns.port, hello_timeout=30) as b:
        st = b.status()
        result.update(
            state=st.get("state"),
            pulses_delivered=st.get("pulses_delivered"),
            heap_free=b.info.get("heap_free"),
        )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
