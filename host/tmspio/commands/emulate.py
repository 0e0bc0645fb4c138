"""tmspio emulate: the emulated board on a pty, for tmspio run --port, mpremote or a terminal."""

import json
import math
import os
import signal
import sys
import threading

from ..errors import InputError
from ._common import number

HELP = "start the emulated board on a pseudo-terminal and print its port path"


def add_arguments(p):
    p.add_argument(
        "--speed",
        default="1",
        metavar="X",
        help="emulated/real time ratio (default 1 = real time), or max",
    )
    p.add_argument(
        "--flash",
        metavar="DIR",
        help="directory kept as the board's filesystem (default: a fresh temporary one "
        "holding the firmware this tmspio carries, from $TMSPIO_FIRMWARE_DIR, the installed "
        "package or the checkout)",
    )
    p.add_argument("--board", default="emulated", help="board file name (default: emulated)")
    p.add_argument(
        "--cpython",
        action="store_true",
        help="run the firmware on CPython instead of the MicroPython unix port",
    )
    p.add_argument("--log", metavar="FILE", help="copy everything the board prints to FILE")
    rig = p.add_argument_group(
        "test rig (board time, cycle-exact; also TMSPIO_EMU_RIG, see docs/running.md)"
    )
    rig.add_argument(
        "--trigger-every",
        type=float,
        metavar="SECONDS",
        help="drive trigger_in (with the board's polarity) every SECONDS of board "
        "time, the first SECONDS after power-up",
    )
    rig.add_argument(
        "--trigger-count",
        type=int,
        metavar="N",
        help="stop the trigger source after N triggers (default: no end)",
    )
    rig.add_argument(
        "--trigger-width",
        type=float,
        metavar="MS",
        help="active time of each trigger (default 1 ms)",
    )
    rig.add_argument(
        "--confirm-delay",
        type=float,
        metavar="MS",
        help="the emulated stimulator: confirm_in repeats the trigger output of "
        "its loopback jumper MS later (default: the plain jumper)",
    )
    rig.add_argument(
        "--rig-log",
        metavar="FILE",
        help="write every edge of the rig's pins (board cycles) to FILE as JSON lines",
    )


def rig_from_args(args):
    """The rig dict the flags ask for, or None (TMSPIO_EMU_RIG / the board file decide)."""
    if args.trigger_every is None:
        for flag, value in (
            ("--trigger-count", args.trigger_count),
            ("--trigger-width", args.trigger_width),
        ):
            if value is not None:
                raise InputError(f"{flag} = {value}: needs --trigger-every SECONDS")
    rig = {}
    if args.trigger_every is not None:
        if not 0 < args.trigger_every < math.inf:
            raise InputError(f"--trigger-every = {args.trigger_every}: a number of seconds > 0")
        width_ms = 1.0 if args.trigger_width is None else args.trigger_width
        if not 0 < width_ms < args.trigger_every * 1000:
            raise InputError(
                f"--trigger-width = {width_ms:g}: milliseconds > 0 and below "
                f"--trigger-every ({args.trigger_every * 1000:g} ms)"
            )
        src = {"period_s": args.trigger_every}
        if args.trigger_count is not None:
            if args.trigger_count < 1:
                raise InputError(f"--trigger-count = {args.trigger_count}: an integer >= 1")
            src["count"] = args.trigger_count
        if args.trigger_width is not None:
            src["width_s"] = args.trigger_width / 1000
        rig["trigger_source"] = src
    if args.confirm_delay is not None:
        if not 0 < args.confirm_delay < math.inf:
            raise InputError(f"--confirm-delay = {args.confirm_delay}: milliseconds > 0")
        rig["confirm_delay_s"] = args.confirm_delay / 1000
    if args.rig_log is not None:
        rig["log"] = os.path.abspath(args.rig_log)
    return rig or None


def run(args):
    """Serve the board until SIGTERM, SIGHUP or SIGINT (Ctrl-C); every one powers it off at
    once (relay stopped, interpreter killed and reaped, temporary flash removed). SIGTERM
    and SIGHUP end with status 0; SIGINT as every verb's Ctrl-C does (cli.py: 130)."""
    if args.speed != "max":
        value = number("--speed", args.speed, "a positive number or max")  # refuses nan, inf
        if not value > 0:
            raise InputError(f"--speed = {args.speed!r}: a positive number or max")
    rig = rig_from_args(args)
    # From here on a signal only asks for the power-off: no KeyboardInterrupt can land in the
    # middle of starting or stopping the board and leave half of it behind.
    stop = _StopSignals()
    try:
        log = open(args.log, "ab") if args.log else None
        try:
            _serve(args, rig, log, stop)
        finally:
            if log:
                log.close()
    finally:
        stop.restore()
    if stop.signum == signal.SIGINT:
        raise KeyboardInterrupt  # after the power-off: cli.main reports it (exit 130)
    return 0


def _serve(args, rig, log, stop):
    from ..emulator.serial_board import SerialBoard

    board = SerialBoard(
        speed=args.speed,
        flash=args.flash,
        board=args.board,
        interpreter="cpython" if args.cpython else None,
        log=log,
        rig=rig,
    )
    with board:
        print(board.path, flush=True)
        print(
            f"emulated board on {board.path} (flash {board.flash}, speed {args.speed}, "
            f"{board.interpreter}); Ctrl-C to power off",
            file=sys.stderr,
            flush=True,
        )
        extra = {k: v for k, v in board.rig.items() if k != "estop_driver"}
        if extra:
            print(f"test rig: {json.dumps(extra, sort_keys=True)}", file=sys.stderr, flush=True)
        while not stop.event.wait(0.5):
            if not board.alive():
                break


class _StopSignals:
    """SIGTERM, SIGHUP and SIGINT set an event instead of killing or raising (main thread only:
    elsewhere, e.g. cli.main called from a test's thread, the default handlers stay)."""

    SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)

    def __init__(self):
        self.event = threading.Event()
        self.signum = None
        self._old = {}
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                self._old[sig] = signal.signal(sig, self._handle)

    def _handle(self, signum, frame):
        if self.signum is None:
            self.signum = signum
        self.event.set()

    def restore(self):
        for sig, old in self._old.items():
            signal.signal(sig, old)
        self._old = {}
