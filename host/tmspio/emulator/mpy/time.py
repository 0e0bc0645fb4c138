"""`time` of the emulated board: ticks read the board clock, sleeps advance it.

Semantics as MicroPython v1.28 on rp2 (extmod/modtime.c, ports/rp2/mphalport.h): ticks_ms/us/cpu
are masked to 30 bits; ticks_cpu is the same 1 MHz timer as ticks_us (ARM builds); ticks_diff
returns the signed wrapped difference in [-2**29, 2**29); ticks_add raises OverflowError unless
-2**29 < delta < 2**29. The 1 MHz timer runs from the reference clock, so it keeps counting
microseconds when machine.freq() changes sysclk (the stand-in rebases on every change).
time()/time_ns()/localtime()/gmtime()/mktime() pass through to the host clock.

Real-time pacing: TMSPIO_EMU_SPEED="max" (default) lets emulated time run as fast as the
simulator goes; a number s paces sleeps and polls so that emulated time runs at s x real time
(1 = real time). Pacing only ever waits; it never slows the simulator between sleeps.
"""

try:
    import utime as _host  # MicroPython: the built-in, even though this file shadows `time`
except ImportError:
    import time as _host  # CPython package import (the runner aliases utime in a subprocess)

try:
    from . import softirq
    from .rp2040 import board as emuboard
    from .rp2040.statemachine import INF as _INF
except ImportError:
    import softirq
    from rp2040 import board as emuboard
    from rp2040.statemachine import INF as _INF

_PERIOD = 1 << 30  # MICROPY_PY_TIME_TICKS_PERIOD on rp2
_MASK = _PERIOD - 1
_HALF = _PERIOD // 2

# [board, cycle at rebase, microseconds at rebase, sysclk since rebase]
_clock = [None, 0, 0, 0]


def _board():
    return emuboard.current()


def rebase(board=None):
    """Pin the microsecond count to the current cycle (call before sysclk changes)."""
    board = board or _board()
    _clock[2] = now_us_exact(board)
    _clock[0] = board
    _clock[1] = board.cycle
    _clock[3] = board.sysclk


def forget():
    """Drop the clock bookkeeping (when a new board is activated)."""
    _clock[0] = None


def timer_reset(board=None):
    """A chip reset (watchdog) resets the TIMER peripheral: microseconds restart at 0 now."""
    board = board or _board()
    _clock[0], _clock[1], _clock[2], _clock[3] = board, board.cycle, 0, board.sysclk
    _pacing[1] = None


def now_us_exact(board=None):
    """Microseconds since power-up (unmasked; fractions truncated)."""
    board = board or _board()
    if _clock[0] is not board or board.cycle < _clock[1]:
        _clock[0], _clock[1], _clock[2], _clock[3] = board, 0, 0, board.sysclk
    elif board.sysclk != _clock[3]:
        # sysclk changed behind our back (not via machine.freq): rebase at the change we see.
        _clock[2] += (board.cycle - _clock[1]) * 1000000 // _clock[3]
        _clock[1], _clock[3] = board.cycle, board.sysclk
    return _clock[2] + (board.cycle - _clock[1]) * 1000000 // _clock[3]


def ticks_us():
    return now_us_exact() & _MASK


