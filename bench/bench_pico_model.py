"""The Pico side of load + verify + arm, on the real MicroPython v1.28 image (RPI_PICO) in the
rp2040py instruction-cycle model (docs/performance.md, "Load, verify and arm": the model).

The firmware as deployed (mpy-cross -march=armv6m) and a program go into the image's
filesystem; a script builds the Engine and the command loop (service.Service) as main.py does,
then feeds the program's LOAD_BEGIN, 1,020-byte LOAD_DATA and LOAD_END frames and ARM straight
into Service.receive() and prints time.ticks_us() around each phase: the board's own work
(frame decoding and copying, CRC-32, SHA-256, engine.load, engine.arm). What the model leaves
out: the USB CDC transfer itself and the command loop's reads. While loading, the loop reads
a frame's 5-byte header and the bytes before it one poll(0) + read(1) at a time and the rest of
the frame in one read (service.Service.bulk_size); `per_byte_poll_us` times a poll(0) + one-byte
extend over stdin (no read(1)), and the model adds 10 of them per frame (`board_total_s`;
the baseline firmware read every byte so: `per_byte_poll_us` x bytes). The bulk read's own
cost per byte (the port's C loop over the USB ring buffer) and the flash XIP cache (rp2040py
counts instruction cycles with no cache misses) are not modelled, so these figures are a lower
bound for a Pico: UNVERIFIED on hardware.

Needs rp2040py in the interpreter running this (`python -m venv /tmp/rp && /tmp/rp/bin/pip
install rp2040py==0.3.6 littlefs-python`):

    /tmp/rp/bin/python bench/bench_pico_model.py [--image RPI_PICO-v1.28.0.uf2] [--baseline]

--baseline: the same with the firmware of bench_load.BASELINE (format v1) and its encoding.
Prints one JSON line; minutes of wall time.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(REPO, "host"))

import bench_load  # noqa: E402

IMAGE = os.path.join(REPO, "..", "shared", "micropython-rp2", "RPI_PICO-v1.28.0.uf2")

_SCRIPT = r"""
import gc, json, time, select, sys
board = json.load(open("board.json"))
from engine import Engine
eng = Engine(board)
import service, wire
sent = []
svc = service.Service(eng, board, lambda d: sent.append(d[3]) if d[3] >= 0xE0 else None)
def us(t):
    return time.ticks_diff(time.ticks_us(), t)
seq = [0]
def send(mtype, payload=b""):
    seq[0] = (seq[0] + 1) & 0xFF
    svc.receive(wire.frame(mtype, seq[0], payload))
    if sent:
        print("REFUSED", mtype)
        raise SystemExit(1)
send(wire.HELLO, bytes([wire.WIRE_VERSION & 0xFF, wire.WIRE_VERSION >> 8]))
import os
total = os.stat("p.bin")[6]
f = open("p.bin", "rb")
crc = 0
while True:
    c = f.read(1020)
    if not c:
        break
    crc = wire.crc32(c, crc)
out = {}
gc.collect()
t = time.ticks_us()
send(wire.LOAD_BEGIN, wire.load_begin(total, crc))
f.seek(0)
off = 0
while True:
    c = f.read(1020)
    if not c:
        break
    send(wire.LOAD_DATA, wire.load_data(off, c))
    off += len(c)
out["frames_us"] = us(t)
t = time.ticks_us()
send(wire.LOAD_END)
out["check_us"] = us(t)
t = time.ticks_us()
send(wire.ARM, wire.u32(0))
out["arm_us"] = us(t)
p = select.poll()
p.register(sys.stdin, select.POLLIN)
buf = bytearray()
b = b"x"
t = time.ticks_us()
for _ in range(1000):
    p.poll(0)
    buf.extend(b)
out["per_byte_poll_us"] = us(t) / 1000
out["bytes"] = total
print("RESULT", json.dumps(out))
"""


def run(fw, data, image, tmp):
    from rp2040py.cli.mklittlefs import build_littlefs_image

    fs = os.path.join(tmp, "fs-%d" % abs(hash(fw)))
    os.makedirs(fs)
    files = []
    for name in sorted(os.listdir(fw)):
        if name.endswith(".py") and name != "main.py":
            dst = os.path.join(fs, name[:-3] + ".mpy")
            subprocess.run(
                [
                    os.path.join(REPO, ".venv", "bin", "mpy-cross"),
                    "-march=armv6m",
                    "-o",
                    dst,
                    os.path.join(fw, name),
                ],
                check=True,
            )
            files.append(dst)
    with open(os.path.join(REPO, "boards", "pico.json")) as f:
        board = json.load(f)
    board["polarity"]["estop"] = "falling"  # rp2040py's inputs float: read active-low
    board["limits"].update(max_program_bytes=532_480, max_pulses=100_000)
    for name, content in (("board.json", json.dumps(board).encode()), ("p.bin", data)):
        files.append(os.path.join(fs, name))
        with open(files[-1], "wb") as f:
            f.write(content)
    img = os.path.join(fs, "fs.img")
    build_littlefs_image(img, files, force=True)
    script = os.path.join(fs, "script.py")
    with open(script, "w") as f:
        f.write(_SCRIPT)
    exe = os.path.join(os.path.dirname(sys.executable), "rp2040py")
    proc = subprocess.run(
        [exe, "micropython", "--image", image, "--littlefs", img, script],
        capture_output=True,
        text=True,
        timeout=7200,
    )
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    return {"failed": (proc.stdout + proc.stderr)[-800:]}


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--image", default=IMAGE)
    ap.add_argument("--baseline", action="store_true")
    ap.add_argument("--workload", default="jittered_10k")
    args = ap.parse_args(argv)
    segs = bench_load.workloads()[args.workload]
    result = {"workload": args.workload, "image": os.path.basename(args.image)}
    with tempfile.TemporaryDirectory() as tmp:
        revs = [None] + ([bench_load.BASELINE] if args.baseline else [])
        for rev in revs:
            fw = bench_load.firmware_dir(rev, tmp)
            pf = bench_load.load_module(os.path.join(fw, "progformat.py"), "pm_pf_%s" % rev)
            data = pf.encode(pf.Program(bench_load.SYSCLK, [pf.Channel(0, 0, 1000, segs)]))
            r = run(fw, data, args.image, tmp)
            if "check_us" in r:
                frames = -(-r["bytes"] // 1020)
                polls = r["bytes"] if rev is not None else 10 * frames
                r["board_total_s"] = round(
                    (r["frames_us"] + r["check_us"] + r["arm_us"]) / 1e6
                    + r["per_byte_poll_us"] * polls / 1e6,
                    3,
                )
            result["this" if rev is None else "base"] = r
    print(json.dumps(result))


if __name__ == "__main__":
    main()
