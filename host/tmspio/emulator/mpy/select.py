"""`select.poll` of the emulated board: waiting for input advances the board clock.

`poll(timeout_ms)` checks the real objects (stdin, a pty) without blocking, then advances the
board in 1 ms slices of emulated time until an object is ready or the timeout has passed,
running soft handlers and pacing (TMSPIO_EMU_SPEED, see time.py) between slices. So a firmware
loop that polls stdin with a timeout sees emulated time pass exactly as on the board.
With an infinite timeout (-1) and speed "max", each slice also waits up to 1 ms of host time
for input instead of spinning: emulated time then runs at most at about real time while the
board has nothing to do but wait for the host.
"""

try:
    import uselect as _host  # MicroPython: the built-in, even though this file shadows `select`
except ImportError:
    import select as _host  # CPython package import (the runner aliases uselect in a subprocess)

try:
    from . import emuboard, softirq
    from . import time as _time
    from .emuerror import EmulatorError
except ImportError:
    import time as _time

    import emuboard
    import softirq
    from emuerror import EmulatorError

POLLIN = _host.POLLIN
POLLOUT = _host.POLLOUT
POLLERR = _host.POLLERR
POLLHUP = _host.POLLHUP

SLICE_US = 1000


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
        board = emuboard.current()
        if timeout is not None and timeout >= 0:
            deadline = _time.now_us_exact(board) + timeout * 1000
        else:
            deadline = None
        while True:
            softirq.run_pending()
            blocking = deadline is None and _time.speed() is None
            ready = self._ready(1 if blocking else 0)
            if ready or timeout == 0:
                return ready
            step = SLICE_US
            if deadline is not None:
                remaining = deadline - _time.now_us_exact(board)
                if remaining <= 0:
                    return []
                step = min(step, remaining)
            _time.run_servicing(board, _time.cycles_for_us(step, board))
            _time.pace(board)

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
