"""The real MicroPython rp2 port (a Pico .uf2) in rp2040py, on a pty: `make test-rp2`, the benches.

rp2040py (PyPI, pinned in the dev extra) is an independent RP2040 emulator: Cortex-M0+, bootrom,
flash, USB CDC, GPIO, DMA and PIO. It boots the image users flash (TMSPIO_RP2_IMAGE), so the
firmware meets MicroPython's own `rp2`/`machine` C code instead of our stand-ins (mpy/).

Its flash holds exactly what `tmspio deploy` writes (deploy.build: main.py, every other module
as mpy-cross -march=armv6m output, board.json), as a littlefs image of the Pico's filesystem
region. `RealPortBoard` runs the emulator in a child process (`python -m
tmspio.emulator.rp2port serve ...`) whose USB CDC is a raw pty: the unchanged host (`tmspio
selftest/run --port PATH`, with --timeout-scale) drives it like a Pico. The child answers one
HELLO itself before it prints the port, so the firmware is serving when the host opens it.

The child writes one JSON line per event to `events` (cycles are emulated sysclk cycles at
125 MHz; `sm` = the PIO0 state machines' own cycle counters at that moment):
    {"e": "edge", "pin": p, "level": 0|1, "cycle": c, "sm": [c0, c1, c2, c3]}
    {"e": "drive", "pin": p, "level": 0|1, "cycle": c, "sm": [...]}   (the rig drove an input)
    {"e": "rx"|"tx", "cycle": c, "hex": "..."}   (bytes host -> board / board -> host)
    {"e": "ready", "cycle": c}
Facts of rp2040py this relies on (/work/shared/micropython-rp2/README.md, docs/emulator.md
"The real port"): a state machine executes at most one instruction per CPU instruction, so
emulated nanoseconds are not PIO time, but every SM's `cycles` counter is exact in its own
cycles; a pad does not read back its own output (the rig wires every watched output to itself
and the board's loopback pairs); inputs read their pull unless driven (the rig holds the
e-stop at its run level).

The rig (a dict, JSON on the child's command line):
    "drive": {"pin": level}           held from power-up (the e-stop's run level is added)
    "trigger": {"pin": p, "level": 1, "hold_ns": n}   once a PIO0 SM waits for `level` on pin
                                      p, drive it there for n emulated ns, then back (once)
    "estop": {"pin": p, "level": 1, "count": k, "delay_ns": n}   n emulated ns after the k-th
                                      edge to `level` on output pin p, drive the e-stop active
"""

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

from .. import deploy, firmware

IMAGE_ENV = "TMSPIO_RP2_IMAGE"
ARCH = "armv6m"  # RP2040 (Cortex-M0+): sys.implementation._mpy >> 10 == 4 on the image
SYSCLK = 125_000_000
# Wall seconds per emulated second is 30-50 on an idle machine (shared/micropython-rp2/README.md);
# a shared CI machine is slower still. The host's waits are multiplied by this.
TIMEOUT_SCALE = 100
READY_TIMEOUT_S = 300  # boot + main.py + the first HELLO, wall time (11-50 s measured)


class RealPortError(Exception):
    """The image or rp2040py is missing or the emulated board did not come up."""


def image_from_env():
    """The .uf2 named by TMSPIO_RP2_IMAGE, or None when unset; RealPortError if it is not a
    readable .uf2 file."""
    path = os.environ.get(IMAGE_ENV, "")
    if not path:
        return None
    if not path.endswith(".uf2") or not os.path.isfile(path):
        raise RealPortError(f"{IMAGE_ENV} = {path!r}: not a .uf2 file")
    return os.path.abspath(path)


def available():
    """None if rp2040py and littlefs-python import, else the reason (make install adds both)."""
    try:
        import littlefs  # noqa: F401
        import rp2040py  # noqa: F401
    except ImportError as e:
        return f"{e.name} is not installed (make install: the dev extra pins it)"
    return None


def flash_files(board_file, out_dir, firmware_dir=None, boot=True, extra=()):
    """Exactly what `tmspio deploy` writes (deploy.build for armv6m) into out_dir; returns the
    paths. boot=False leaves main.py out (a script then owns the REPL); extra: more files."""
    os.makedirs(out_dir, exist_ok=True)
    files = deploy.build(firmware_dir or firmware.FIRMWARE_DIR, board_file, out_dir, ARCH)
    names = sorted(n for n in files if boot or n != deploy.BOOT_SCRIPT)
    return [os.path.join(out_dir, n) for n in names] + list(extra)


