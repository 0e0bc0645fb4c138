"""A compiled program against a board's hard limits, checked on the host before anything is
loaded or written.

The check is firmware/limits.py itself, the one the board's engine runs at load time, so host and
device cannot disagree; the board still enforces its own limits whatever the host sends. Its
FirmwareError becomes an InputError (exit 2): one line naming the protocol, the board, the
value and the limit.
"""

import sys

from . import firmware
from .errors import InputError

FIELDS = ("min_width_us", "max_width_us", "min_interval_us", "max_pulses", "max_rate_hz",
          "max_rate_window_s")
# firmware/limits.py imports these by their bare names (the board's flat file system)
_DEPENDS = ("fwerror", "timing", "progformat", "plan")


class BoardLimitError(InputError):
    """The protocol is beyond a board's hard limits (no override lifts a board limit)."""


def _firmware_limits():
    """firmware/limits.py loaded like progformat; its bare-name imports resolve to the same
    firmware files (tmspio._fw.*) only while it loads, so nothing else sees those names."""
    key = "tmspio._fw.limits"
    if key in sys.modules:
        return sys.modules[key]
    saved = dict((name, sys.modules.get(name)) for name in _DEPENDS)
    try:
        for name in _DEPENDS:
            sys.modules[name] = firmware.load(name)
        return firmware.load("limits")
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def summary(limits):
    """The limits as one phrase, e.g. for `tmspio check --board`."""
    return ("pulse width %d..%d us, interval >= %d us, <= %d pulses, <= %d Hz over %d s" % (
        limits["min_width_us"], limits["max_width_us"], limits["min_interval_us"],
        limits["max_pulses"], limits["max_rate_hz"], limits["max_rate_window_s"]))


def check(compiled, limits, board):
    """Raise BoardLimitError naming the first limit `compiled` (compile.Compiled) breaks.

    limits: the board's "limits" object (board file or hello reply); board: its name."""
    missing = [f for f in FIELDS if not isinstance(limits.get(f), int)]
    if missing:
        raise BoardLimitError("board %s: its limits lack %s, so no program can be checked "
                              "against them (limits given: %r)"
                              % (board, ", ".join(missing), limits))
    fw = _firmware_limits()
    err = firmware.load("fwerror").FirmwareError
    try:
        fw.check(compiled.program, limits)
    except err as e:
        raise BoardLimitError("%s: beyond board %s's limits: %s" % (
            compiled.protocol.name, board, e.text)) from None
