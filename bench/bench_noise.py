"""Benchmark of the link under line noise (docs/performance.md, "Line noise").

Sends N malformed chunks (tmspio.tools.noise: random bytes, truncated frames, bad CRCs,
oversized lengths, framed garbage of every message type with real hellos among it, streams of
0x01-0x05/CR/LF with Python lines) to the real firmware on the emulated board, reading whatever
comes back, then counts what must stay zero: edges on the trigger output pads (the rig log) and
REPL entries (board resets, a prompt or banner in what the board printed). It then measures the
heap after a garbage collection (hello's heap_free) against the same figure before the noise,
and the round-trip time of STATUS before and after (the baseline in the same run).

Run:  .venv/bin/python bench/bench_noise.py [--frames N] [--seed S]   prints one JSON line
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

from tmspio import link
from tmspio.emulator.serial_board import SerialBoard
from tmspio.tools import noise


def rtt_ms(conn, n=50):
    times = []
    for _ in range(n):
        t = time.perf_counter()
        conn.status()
        times.append((time.perf_counter() - t) * 1000)
    return round(statistics.median(times), 3)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--frames", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=0)
    ns = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="tmspio-bench-noise-") as tmp:
        rig_log = os.path.join(tmp, "rig.jsonl")
        out_path = os.path.join(tmp, "board.out")
        with (
            open(out_path, "wb") as out,
            SerialBoard(speed="max", rig={"log": rig_log}, log=out) as board,
        ):
            with link.connect(board.path, hello_timeout=60) as conn:
                heap_before = conn.info["heap_free"]
                rtt_before = rtt_ms(conn)
            ser = link.open_port(board.path)
            try:
                result = noise.blast(ser, ns.frames, ns.seed)
            finally:
                ser.close()
            with link.connect(board.path, hello_timeout=60) as conn:
                heap_after = conn.info["heap_free"]
                rtt_after = rtt_ms(conn)
                state = conn.status()["state"]
            resets = board.resets
        with open(out_path, "rb") as f:
            printed = f.read()
        with open(rig_log) as f:
            edges = [json.loads(ln) for ln in f if '"trigger[' in ln]
    repl = resets + sum(printed.count(m) for m in (b">>> ", b"MicroPython v", b"Traceback"))
    result.update(
        pad_edges=len(edges),
        repl_entries=repl,
        state_after=state,
        heap_free_before=heap_before,
        heap_free_after=heap_after,
        rtt_ms_before=rtt_before,
        rtt_ms_after=rtt_after,
        chunks_per_s=round(ns.frames / result["seconds"]),
    )
    print(json.dumps(result))
    return 0 if edges == [] and repl == 0 and state == "idle" else 1


if __name__ == "__main__":
    sys.exit(main())
