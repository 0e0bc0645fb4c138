"""`select.poll` of the emulated board: waiting for input advances the board clock.

`poll(timeout_ms)` checks the real objects (stdin, a pty) without blocking, then advances the
board in 1 ms slices of emulated time until an object is ready or the timeout has passed,
running soft handlers and pacing (TMSPIO_EMU_SPEED, see time.py) between slices. So a firmware
loop that polls stdin with a timeout sees emulated time pass exactly as on the board.
With an infinite timeout (-1) and speed "max", each slice also waits up to 1 ms of host time
for input instead of spinning: emulated time then runs at most at about real time while the
board has nothing to do but wait for the host.

An idle board (time.hardware_idle: nothing scheduled, no drive, DMA idle, every enabled state
machine stalled for good) cannot end the wait by itself: only host input or the timeout can.
Then the poll waits for input in host time, in one host poll of up to the remaining timeout
(at most IDLE_WAIT_MS), and advances the board by the host time that passed: x speed, or real
time at "max". So an idle board costs almost no host CPU at any speed, and emulated time runs
at "max" only while the hardware has something to do (a running session is not slowed).
A busy poll looks for idleness at its start and every IDLE_CHECK_SLICES slices (an idle
board that was busy at the start of a poll waits at most that many slices longer).
At "max" with a timeout, a busy poll runs the slices up to its next idle check in one go and
looks at the host's input once per IDLE_CHECK_SLICES slices, not after every slice: when host
bytes arrive in board time is host timing at "max" anyway, and each look is a host poll that
cost about a tenth of a 100 Hz session's CPU time. With whole clock cycles per microsecond
(every board file's clock) the run ends on the cycle the slices would have ended on, and
soft handlers still run right after the callback that queued them, so, host input aside (it is
now seen up to 8 ms of board time later), every cycle at which the firmware acts is unchanged.
"""

try:
    import uselect as _host  # MicroPython: the built-in, even though this file shadows `select`
except ImportError:
    import select as _host  # CPython package import (the runner aliases uselect in a subprocess)

try:
    from . import softirq
    from . import time as _time
    from .rp2040 import board as emuboard
    from .rp2040.errors import EmulatorError
except ImportError:
    import time as _time

    import softirq
    from rp2040 import board as emuboard
    from rp2040.errors import EmulatorError

POLLIN = _host.POLLIN
POLLOUT = _host.POLLOUT
POLLERR = _host.POLLERR
POLLHUP = _host.POLLHUP

SLICE_US = 1000
IDLE_CHECK_SLICES = 8
IDLE_WAIT_MS = 1000  # longest single host wait of an idle board (then its clock catches up)


class _Poll:
    def __init__(self):
        self._real = _host.poll()
        self._objs = {}  # fileno (or id) -> registered object

    def register(self, obj, eventmask=POLLIN | POLLOUT):
        self._real.register(obj, eventmask)
        self._objs[_key(obj)] = obj

    def unregister(self, obj):
        self._real.unregister(obj)
        self._objs.pop(_key(obj), None)

    def modify(self, obj, eventmask):
        self._real.modify(obj, eventmask)

    def _ready(self, host_timeout_ms):
        found = []
        for entry in self._real.poll(host_timeout_ms):
            obj = entry[0]
            if isinstance(obj, int):  # CPython reports file descriptors
                obj = self._objs.get(obj, obj)
            found.append((obj, entry[1]))
        return found

    def poll(self, timeout=-1):
        # Few locals on purpose: one more local here made the iTBS session of
        # bench/bench_link.py ~10 % slower on the unix port (measured; the frame's size).
        board = emuboard.current()
        if timeout is not None and timeout >= 0:
            deadline = _time.now_us_exact(board) + timeout * 1000
        else:
            deadline = None
        check = 0  # slices until the next hardware_idle check (1 in IDLE_CHECK_SLICES)
        while True:
            softirq.run_pending()
            idle = False
            if check == 0:
                idle = timeout != 0 and _time.hardware_idle(board)
                check = IDLE_CHECK_SLICES
            check -= 1
            ready = self._ready(
                1 if not idle and deadline is None and _time.speed() is None else 0
            )
            if ready or timeout == 0:
                return ready
            step = None  # the time left, then this slice
            if deadline is not None:
                step = deadline - _time.now_us_exact(board)
                if step <= 0:
                    return []
            if idle:
                ready = self._idle_wait(board, step)
                if ready:
                    return ready
                check = 0
                continue
            if deadline is not None and _time.speed() is None and board.sysclk % 1000000 == 0:
                # "max": the slices up to the next idle check in one run, with one look at
                # the host (when its bytes arrive in board time is host timing anyway). Whole
                # cycles per microsecond: the same end cycle as slice by slice.
                if step > (check + 1) * SLICE_US:
                    step = (check + 1) * SLICE_US
                check = 0
            elif step is None or step > SLICE_US:
                step = SLICE_US
            _time.run_servicing(board, _time.cycles_for_us(step, board))
            _time.pace(board)

    def _idle_wait(self, board, remaining):
        """Nothing on the board can happen before host input (time.hardware_idle): wait for it
        in one host poll instead of slice by slice, then let the board time pass that the host
        waited (x speed; real time at "max"), up to `remaining` us (None: no deadline)."""
        ratio = _time.speed()
        if ratio is None:
            ratio = 1.0
        wait_ms = IDLE_WAIT_MS
        if remaining is not None:
            wait_ms = min(wait_ms, int(remaining / 1000 / ratio) + 1)
        start = _time.host_seconds()
        ready = self._ready(wait_ms)
        us = int((_time.host_seconds() - start) * 1000000 * ratio)
        if not ready and us < wait_ms * 1000 * ratio:
            us = int(wait_ms * 1000 * ratio)  # a poll that ended early: the wait still counts
        if remaining is not None and us > remaining:
            us = remaining
        if us > 0:
            _time.run_servicing(board, _time.cycles_for_us(us, board))
        _time.pace(board)
        return ready

    def ipoll(self, timeout=-1, flags=0):
        return iter(self.poll(timeout))


def _key(obj):
    if isinstance(obj, int):
        return obj
    try:
        return obj.fileno()
    except (AttributeError, OSError, ValueError):
        return id(obj)


def poll():
    return _Poll()


def select(rlist, wlist, xlist, timeout=None):
    raise EmulatorError("select.select() is not modelled by the emulated board; use select.poll()")