def littlefs_image(files, path):
    """A littlefs image of the Pico's filesystem region holding `files` (their basenames)."""
    from rp2040py.cli.mklittlefs import build_littlefs_image

    build_littlefs_image(path, files, force=True)
    return path


# ---------------------------------------------------------------------------------------------
# The child process: the emulator, the rig, the pty.


def _level(state):
    # GPIOPinState: LOW 0, HIGH 1, INPUT 2, INPUT_PULL_UP 3, INPUT_PULL_DOWN 4, BUS_KEEPER 5
    return 1 if int(state) in (1, 3) else 0


class _Rig:
    def __init__(self, dev, cfg, rig, log, watch=()):
        self.dev = dev
        self.mcu = dev.mcu
        self.clock = dev.simulator.clock
        self.log = log
        pins = cfg["pins"]
        outs = list(pins["trigger"]) + [pins["marker"]]
        self.wires = {p: [p] for p in outs}  # a pad reads back its own output on the chip
        for a, b in cfg.get("loopback", []):
            self.wires.setdefault(a, []).append(b)
        for p in watch:
            self.wires.setdefault(p, [])
        est = pins["estop"]
        run_level = 0 if cfg["polarity"]["estop"] == "rising" else 1
        self.estop_pin, self.estop_active = est, 1 - run_level
        rig = dict(rig)
        rig["drive"] = dict({str(est): run_level}, **rig.get("drive", {}))
        self.trigger = None
        self.estop = None
        self._trig_alarm = self.clock.create_alarm(self._poll_trigger)
        for p in self.wires:
            self.mcu.gpio[p].add_listener(self._listener(p))
        self.command(rig)

    def command(self, cmd):
        """Apply a rig command (engine-room thread): drive, trigger, estop, mark."""
        for p, v in sorted(cmd.get("drive", {}).items()):
            self.drive(int(p), int(v))
        if cmd.get("trigger"):
            self.trigger = cmd["trigger"]
            self._trig_alarm.schedule(50_000)  # every 50 us of emulated time
        if cmd.get("estop"):
            self.estop = dict(cmd["estop"], seen=0)
        if "mark" in cmd:
            self.write({"e": "mark", "name": cmd["mark"], "cycle": self.cycle()})

    def cycle(self):
        return int(self.clock.nanos * SYSCLK // 1_000_000_000)

    def sm(self):
        return [m.cycles for m in self.mcu.pio[0].machines]

    def write(self, rec):
        self.log.write(json.dumps(rec) + "\n")
        self.log.flush()

    def drive(self, pin, level):
        self.mcu.gpio[pin].set_input_value(bool(level))
        self.write(
            {"e": "drive", "pin": pin, "level": level, "cycle": self.cycle(), "sm": self.sm()}
        )

    def _listener(self, p):
        def changed(value, old):
            lvl = _level(value)
            if lvl == _level(old):
                return
            for d in self.wires[p]:
                self.mcu.gpio[d].set_input_value(bool(lvl))
            self.write(
                {"e": "edge", "pin": p, "level": lvl, "cycle": self.cycle(), "sm": self.sm()}
            )
            es = self.estop
            if es and p == es["pin"] and lvl == es.get("level", 1):
                es["seen"] += 1
                if es["seen"] == es["count"]:
                    self.estop = None
                    alarm = self.clock.create_alarm(
                        lambda: self.drive(self.estop_pin, self.estop_active)
                    )
                    alarm.schedule(es.get("delay_ns", 0))

        return changed

    def _poll_trigger(self):
        tr = self.trigger
        if tr is None:
            return
        pin, level = tr["pin"], tr.get("level", 1)
        for m in self.mcu.pio[0].machines:
            if m.enabled and m.waiting and int(m.wait_type) == 1 and m.wait_index == pin:
                if bool(m.wait_polarity) == bool(level):
                    self.trigger = None
                    self.drive(pin, level)
                    back = self.clock.create_alarm(lambda: self.drive(pin, 1 - level))
                    back.schedule(tr.get("hold_ns", 100_000))
                    return
        self._trig_alarm.schedule(50_000)  # every 50 us of emulated time


def _serve(args):
    from rp2040py.boards import BOARDS, resolve_firmware
    from rp2040py.cli.pty_repl import PtyInteractiveRepl
    from rp2040py.device.mp_device import MicroPythonDevice

    wire = firmware.wire()
    with open(args.board) as f:
        cfg = json.load(f)
    rig = json.loads(args.rig) if args.rig else {}
    log = open(args.events, "w", encoding="utf-8")  # noqa: SIM115 - lives as long as the process

    async def run():
        spec = resolve_firmware(BOARDS["pico"], "micropython", args.image)
        dev = MicroPythonDevice(board=spec, filesystem=args.littlefs)
        r = _Rig(dev, cfg, rig, log)
        state = {"ready": False, "dec": wire.Decoder()}
        ready = asyncio.Event()

        def on_data(data):
            data = bytes(data)
            if not state["ready"]:
                for item in state["dec"].feed(data):
                    if item[0] == "frame" and item[1] == wire.HELLO_R:
                        state["ready"] = True
                        r.write({"e": "ready", "cycle": r.cycle()})
                        ready.set()
                return  # the probe's reply is not the host's
            if args.log_bytes:
                r.write({"e": "tx", "cycle": r.cycle(), "hex": data.hex()})

        repl = PtyInteractiveRepl(
            dev.cdc, dev.simulator, on_quit=dev.simulator.shutdown_request.request, on_data=on_data
        )
        send = repl._send_and_pace

        def from_host(data):
            if args.log_bytes:
                r.write({"e": "rx", "cycle": r.cycle(), "hex": bytes(data).hex()})
            send(data)

        repl._send_and_pace = from_host
        await repl.start()
        await dev.astart(timeout=None)
        # The firmware serves once the engine exists (its e-stop IRQ is enabled) and the
        # command loop reads the port: probe with HELLO frames (no 0x03 byte: main.py may still
        # take Ctrl-C) until one is answered.
        probe = wire.frame(
            wire.HELLO, 0x11, bytes([wire.WIRE_VERSION & 0xFF, wire.WIRE_VERSION >> 8])
        )
        assert 3 not in probe
        alarm = [None]

        def tick():
            if state["ready"]:
                return
            if r.mcu.gpio[r.estop_pin].irq_enable_mask:
                send(probe)
            alarm[0].schedule(50_000_000)  # every 50 ms of board time

        alarm[0] = dev.simulator.clock.create_alarm(tick)
        alarm[0].schedule(1_000_000)
        await ready.wait()
        print("PORT " + repl.slave_path, flush=True)
        shutdown = dev.simulator.shutdown_request
        loop = asyncio.get_running_loop()
        pending = bytearray()

        def on_stdin():
            data = os.read(0, 65536)
            if not data:
                loop.remove_reader(0)
                return
            pending.extend(data)
            while b"\n" in pending:
                i = pending.index(b"\n")
                text = bytes(pending[:i])
                del pending[: i + 1]
                cmd = json.loads(text)
                r.command(cmd)
                r.write({"e": "ack", "n": cmd.get("n")})

        loop.add_reader(0, on_stdin)
        loop.add_signal_handler(signal.SIGTERM, shutdown.request, 0)
        while dev.simulator.executing and not shutdown.event.is_set():
            await asyncio.sleep(0.05)
        if dev.simulator.engine_room_error is not None:
            raise dev.simulator.engine_room_error
        await repl.stop()
        dev.stop()

    asyncio.run(run())
    return 0


class RealPortBoard:
    """The image booted in rp2040py with `tmspio deploy`'s files, on a pty (child process).

    RealPortBoard(image, board_file, rig=None, log_bytes=False); start() -> port path (the
    firmware answered a HELLO); events() -> the event records so far; close()."""

    def __init__(self, image, board_file, rig=None, log_bytes=False, firmware_dir=None):
        self.image = image
        self.board_file = board_file
        self.rig = rig or {}
        self.log_bytes = log_bytes
        self._tmp = tempfile.TemporaryDirectory(prefix="tmspio-rp2-")
        files = flash_files(board_file, os.path.join(self._tmp.name, "fs"), firmware_dir)
        self.files = [os.path.basename(f) for f in files]
        self.littlefs = littlefs_image(files, os.path.join(self._tmp.name, "fs.img"))
        self.events_path = os.path.join(self._tmp.name, "events.jsonl")
        self.proc = None
        self.path = None

    def start(self, timeout=READY_TIMEOUT_S):
        argv = [
            sys.executable, "-m", "tmspio.emulator.rp2port", "serve",
            "--image", self.image, "--board", self.board_file,
            "--littlefs", self.littlefs, "--events", self.events_path,
            "--rig", json.dumps(self.rig),
        ]  # fmt: skip
        if self.log_bytes:
            argv.append("--log-bytes")
        from . import runner

        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=runner.child_setup(),
        )
        line = [None]

        def read():
            line[0] = self.proc.stdout.readline()

        t = threading.Thread(target=read, daemon=True)
        t.start()
        t.join(timeout)
        if not line[0] or not line[0].startswith("PORT "):
            err = self._stop()
            raise RealPortError(
                f"the image {self.image} did not serve tmspio firmware within {timeout} s: "
                + (err.strip().splitlines() or ["(no output)"])[-1]
            )
        self.path = line[0].split(" ", 1)[1].strip()
        return self.path

    def command(self, timeout=60, **cmd):
        """Send a rig command (drive={pin: level}, trigger={...}, estop={...}, mark=name) and
        wait until the board has applied it."""
        self._n = getattr(self, "_n", 0) + 1
        cmd["n"] = self._n
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(r.get("n") == self._n for r in self.events("ack")):
                return
            time.sleep(0.05)
        raise RealPortError(f"rig command {cmd} not applied within {timeout} s")

    def events(self, kind=None, after=None):
        """Event records (of one kind), optionally only those after the mark named `after`."""
        out = []
        on = after is None
        with open(self.events_path, encoding="utf-8") as f:
            for text in f:
                if not text.endswith("\n"):
                    break
                rec = json.loads(text)
                if rec["e"] == "mark" and rec["name"] == after:
                    on = True
                elif on and (kind is None or rec["e"] == kind):
                    out.append(rec)
        return out

    def _stop(self):
        err = ""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            err = self.proc.stderr.read() if self.proc.stderr else ""
            for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
                f.close()
            self.proc = None
        return err

    def close(self):
        self._stop()
        self._tmp.cleanup()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.close()


