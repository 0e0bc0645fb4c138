"""Benchmark of the host <-> board link (docs/performance.md, "Link").

1. Round-trip time: STATUS request -> reply, N times, host and the real firmware on the emulated
   board (MicroPython unix port, --speed max) over a pty and the relay.
2. Load time of a 10,000-segment program (240 KB): load-begin, 1020-byte load-data chunks each
   acknowledged, load-end with the board's CRC check and engine.load() (decode + limits + plan).
   Also against the fake engine (tests/support/fakefw) to separate transfer from engine.load().
3. Real-time factor of the emulated board on the iTBS demo: 191.84 s of board time (last onset)
   over the wall time of arm -> done, through the whole stack (PIO/DMA model, firmware, link).

Run:  .venv/bin/python bench/bench_link.py [--rtt N]        prints one JSON line
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "support"))

from tmspio import compile, link  # noqa: E402
from tmspio.emulator.serial_board import SerialBoard  # noqa: E402
from tmspio.protocols import parser  # noqa: E402

pf = link.progformat
SYSCLK = 125_000_000


def big_program(n_segments=10_000):
    """One channel, n single-pulse segments of 10 us at 20 ms..~30 ms gaps (within the
    emulated board's limits: 100 Hz, 1 ms minimum interval, 100,000 pulses)."""
    segs = []
    for k in range(n_segments):
        gap = 2_500_000 + (k % 97) * 12_500  # distinct gaps so nothing could merge
        segs.append((1, 1250, 0, gap, 0))
    return pf.Program(SYSCLK, [pf.Channel(0, 0, 1000, segs)])


def rtt(b, n):
    times = []
    for _ in range(n):
        t = time.perf_counter()
        b.status()
        times.append(time.perf_counter() - t)
    return {
        "n": n,
        "median_ms": round(statistics.median(times) * 1e3, 3),
        "p95_ms": round(sorted(times)[int(0.95 * n) - 1] * 1e3, 3),
    }


def load_time(b, prog):
    data = pf.encode(prog)
    t = time.perf_counter()
    out = {"bytes": len(data), "segments": prog.segment_count()}
    try:
        b.load(data)
    except link.BoardRefused as e:  # a result too: the board could not take it
        out["refused"] = str(e)
    out["seconds"] = round(time.perf_counter() - t, 3)
    return out


def itbs_rtf(b):
    c = compile.compile_protocol(parser.resolve("itbs"), SYSCLK)
    b.load(c.program)
    t = time.perf_counter()
    b.run(heartbeat_ms=0)
    st = b.wait(timeout=600)
    wall = time.perf_counter() - t
    board_s = float(c.last_onset())
    return {
        "state": st["state"],
        "pulses_delivered": st["pulses_delivered"],
        "board_seconds": board_s,
        "wall_seconds": round(wall, 2),
        "real_time_factor": round(board_s / wall, 1),
    }


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--rtt", type=int, default=200)
    args = ap.parse_args(argv)
    result = {}
    with SerialBoard(speed="max") as board, link.connect(board.path, hello_timeout=60) as b:
        result["rtt_firmware"] = rtt(b, args.rtt)
        result["load_1k_firmware"] = load_time(b, big_program(1000))
        result["load_10k_firmware"] = load_time(b, big_program())
        result["load_10k_again_firmware"] = load_time(b, big_program())
        result["itbs_emulator"] = itbs_rtf(b)
    from fakeflash import fake_flash  # tests/support: the command loop with the fake engine

    with tempfile.TemporaryDirectory() as tmp:
        flash = fake_flash(os.path.join(tmp, "flash"))
        with (
            SerialBoard(flash=flash, standins=False) as board,
            link.connect(board.path, hello_timeout=30) as b,
        ):
            result["rtt_fake_engine"] = rtt(b, args.rtt)
            result["load_10k_fake_engine"] = load_time(b, big_program())
    print(json.dumps(result))


if __name__ == "__main__":
    main()
