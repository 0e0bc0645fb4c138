"""Deferred ("soft") interrupt handlers of the emulated board.

On rp2, a soft IRQ handler goes through `mp_sched_schedule` (queue depth 8; an IRQ arriving
while the queue is full is dropped silently, shared/runtime/mpirq.c) and runs between bytecodes.
Here edges are detected inside `board.advance()`, where running user code would re-enter the
board, so the stand-ins post handlers to this queue and run them at the next safe point:
`time.sleep*`, `select.poll().poll()`, the waits in `StateMachine.get/put` and `machine.idle()`.
The CPython `micropython.schedule` stand-in shares the queue (it raises when full instead).
"""

DEPTH = 8  # MICROPY_SCHEDULER_DEPTH on rp2

_queue = []
_running = [False]


def post(func, arg):
    """Queue func(arg); return False (and drop it, as mpirq does) when the queue is full."""
    if len(_queue) >= DEPTH:
        return False
    _queue.append((func, arg))
    return True


def pending():
    return len(_queue)


def run_pending():
    """Run queued handlers in order; never nested (a handler's own waits do not recurse)."""
    if _running[0]:
        return
    _running[0] = True
    try:
        while _queue:
            func, arg = _queue.pop(0)
            func(arg)
    finally:
        _running[0] = False


def clear():
    del _queue[:]