def run_script(image, files, script, board_cfg=None, events=None, watch=(), timeout=None):
    """Boot the image with `files` on its filesystem (no main.py: flash_files(boot=False)) and
    run `script` (or each of a list of scripts, one raw-REPL exec each, sharing their globals)
    through the raw REPL as mpremote does; returns (stdout, stderr) text.

    board_cfg (a board file's dict): the rig holds the e-stop at its run level and wires the
    outputs as for RealPortBoard; events: a path for its edge log, which also records the
    pins in `watch` (e.g. a GPIO the script raises to mark an instant)."""
    tmp = tempfile.mkdtemp(prefix="tmspio-rp2-")
    try:
        img = littlefs_image(files, os.path.join(tmp, "fs.img"))

        async def run():
            from rp2040py.boards import BOARDS, resolve_firmware
            from rp2040py.device.mp_device import MicroPythonDevice

            spec = resolve_firmware(BOARDS["pico"], "micropython", image)
            dev = MicroPythonDevice(board=spec, filesystem=img)
            log = open(events or os.devnull, "w", encoding="utf-8")  # noqa: SIM115
            try:
                if board_cfg is not None:
                    _Rig(dev, board_cfg, {}, log, watch)
                out, err = b"", b""
                async with dev:
                    for text in [script] if isinstance(script, str) else script:
                        o, e = await dev.aexec(text, timeout=timeout)
                        out, err = out + o, err + e
            finally:
                log.close()
            return out.decode("utf-8", "replace"), err.decode("utf-8", "replace")

        return asyncio.run(run())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m tmspio.emulator.rp2port")
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve", help="boot the image and serve its USB CDC on a pty")
    s.add_argument("--image", required=True)
    s.add_argument("--board", required=True)
    s.add_argument("--littlefs", required=True)
    s.add_argument("--events", required=True)
    s.add_argument("--rig", default="")
    s.add_argument("--log-bytes", action="store_true")
    args = ap.parse_args(argv)
    return _serve(args)


if __name__ == "__main__":
    sys.exit(main())
