"""Firmware benchmark: RAM per segment, the largest program a Pico's heap holds, and the time from
the start command to the first output edge.

    .venv/bin/python bench/bench_firmware.py

RAM: each size runs in a fresh MicroPython unix port with `-X heapsize=180K` (about the free heap
of a Pico running MicroPython) holding the engine's fixed DMA buffers (4 generators x 2 x 256
words + 4 captures x 256 words): it reads the program bytes and verifies them as engine.load()
does (progview.decode, words.check_channel, limits.check); the program stays in its bytes. The unix port is a 64-bit build, so its objects are larger than
on the RP2040 (32-bit): the figures are an upper bound for RAM per segment and a lower bound for
the largest program. Start latency: the engine on the emulated board, from start() to the first
pad edge, in cycles.
"""

import json
import os
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "firmware"))
sys.path.insert(0, os.path.join(REPO, "host"))

import progformat as pf  # noqa: E402
from tmspio.emulator import runner  # noqa: E402

HEAP = "180K"
MS = 125_000
W = 12_500

_LOAD = """
import gc, sys
from array import array
import progview, words, limits, plan
LIM = {"min_width_us": 10, "max_width_us": 10000, "min_interval_us": 1000,
       "max_pulses": 10000000, "max_rate_hz": 100, "max_rate_window_s": 10}
bufs = [array("I", range(256)) for _ in range(12)]  # the engine's DMA buffers
gc.collect()
free0 = gc.mem_free()
with open(sys.argv[1], "rb") as f:
    data = f.read()
prog = progview.decode(data)
words.check_channel(prog, 0)
limits.check(prog, LIM)
gc.collect()
print("OK", free0 - gc.mem_free(), free0)
"""


def program(n):
    segs = [(3, W, 20 * MS, 160 * MS, 0)] * n
    return pf.encode(pf.Program(125_000_000, [pf.Channel(0, 0, 0, segs)]))


def load_in_heap(n, tmp):
    path = os.path.join(tmp, "p.bin")
    with open(path, "wb") as f:
        f.write(program(n))
    script = os.path.join(tmp, "load.py")
    with open(script, "w") as f:
        f.write(_LOAD)
    env = dict(os.environ, MICROPYPATH=os.path.join(REPO, "firmware"))
    proc = subprocess.run([runner.micropython_exe(), "-X", "heapsize=" + HEAP, script, path],
                          capture_output=True, text=True, env=env)
    out = proc.stdout.split()
    if proc.returncode == 0 and out[:1] == ["OK"]:
        return int(out[1])
    return None


def start_latency():
    src = """
import json, time, emuboard, progformat
b = emuboard.current()
cfg = json.load(open(%r))
b.drive(cfg["pins"]["estop"], 0)
from engine import Engine
eng = Engine(cfg)
segs = [(1, 12500, 0, 125000, 0)]
eng.load(progformat.encode(progformat.Program(125000000, [progformat.Channel(0, 0, 0, segs)])))
eng.arm()
t0 = b.cycle
eng.start()
b.run(until=lambda bd: bd.level(2) == 1, max_cycles=10**6)
print("LAT", t0, b.cycle)
""" % os.path.join(REPO, "boards", "emulated.json")
    proc = runner.run_script(src)
    for line in proc.stdout.splitlines():
        if line.startswith("LAT"):
            t0, t1 = [int(x) for x in line.split()[1:]]
            return t1 - t0
    raise SystemExit("start latency run failed: " + proc.stderr[-2000:])


def main():
    with tempfile.TemporaryDirectory() as tmp:
        a, b = 100, 1000
        ua, ub = load_in_heap(a, tmp), load_in_heap(b, tmp)
        per_seg = (ub - ua) / (b - a)
        lo, hi = 1, 100_000
        while load_in_heap(hi, tmp) is not None:
            lo, hi = hi, hi * 2
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if load_in_heap(mid, tmp) is not None:
                lo = mid
            else:
                hi = mid
    lat = start_latency()
    result = {"heap": HEAP, "bytes_per_segment": round(per_seg, 1),
              "largest_program_segments": lo, "largest_program_pulses": 3 * lo,
              "program_bytes": len(program(lo)), "start_to_first_edge_cycles": lat}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
