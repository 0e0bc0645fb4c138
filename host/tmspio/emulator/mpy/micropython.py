"""`micropython` for the CPython fallback interpreter of the emulated board.

On the MicroPython unix port the built-in `micropython` module always wins over this file (it
is not an extensible module; checked with a shadowing micropython.py on MICROPYPATH), so this
only runs under CPython. It imitates only where that is harmless: `const` passes through,
`native` is the identity, `viper`/`asm_thumb` raise as an unsupported-emitter build does.
"""

try:
    from . import softirq
except ImportError:
    import softirq

_kbd_intr = [3]
_heap_locked = [0]


def const(value):
    return value


def opt_level(level=None):
    if level is None:
        return 0
    return None


def alloc_emergency_exception_buf(size):
    return None


def kbd_intr(char):
    """Set the interrupt character (3 = Ctrl-C by default, -1 disables). Recorded only."""
    _kbd_intr[0] = char


def kbd_intr_char():
    """The current interrupt character (emulator extension, for the stdin relay)."""
    return _kbd_intr[0]


def schedule(func, arg):
    """Queue func(arg) for the next safe point (sleep, poll, FIFO wait); depth 8 as on rp2."""
    if not softirq.post(func, arg):
        raise RuntimeError("schedule queue full")


def mem_info(verbose=None):
    print("mem: emulated board (CPython fallback); no heap statistics")


def qstr_info(verbose=None):
    print("qstr: emulated board (CPython fallback); no qstr statistics")


def stack_use():
    return 0


def heap_lock():
    _heap_locked[0] += 1
    return _heap_locked[0] - 1


def heap_unlock():
    if _heap_locked[0]:
        _heap_locked[0] -= 1
    return _heap_locked[0]


def heap_locked():
    return _heap_locked[0]


def native(func):
    return func


def viper(func):
    raise SyntaxError("invalid micropython decorator: viper is not supported by the emulator")


def asm_thumb(func):
    raise SyntaxError("invalid micropython decorator: asm_thumb is not supported by the emulator")
