"""Argument helpers shared by the protocol verbs: values are checked here so a bad value is an
InputError naming the option, never an argparse traceback or a bare usage line."""

import json
import sys

from ..errors import InputError


def integer(option, text, lo, hi, what):
    try:
        value = int(text)
    except (TypeError, ValueError):
        value = None
    if value is None or not lo <= value <= hi:
        raise InputError("%s = %r: %s" % (option, text, what))
    return value


def number(option, text, what):
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise InputError("%s = %r: %s" % (option, text, what)) from None
    if value != value or value in (float("inf"), float("-inf")):
        raise InputError("%s = %r: %s" % (option, text, what))
    return value


def add_link_argument(parser):
    """--timeout-scale for the verbs that talk to a board."""
    parser.add_argument(
        "--timeout-scale",
        metavar="N",
        help="multiply every wait for the board by N, for a board or link slower "
        "than a Pico on USB (default: $TMSPIO_TIMEOUT_SCALE, else 1)",
    )


def link_scale(args):
    """The timeout factor --timeout-scale / $TMSPIO_TIMEOUT_SCALE asks for (InputError if bad)."""
    from ..link import timeout_scale

    return timeout_scale(args.timeout_scale)


def add_board_argument(parser):
    """--board for check and show: the board file's hard limits, as the board checks them."""
    parser.add_argument(
        "--board",
        metavar="NAME",
        help="also check the protocol against this board file's hard limits "
        "(boards/NAME.json or a path; default: no board check, as the board "
        "limits are only known once a board is named or connected)",
    )


def check_board(compiled, board):
    """Raise BoardLimitError (exit 2) if `compiled` is beyond the board file's limits; a
    program above its max_program_bytes passes if it can stream, as `tmspio run` would."""
    from .. import board_limits

    board_limits.check(compiled, board["limits"], board["name"], stream="auto")


def print_json(obj):
    json.dump(obj, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
