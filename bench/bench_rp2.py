"""The firmware's figures on the real MicroPython v1.28 rp2 port (a Pico .uf2 booted in rp2040py).

    TMSPIO_RP2_IMAGE=../shared/micropython-rp2/RPI_PICO-v1.28.0.uf2 .venv/bin/python bench/bench_rp2.py

One boot of the image with what `tmspio deploy` writes (main.py left out, so this script owns
the REPL; tmspio.emulator.rp2port) runs, through the raw REPL, what main.py does and then the
command loop (service.Service) with frames handed to it as the host sends them:

* free heap (gc.mem_free after a collection) and the largest free block, after boot and once
  main.py's work is done (Engine(board), import service);
* load (LOAD_BEGIN + 1,020-byte LOAD_DATA frames), verify (LOAD_END: CRC, decode, limits) and
  arm time of 1,000- and 5,000-segment one-channel programs (one pulse per segment, 100 Hz), each
  replacing the previous one, then larger ones until one fails (the largest program that loads
  while the previous one is held, the worst case);
* start() to the first output edge: the script raises GP20, calls engine.start(); the rig logs
  both pad edges in emulated cycles; a second marker (GP21) raised right after GP20 measures one
  Pin.value() call, which is subtracted.

Times are emulated sysclk cycles (rp2040py's Cortex-M0+ instruction timing, 125 MHz; flash
wait states and the XIP cache are not modelled, so a Pico's figures may differ: UNVERIFIED),
read on the board with time.ticks_us() (1 us = 125 cycles) or from the rig's edge log.
The board file is boards/pico.json with max_program_bytes raised to the schema's maximum, so the
heap, not the shipped limit, decides. Prints one JSON line. Takes 10-30 min of wall time.
"""

import json
import os
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "host"))

from tmspio import firmware  # noqa: E402
from tmspio.emulator import rp2port  # noqa: E402

pf = firmware.progformat()
HZ = 125_000_000
MS = HZ // 1000
SIZES = (1000, 5000)
MORE = (6000, 7000, 8000, 10000)  # after SIZES, until one fails
MARK, MARK2 = 20, 21  # free GPIOs on a Pico (pico.json uses 2-6, 10-12, 25)

# A first exec on its own, so the free heap after boot is read before the main script's bytecode
# is in the heap.
BOOT = r"""
import gc
gc.collect()
free = gc.mem_free()
lo, hi = 0, free
while hi - lo > 16:
    mid = (lo + hi) // 2
    try:
        b = bytearray(mid)
        b = None
        lo = mid
    except MemoryError:
        hi = mid
print("HEAP boot", free, lo)
"""

SCRIPT = r"""
import gc, json, os, time
import micropython
from machine import Pin

def largest():
    gc.collect()
    lo, hi = 0, gc.mem_free()
    while hi - lo > 16:
        mid = (lo + hi) // 2
        try:
            b = bytearray(mid)
            b = None
            lo = mid
        except MemoryError:
            hi = mid
    gc.collect()
    return lo

gc.collect()
print("HEAP script", gc.mem_free(), largest())
with open("board.json") as f:
    board = json.load(f)
from engine import Engine
eng = Engine(board)
import service, wire
gc.collect()
print("HEAP engine", gc.mem_free(), largest())
errs = []

def write(data):
    if data[3] in (wire.ERROR, wire.FAULT):
        errs.append(bytes(data))

svc = service.Service(eng, board, write)
seq = [0]

def send(mtype, payload=b""):
    seq[0] = (seq[0] + 1) & 0xFF
    svc.receive(wire.frame(mtype, seq[0], payload))
    if errs:
        raise ValueError(str(errs.pop()[7:-4], "utf-8"))

def chunks(name):
    with open(name, "rb") as f:
        while True:
            c = f.read(1020)
            if not c:
                return
            yield c

def load(name):
    total = os.stat(name)[6]
    crc = 0
    for c in chunks(name):
        crc = wire.crc32(c, crc)
    t0 = time.ticks_us()
    send(wire.LOAD_BEGIN, wire.load_begin(total, crc))
    off = 0
    for c in chunks(name):
        send(wire.LOAD_DATA, wire.load_data(off, c))
        off += len(c)
    t1 = time.ticks_us()
    send(wire.LOAD_END)
    t2 = time.ticks_us()
    send(wire.ARM, wire.u32(0))
    t3 = time.ticks_us()
    send(wire.STOP, b"bench")
    return total, time.ticks_diff(t1, t0), time.ticks_diff(t2, t1), time.ticks_diff(t3, t2)

send(wire.HELLO, bytes([wire.WIRE_VERSION & 0xFF, wire.WIRE_VERSION >> 8]))
for name in NAMES:
    try:
        r = load(name)
        print("LOAD", name, *r)
    except (MemoryError, ValueError) as e:
        print("FAIL", name, repr(e))
        if name in FIRST:
            continue
        break
gc.collect()
print("HEAP after", gc.mem_free(), largest())
# start() to the first edge: a one-pulse program, armed, started right after a marker edge
m1 = Pin(MARK, Pin.OUT, value=0)
m2 = Pin(MARK2, Pin.OUT, value=0)
m1.value(1)
m2.value(1)
send(wire.LOAD_BEGIN, wire.load_begin(os.stat("p1.bin")[6], wire.crc32(open("p1.bin", "rb").read())))
send(wire.LOAD_DATA, wire.load_data(0, open("p1.bin", "rb").read()))
send(wire.LOAD_END)
send(wire.ARM, wire.u32(0))
m1.value(0)
eng.start()
for _ in range(50):
    eng.poll()
    if eng.status()["state"] not in ("armed", "running"):
        break
    time.sleep_ms(2)
print("RUN", eng.status()["state"])
"""


