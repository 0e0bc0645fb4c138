"""tmspio emulate: the emulated board on a pty, for tmspio run --port, mpremote or a terminal."""


import signal
import sys
import threading

from ..errors import InputError

HELP = "start the emulated board on a pseudo-terminal and print its port path"


def add_arguments(p):
    p.add_argument("--speed", default="1", metavar="X",
                   help="emulated/real time ratio (default 1 = real time), or max")
    p.add_argument("--flash", metavar="DIR",
                   help="directory kept as the board's filesystem (default: a fresh temporary "
                        "one with the firmware from this checkout)")
    p.add_argument("--board", default="emulated", help="board file name (default: emulated)")
    p.add_argument("--cpython", action="store_true",
                   help="run the firmware on CPython instead of the MicroPython unix port")
    p.add_argument("--log", metavar="FILE", help="copy everything the board prints to FILE")


def run(args):
    from ..emulator.serial_board import EmulatorError, SerialBoard

    if args.speed != "max":
        try:
            ok = float(args.speed) > 0
        except ValueError:
            ok = False
        if not ok:
            raise InputError(f"--speed = {args.speed!r}: a positive number or max")
    log = open(args.log, "ab") if args.log else None
    try:
        board = SerialBoard(speed=args.speed, flash=args.flash, board=args.board,
                            interpreter="cpython" if args.cpython else None, log=log)
    except EmulatorError as e:
        raise InputError(f"--board = {args.board!r}: {e}") from None
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: done.set())
    with board:
        print(board.path, flush=True)
        print(f"emulated board on {board.path} (flash {board.flash}, speed {args.speed}, "
              f"{board.interpreter}); Ctrl-C to power off", file=sys.stderr,
              flush=True)
        try:
            while not done.wait(0.5):
                if not board.alive():
                    break
        except KeyboardInterrupt:
            pass
    if log:
        log.close()
    return 0



