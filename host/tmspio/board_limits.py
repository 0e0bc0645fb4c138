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

A larger program may stream instead (docs/program-format.md §8; docs/running.md, "Programs
larger than the board"): its start is loaded and the rest sent while it runs. That needs one
channel, an immediate or trigger start and every onset-to-onset interval at least the streaming
bound (firmware/stream.py, which is run here on the whole program); `check(stream=...)` decides
and says why a program that cannot stream is refused. Either way the WHOLE program is judged
against every limit here before anything is sent, and the board checks each piece again.
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
STREAM_CHOICES = ("auto", "always", "never")  # check(stream=...), Session(stream=...), --stream
LOAD, STREAM = "load", "stream"  # what check() decided


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
        size = None if compiled is None else program_bytes(compiled)
        if size is None:
            text += ", program <= {:,} bytes".format(limit)
        elif size > limit:
            text += ", program {:,} bytes, above <= {:,}: streams during the run".format(
                size, limit
            )
        else:
            text += ", program {:,} of <= {:,} bytes".format(size, limit)
    return text


def program_bytes(compiled):
    """The size of the program the host would send (progformat.encode), in bytes."""
    return len(compiled.encode())


def segments(compiled):
    return sum(len(ch.segments) for ch in compiled.program.channels)


def check_size(compiled, limit, board, size=None, why_not_stream=None):
    """Raise BoardLimitError if the encoded program is larger than `limit` bytes.
    why_not_stream: the reason it cannot stream either (stream_refusal), said in the text."""
    size = program_bytes(compiled) if size is None else size
    if size > limit:
        text = (
            "{}: program {:,} bytes ({:,} segments) is {:,} bytes above board {}'s "
            "limits.{} = {:,}".format(
                compiled.protocol.name,
                size,
                segments(compiled),
                size - limit,
                board,
                SIZE_FIELD,
                limit,
            )
        )
        if why_not_stream is not None:
            text += " and cannot stream: " + why_not_stream
        raise BoardLimitError(text + "; split the session or use fewer segments")


def stream_refusal(compiled, limits):
    """None if `compiled` can stream on a board with `limits`, else why not (a phrase): more
    than one channel, a gated start, or an interval below the streaming bound. The bound is
    firmware/stream.py's own check, run on the whole program (every piece the board would get
    is within it: a piece's least interval is never below the whole program's)."""
    prog = compiled.program
    pf = firmware.progformat()
    what = "(a streamed program has one channel and an immediate or trigger start)"
    if len(prog.channels) != 1:
        return "it has %d channels %s" % (len(prog.channels), what)
    if prog.start_mode == pf.START_GATED:
        return "its start is gated " + what
    whole = pf.decode(compiled.encode(), view=True)
    err = firmware.load("fwerror").FirmwareError
    try:
        firmware.load("stream").Stream(whole, limits, whole.pulses())
    except err as e:
        return e.text.replace("loaded program: ", "", 1)
    return None


def check(compiled, limits, board, max_program_bytes=None, stream="never"):
    """Raise BoardLimitError naming the first limit `compiled` (compiler.Compiled) breaks;
    return how it goes to the board: LOAD (whole, before the run) or STREAM.

    limits: the board's "limits" object (board file or hello reply); board: its name.
    max_program_bytes: the size limit to use when `limits` has none (hello's top-level
    `max_program_bytes`, what that board's firmware enforces).
    stream: "never" (a program above the size limit is refused), "auto" (it streams if it
    can, else the refusal says why it cannot) or "always" (it streams whatever its size, or
    is refused saying why it cannot). Every other limit judges the whole program."""
    if stream not in STREAM_CHOICES:
        raise InputError("--stream = %r: allowed %s" % (stream, ", ".join(STREAM_CHOICES)))
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
    size = None if limit is None else program_bytes(compiled)
    streams = stream == "always" or (stream == "auto" and size is not None and size > limit)
    if not streams and limit is not None:
        check_size(compiled, limit, board, size)
    fw = _firmware_limits()
    err = firmware.load("fwerror").FirmwareError
    try:
        fw.check(compiled.program, limits)  # the whole program, however it goes to the board
    except err as e:
        raise BoardLimitError(
            "%s: beyond board %s's limits: %s" % (compiled.protocol.name, board, e.text)
        ) from None
    if not streams:
        return LOAD
    why = stream_refusal(compiled, limits)
    if why is None:
        return STREAM
    if stream == "always":
        raise BoardLimitError(
            "%s: --stream always: it cannot stream on board %s: %s"
            % (compiled.protocol.name, board, why)
        )
    check_size(compiled, limit, board, size, why)
