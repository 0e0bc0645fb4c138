"""tmspio selftest: loopback timing check of a board, written as a timing certificate."""

import sys

from .. import boards, selftest
from ..errors import InputError
from ._common import add_link_argument, integer, link_scale

HELP = (
    "pulse a trigger output into a capture input (the board's loopback jumper), measure latency "
    "and jitter of every edge and write a timing certificate"
)


def add_arguments(parser):
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--port", help="serial port of the board (default: find the one Pico)")
    where.add_argument(
        "--emulator", action="store_true", help="run on the emulated board (no hardware)"
    )
    parser.add_argument(
        "--board",
        help="board name or board file: the host-side description of the board "
        "(default: the one the board reports; with --emulator: 'emulated')",
    )
    parser.add_argument("--out", metavar="FILE", help="write the certificate (JSON) here")
    parser.add_argument(
        "--tolerance",
        default=str(selftest.DEFAULT_TOLERANCE_CYCLES),
        metavar="CYCLES",
        help="largest peak-to-peak jitter that passes, in system clock cycles "
        "(default %(default)s)",
    )
    parser.add_argument(
        "--yes",
        action="store_true",
        help="confirm that the stimulator is disconnected or disarmed (needed on hardware "
        "when stdin is not a terminal)",
    )
    add_link_argument(parser)


def run(args):
    from .. import link  # pyserial: only when the verb runs

    tolerance = integer(
        "--tolerance", args.tolerance, 0, 2**31 - 1, "a whole number of cycles, 0 or more"
    )
    board = boards.load_board(args.board) if args.board else None
    scale = link_scale(args)
    from ..session import close_board, open_board

    path = boards.board_path(args.board or "emulated") if args.emulator else None
    conn, emu = open_board(args.port, args.emulator, "max", scale=scale, board_file=path)
    try:
        if args.emulator:
            # board time outruns wall time: no heartbeat
            cert = selftest.run_selftest(conn, board, tolerance, heartbeat_ms=0)
        else:
            board = board or boards.load_board(conn.info["board"])
            _confirm_stimulator_disconnected(board, args.yes)
            cert = selftest.run_selftest(
                conn, board, tolerance, heartbeat_ms=link.HEARTBEAT_WALL_MS
            )
    finally:
        close_board(conn, emu)
    for line in boards.loopback_wiring(board or boards.load_board(cert["board"])):
        print("loopback: " + line)
    if args.out:
        selftest.write_certificate(cert, args.out)
        print("certificate: " + args.out)
    print(cert["summary"])
    if cert["verdict"] != "pass":
        raise selftest.SelftestError(
            "self-test failed (%s); check the loopback jumper" % "; ".join(cert["reasons"])
        )
    return 0


def _confirm_stimulator_disconnected(board, yes):
    outs = ", ".join(boards.pin_label(board, out) for out, _ in board["loopback"])
    question = "The self-test pulses %s. Is the stimulator disconnected or disarmed? [y/N] " % outs
    if yes:
        return
    if not sys.stdin.isatty():
        raise InputError(
            "the self-test pulses %s: disconnect or disarm the stimulator, then pass --yes" % outs
        )
    if input(question).strip().lower() not in ("y", "yes"):
        raise InputError("self-test cancelled: the stimulator may still be connected")
