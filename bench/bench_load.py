"""Load, verify and arm on the emulated board, phase by phase, against a baseline firmware in the
same run (docs/performance.md, "Load, verify and arm").

For each firmware (this checkout's, and the baseline's: `git show REV:firmware/*` into a
temporary flash, its own progformat.py encoding the program) a fresh emulated board
(MicroPython unix port, --speed max, the relay of `tmspio emulate`) gets each workload through
the real command loop over a pty, timed on the host:

  encode    host: progformat.encode(program)
  transfer  LOAD_BEGIN + every 1,020-byte LOAD_DATA, each acknowledged
  check     LOAD_END -> LOADED: the board's CRC-32, SHA-256 and engine.load() (decode, format,
            generator minimums, board limits)
  arm       ARM -> ACK: state machines, DMA, the first 2 x 256 generator words per channel

Workloads (one channel, 125 MHz; the board file is boards/emulated.json with
max_program_bytes raised to 532,480 so the baseline's 24-byte records are allowed):
  jittered_10k   10,000 one-pulse segments, gaps 20..32 ms (bench_link.py's program)
  regular_10k    10,000 segments of 10 pulses at 10 ms, gaps 20..32 ms (100,000 pulses)
  jittered_40k   40,000 one-pulse segments, gaps drawn from 10..20 ms (fixed seed)
  jittered_1k    the first 1,000 of jittered_10k (only with --only: bench_pico_model.py's
                 baseline, which cannot hold the 10,000 in a Pico's heap)

Run:  .venv/bin/python bench/bench_load.py [--baseline REV] [--only NAME]   one JSON line
"""

import argparse
import importlib.util
import json
import os
import random
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "host"))

from tmspio import link  # noqa: E402
from tmspio.emulator.serial_board import SerialBoard, populate_flash  # noqa: E402

BASELINE = "928b2b0"  # main before issue 15 (format v1, per-onset limit walk)
SYSCLK = 125_000_000
MS = 125_000


def workloads():
    rnd = random.Random(15)
    jit40 = [(1, 1250, 0, rnd.randrange(10 * MS, 20 * MS), 0) for _ in range(39_999)]
    jit40.append((1, 1250, 0, 2600, 0))
    return {
        "jittered_1k": [(1, 1250, 0, 2_500_000 + (k % 97) * 12_500, 0) for k in range(1_000)],
        "jittered_10k": [(1, 1250, 0, 2_500_000 + (k % 97) * 12_500, 0) for k in range(10_000)],
        "regular_10k": [
            (10, 1250, 1_250_000, 2_500_000 + (k % 97) * 12_500, 0) for k in range(10_000)
        ],
        "jittered_40k": jit40,
    }


def load_module(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def firmware_dir(rev, tmp):
    """The firmware/ of git revision `rev` in tmp/fw-REV (None: this checkout's)."""
    if rev is None:
        return os.path.join(REPO, "firmware")
    out = os.path.join(tmp, "fw-" + rev)
    os.makedirs(out)
    names = subprocess.check_output(
        ["git", "-C", REPO, "ls-tree", "--name-only", rev, "firmware/"], text=True
    ).split()
    for name in names:
        data = subprocess.check_output(["git", "-C", REPO, "show", "%s:%s" % (rev, name)])
        with open(os.path.join(out, os.path.basename(name)), "wb") as f:
            f.write(data)
    return out


def board_file(tmp):
    with open(os.path.join(REPO, "boards", "emulated.json")) as f:
        board = json.load(f)
    board["limits"]["max_program_bytes"] = 532_480
    path = os.path.join(tmp, "bench-board.json")
    with open(path, "w") as f:
        json.dump(board, f)
    return path


def timed_load(b, data):
    wire = link.wire
    out = {"bytes": len(data)}
    t0 = time.perf_counter()
    try:
        b.request(wire.LOAD_BEGIN, wire.load_begin(len(data), wire.crc32(data) & 0xFFFFFFFF))
        for off in range(0, len(data), link.CHUNK):
            b.request(wire.LOAD_DATA, wire.load_data(off, data[off : off + link.CHUNK]))
        t1 = time.perf_counter()
        b.request(wire.LOAD_END, timeout=600)
        t2 = time.perf_counter()
        b.arm(0)
        t3 = time.perf_counter()
        b.stop("bench")
    except link.BoardRefused as e:
        out["refused"] = str(e)
        return out
    out.update(
        transfer_s=round(t1 - t0, 4),
        check_s=round(t2 - t1, 4),
        arm_s=round(t3 - t2, 4),
        total_s=round(t3 - t0, 4),
    )
    return out


def run_firmware(fw, board, tmp, names):
    names = names or [n for n in workloads() if n != "jittered_1k"]
    pf = load_module(os.path.join(fw, "progformat.py"), "bench_pf_%d" % abs(hash(fw)))
    flash = os.path.join(tmp, "flash-%d" % abs(hash(fw)))
    populate_flash(flash, board, fw)
    result = {}
    with SerialBoard(flash=flash) as sb, link.connect(sb.path, hello_timeout=60) as b:
        for name, segs in workloads().items():
            if names and name not in names:
                continue
            prog = pf.Program(SYSCLK, [pf.Channel(0, 0, 1000, segs)])
            t = time.perf_counter()
            data = pf.encode(prog)
            enc = time.perf_counter() - t
            r = timed_load(b, data)
            r["encode_s"] = round(enc, 4)
            result[name] = r
    return result


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--baseline", default=BASELINE, help="git revision (default %(default)s)")
    ap.add_argument("--only", action="append", help="workload name (repeatable)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        board = board_file(tmp)
        new = run_firmware(firmware_dir(None, tmp), board, tmp, args.only)
        old = run_firmware(firmware_dir(args.baseline, tmp), board, tmp, args.only)
    result = {"baseline": args.baseline, "this": new, "base": old, "ratio_total": {}}
    for name, r in new.items():
        o = old.get(name, {})
        if "total_s" in r and "total_s" in o:
            result["ratio_total"][name] = round(o["total_s"] / r["total_s"], 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