def ticks_ms():
    return (now_us_exact() // 1000) & _MASK


def ticks_cpu():
    return now_us_exact() & _MASK


def ticks_diff(end, start):
    return ((end - start + _HALF) & _MASK) - _HALF


def ticks_add(ticks, delta):
    if not -_HALF < delta < _HALF:
        raise OverflowError("ticks interval overflow")
    return (ticks + delta) & _MASK


def cycles_for_us(us, board=None):
    """sysclk cycles covering `us` microseconds (rounded up: a sleep never ends early)."""
    board = board or _board()
    return (us * board.sysclk + 999999) // 1000000


def sleep_us(us):
    if us > 0:
        advance_us(us)


def sleep_ms(ms):
    if ms >= 0:
        advance_us(ms * 1000)


def sleep(seconds):
    ms = int(1000 * seconds)
    if ms >= 0:
        advance_us(ms * 1000)


def advance_us(us):
    """Run the board for `us` microseconds of emulated time, servicing soft handlers, then pace."""
    board = _board()
    run_servicing(board, cycles_for_us(us, board))
    pace(board)


def run_until(board, predicate, max_cycles):
    """board.run(until=...), except that an idle board just lets the time pass.

    Returns the predicate's final value. Only the board's "idle forever" refusal is absorbed:
    nothing can make the predicate true then, so the wait simply times out.
    """
    limit = board.cycle + max_cycles
    try:
        return board.run(until=predicate, max_cycles=max_cycles)
    except emuboard.EmulatorError as e:
        if not str(e).startswith("run(until=...) can never finish"):
            raise
        board.advance(limit - board.cycle)
        return predicate(board)


def hardware_idle(board):
    """True when nothing on the board can happen until the CPU acts or an input arrives: no
    scheduled callback, external drive or pending pad/IRQ change, the DMA idle and every
    enabled state machine stalled for good (the test of emuboard.Board._idle, except that an
    armed watchdog does not count: the firmware feeds it, and should it expire, the expiry
    still happens at its board cycle). Waits use it to let idle time pass in host time.
    A soft handler can only be queued by one of these events, so none can become due either."""
    # State machines first, PIO0 first (a running session's generators are there: the common
    # answer comes at once), by index: no iterator allocated at every 1 ms slice of a poll.
    sms = board._active
    n = len(sms)
    i = 0
    while i < n:
        if not sms[i].quiet:
            return False
        i += 1
    if board._schedule or board._drives or board._env or board._commit:
        return False
    return board.dma.wake >= _INF


def run_servicing(board, cycles):
    """Advance `cycles`, running soft handlers as soon as one is queued.

    The rp2 port's delay loops (sleep, poll, FIFO waits) service the scheduler while they
    wait, so a soft Pin/PIO/DMA handler runs right after its interrupt, not when the wait ends.
    """
    end = board.cycle + cycles
    softirq.run_pending()
    while board.cycle < end:
        # Only a callback can queue a soft handler, so stopping after each cycle in which
        # one ran is run_until(board, softirq.runnable, ...) without its per-cycle checks.
        board.run_to_callback(end)
        softirq.run_pending()


# ---- real-time pacing -------------------------------------------------------------------

_pacing = [None, None, None]  # [speed (None = max), host seconds at anchor, emulated us at anchor]


def _read_speed():
    try:
        import os

        text = os.getenv("TMSPIO_EMU_SPEED")
    except (ImportError, AttributeError):
        text = None
    if text is None or text == "" or text == "max":
        return None
    try:
        speed = float(text)
    except ValueError:
        raise ValueError(
            "TMSPIO_EMU_SPEED={!r}: expected 'max' or a positive number (1 = real time)".format(
                text
            )
        )
    if not speed > 0:
        raise ValueError(
            "TMSPIO_EMU_SPEED={!r}: expected 'max' or a positive number (1 = real time)".format(
                text
            )
        )
    return speed


def set_speed(speed):
    """None = as fast as possible; s > 0 = emulated time runs at s x real time."""
    if speed is not None and not speed > 0:
        raise ValueError("speed {!r}: expected None or a positive number".format(speed))
    _pacing[0] = speed
    _pacing[1] = None


def speed():
    return _pacing[0]


def host_seconds():
    """Monotonic host time in seconds (float)."""
    if hasattr(_host, "monotonic"):
        return _host.monotonic()
    return _host.time_ns() / 1000000000  # MicroPython unix port: ticks_us would wrap at 2**30


def host_sleep(seconds):
    if seconds > 0:
        _host.sleep(seconds)


def pace(board=None):
    """Wait (host time) until emulated time is no further ahead than the pace allows."""
    if _pacing[0] is None:
        return
    board = board or _board()
    emu = now_us_exact(board)
    host = host_seconds()
    if _pacing[1] is None or emu < _pacing[2]:
        _pacing[1], _pacing[2] = host, emu
        return
    ahead = _pacing[1] + (emu - _pacing[2]) / 1000000 / _pacing[0] - host
    if ahead > 0:
        host_sleep(ahead)


set_speed(_read_speed())


# ---- host-clock passthrough -----------------------------------------------------------------


def time():
    return _host.time()


def time_ns():
    return _host.time_ns()


def localtime(secs=None):
    return _host.localtime() if secs is None else _host.localtime(secs)


def gmtime(secs=None):
    return _host.gmtime() if secs is None else _host.gmtime(secs)


def mktime(t):
    return _host.mktime(t)
