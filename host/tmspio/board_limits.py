"""A compiled program against a board's hard limits, checked on the host before anything is
loaded or written.

The check is firmware/limits.py itself, the one the board's engine runs at load time, so host and
device cannot disagree; the board still enforces its own limits whatever the host sends. Its
FirmwareError becomes an InputError (exit 2): one line naming the protocol, the board, the
value and the limit.

Before that, the program's size against `limits.max_program_bytes`: the most program bytes the
board's heap holds while it loads, checks, arms and runs them (docs/performance.md, "Largest
program"). The board refuses a larger load-begin itself, but only after the host has opened the
run; the host refuses it first, saying by how much it is too large.
"""

from . import firmware
from .errors import InputError

FIELDS = (
    "min_width_us",
    "max_width_us",
    "min_interval_us",
    "max_pulses",
    "max_rate_hz",
    "max_rate_window_s",
)
# optional in a board's limits: a board deployed with an older board file reports none (its
# firmware then allows its built-in 1 MiB, which no RP2040 holds)
SIZE_FIELD = "max_program_bytes"


class BoardLimitError(InputError):
    """The protocol is beyond a board's hard limits (no override lifts a board limit)."""


def _firmware_limits():
    """firmware/limits.py, the board's own check, loaded with its firmware imports."""
    return firmware.load("limits")


def summary(limits, compiled=None):
    """The limits as one phrase, e.g. for `tmspio check --board`; with `compiled`, the program's
    size against the size limit."""
    text = "pulse width %d..%d us, interval >= %d us, <= %d pulses, <= %d Hz over %d s" % (
        limits["min_width_us"],
        limits["max_width_us"],
        limits["min_interval_us"],
        limits["max_pulses"],
        limits["max_rate_hz"],
        limits["max_rate_window_s"],
    )
    limit = limits.get(SIZE_FIELD)
    if isinstance(limit, int):
        if compiled is None:
            text += ", program <= {:,} bytes".format(limit)
        else:
            text += ", program {:,} of <= {:,} bytes".format(program_bytes(compiled), limit)
    return text


def program_bytes(compiled):
    """The size of the program the host would send (progformat.encode), in bytes."""
    return len(compiled.encode())


def segments(compiled):
    return sum(len(ch.segments) for ch in compiled.program.channels)


def check_size(compiled, limit, board, size=None):
    """Raise BoardLimitError if the encoded program is larger than `limit` bytes."""
    size = program_bytes(compiled) if size is None else size
    if size > limit:
        raise BoardLimitError(
            "{}: program {:,} bytes ({:,} segments) is {:,} bytes above board {}'s "
            "limits.{} = {:,}; split the session or use fewer segments".format(
                compiled.protocol.name,
                size,
                segments(compiled),
                size - limit,
                board,
                SIZE_FIELD,
                limit,
            )
        )


def check(compiled, limits, board, max_program_bytes=None):
    """Raise BoardLimitError naming the first limit `compiled` (compile.Compiled) breaks.

    limits: the board's "limits" object (board file or hello reply); board: its name.
    max_program_bytes: the size limit to use when `limits` has none (hello's top-level
    `max_program_bytes`, what that board's firmware enforces)."""
    missing = [f for f in FIELDS if not isinstance(limits.get(f), int)]
    if missing:
        raise BoardLimitError(
            "board %s: its limits lack %s, so no program can be checked "
            "against them (limits given: %r)" % (board, ", ".join(missing), limits)
        )
    limit = limits.get(SIZE_FIELD, max_program_bytes)
    if limit is not None:
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise BoardLimitError(
                "board %s: limits.%s = %r: expected a positive integer "
                "(bytes)" % (board, SIZE_FIELD, limit)
            )
        check_size(compiled, limit, board)
    fw = _firmware_limits()
    err = firmware.load("fwerror").FirmwareError
    try:
        fw.check(compiled.program, limits)
    except err as e:
        raise BoardLimitError(
            "%s: beyond board %s's limits: %s" % (compiled.protocol.name, board, e.text)
        ) from None
