"""Interrupt handler dispatch of the emulated board (mp_irq_handler), hard and soft.

On rp2, a soft IRQ handler goes through `mp_sched_schedule` (queue depth 8; an IRQ arriving
while the queue is full is dropped silently, shared/runtime/mpirq.c) and runs between bytecodes.
Here edges are detected inside `board.advance()`, where running user code would re-enter the
board, so the stand-ins post handlers to this queue and run them at the next safe point: when
a stand-in call returns (the next bytecode; cpubus.charge), and inside the waits (`time.sleep*`,
`select.poll().poll()`, `StateMachine.get/put`, `machine.idle()`), as the port's delay loops do.
The CPython `micropython.schedule` stand-in shares the queue (it raises when full instead).
Hard handlers run at once, inside the board's event processing, unless machine.disable_irq()
is in force: then they run when enable_irq() re-enables interrupts.
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


def runnable():
    """True when queued handlers can run now (not while a handler is already running: a wait
    inside a soft handler must not stop for handlers it cannot run)."""
    return bool(_queue) and not _running[0]


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


def after_call():
    """A stand-in call has returned to the interpreter: MicroPython's VM runs queued soft
    handlers between bytecodes (not inside a hard handler)."""
    if _queue and not _in_hard[0]:
        run_pending()


def clear():
    del _queue[:]
    _masked[0] = 0
    del _masked[1][:]
    _in_hard[0] = False


# ---- hard handlers and machine.disable_irq ---------------------------------------------------

_masked = [0, []]  # [disable_irq depth, deferred (irq, arg)]
_in_hard = [False]


def dispatch(irq, arg):
    """mp_irq_handler for an IRQ object with _handler/_hard: run, defer or queue it.

    Interrupts of equal priority do not preempt each other: a hard IRQ raised while a hard
    handler runs (its CPU time advances the board) is taken when that handler returns.
    """
    if irq._handler is None:
        return
    if not irq._hard:
        post(irq._handler, arg)
    elif _masked[0] or _in_hard[0]:
        _masked[1].append((irq, arg))
    else:
        _run_hard(irq, arg)
        _drain_deferred()


def _run_hard(irq, arg):
    handler = irq._handler
    if handler is None:
        return
    _in_hard[0] = True
    try:
        handler(arg)
    except Exception as e:  # noqa: BLE001 - mp_irq_handler disables a failing hard handler
        irq._handler = None
        print("Uncaught exception in IRQ callback handler")
        print(repr(e))
    finally:
        _in_hard[0] = False


def _drain_deferred():
    while _masked[1] and not _masked[0] and not _in_hard[0]:
        irq, arg = _masked[1].pop(0)
        _run_hard(irq, arg)


def disable():
    _masked[0] += 1
    return _masked[0] - 1


def enable(state=0):
    _masked[0] = state
    _drain_deferred()