def program(n):
    return pf.encode(pf.Program(HZ, [pf.Channel(0, 0, 0, [(1, MS // 10, 0, 10 * MS, 0)] * n)]))


def measure(image, sizes=SIZES, more=MORE):
    with open(os.path.join(REPO, "boards", "pico.json")) as f:
        cfg = json.load(f)
    cfg["limits"]["max_program_bytes"] = 532480  # boards/schema.json's maximum: the heap decides
    cfg["limits"]["max_pulses"] = 100_000
    with tempfile.TemporaryDirectory() as tmp:
        board_file = os.path.join(tmp, "pico-bench.json")
        with open(board_file, "w") as f:
            json.dump(cfg, f)
        extra = []
        names = []
        for n in tuple(sizes) + tuple(more) + (1,):
            path = os.path.join(tmp, "p%d.bin" % n)
            with open(path, "wb") as f:
                f.write(program(n))
            extra.append(path)
            if n != 1:
                names.append("p%d.bin" % n)
        files = rp2port.flash_files(board_file, os.path.join(tmp, "fs"), boot=False, extra=extra)
        script = (
            SCRIPT.replace("NAMES", repr(names))
            .replace("FIRST", repr(["p%d.bin" % n for n in sizes]))
            .replace("MARK2", str(MARK2))
            .replace("MARK", str(MARK))
        )
        events = os.path.join(tmp, "events.jsonl")
        t0 = time.monotonic()
        out, err = rp2port.run_script(
            image, files, [BOOT, script], board_cfg=cfg, events=events, watch=(MARK, MARK2)
        )
        wall = time.monotonic() - t0
        with open(events) as f:
            edges = [json.loads(line) for line in f if '"edge"' in line]
    return out, err, edges, wall


def summarise(out, edges, wall):
    res = {"where": "rp2040py 0.3.6, MicroPython v1.28.0 RPI_PICO", "wall_s": round(wall)}
    loads = {}
    for line in out.splitlines():
        w = line.split()
        if w[:1] == ["HEAP"]:
            res["heap_free_" + w[1]] = int(w[2])
            res["heap_largest_block_" + w[1]] = int(w[3])
        elif w[:1] == ["LOAD"]:
            n = int(w[1][1:-4])
            loads[n] = {
                "bytes": int(w[2]),
                "load_cycles": int(w[3]) * 125,
                "verify_cycles": int(w[4]) * 125,
                "arm_cycles": int(w[5]) * 125,
            }
        elif w[:1] == ["FAIL"]:
            res.setdefault("fails", []).append(" ".join(w[1:]))
    res["loads"] = loads
    res["largest_loaded_segments"] = max(loads) if loads else None
    m1 = [e for e in edges if e["pin"] == MARK]
    m2 = [e for e in edges if e["pin"] == MARK2]
    trig = [e for e in edges if e["pin"] == 2 and e["level"] == 1]
    if len(m1) >= 2 and m2 and trig:
        call = m2[0]["cycle"] - m1[0]["cycle"]
        raw = trig[-1]["cycle"] - m1[1]["cycle"]
        res["pin_value_call_cycles"] = call
        res["marker_to_first_edge_cycles"] = raw
        res["start_to_first_edge_cycles"] = raw - call
    return res


def main():
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--sizes", default=",".join(map(str, SIZES)), help="segment counts, each loaded"
    )
    ap.add_argument("--more", default=",".join(map(str, MORE)), help="then these, until one fails")
    args = ap.parse_args()
    sizes = [int(x) for x in args.sizes.split(",") if x]
    more = [int(x) for x in args.more.split(",") if x]
    image = rp2port.image_from_env()
    if image is None:
        raise SystemExit(f"set {rp2port.IMAGE_ENV} to a MicroPython .uf2 for the Pico")
    out, err, edges, wall = measure(image, sizes, more)
    sys.stderr.write(out + err[-2000:])
    print(json.dumps(summarise(out, edges, wall)))


if __name__ == "__main__":
    main()
