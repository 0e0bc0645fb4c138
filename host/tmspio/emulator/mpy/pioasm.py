# The @rp2.asm_pio DSL, as MicroPython v1.28.0 ports/rp2/modules/rp2.py implements it.
# MIT license; the emitter follows Copyright (c) 2020-2021 Damien P. George (MicroPython).
"""PIO assembler DSL of MicroPython v1.28.0 (`rp2.asm_pio`, `rp2.asm_pio_encode`).

Valid programs assemble to exactly the program list (9 fields, v1.26+) and 16-bit words the
device produces. Where MicroPython silently encodes garbage (an out-of-range operand spills into a
neighbouring field, or a documented mis-encoding), this emulator raises PIOASMError instead and
says what the device would have done: such a program does not do on the board what it says.
Deliberate divergences (all raise PIOASMError here, the device assembles silently):

* `set(dest, data)` with data outside 0..31, `jmp` condition outside 0..7, `in_`/`out`/`mov`
  source or destination outside 0..7 (after the `exec` translation), `wait` index outside
  0..31, `irq` index outside 0..7 / rel(0..7), negative delay or side-set value, `word()` outside
  0..0xFFFF.
* `mov(pindirs, ...)`: v1.28 does not translate `pindirs` (4) for MOV, so it assembles to
  MOV EXEC; `mov(dest, invert(reverse(src)))` gives the reserved MOV operation 3.

Not detectable, therefore reproduced: `wait(pol, pins, n)` means WAIT GPIO (pins == gpio == 0).
Under CPython (the fallback interpreter) module-level int globals stay visible in the body,
standing in for MicroPython's compile-time folding of `NAME = const(int)`.
"""

import sys
from array import array

PROG_DATA = 0
PROG_OFFSET_PIO0 = 1
PROG_OFFSET_PIO1 = 2
PROG_OFFSET_PIO2 = 3
PROG_EXECCTRL = 4
PROG_SHIFTCTRL = 5
PROG_OUT_PINS = 6
PROG_SET_PINS = 7
PROG_SIDESET_PINS = 8
PROG_MAX_FIELDS = 9

_FOLD_INT_GLOBALS = sys.implementation.name != "micropython"
_EXEC = 8  # the DSL's name for the EXEC destination; MOV wants 4, OUT wants 7


class PIOASMError(Exception):
    pass


def _check_range(what, value, low, high):
    if not low <= value <= high:
        raise PIOASMError(
            "{} {} out of range {}..{} (MicroPython would encode it silently into the "
            "neighbouring field)".format(what, value, low, high)
        )


class PIOASMEmit:
    """Two-pass emitter: pass 0 collects labels and side-set use, pass 1 emits words."""

    def __init__(
        self,
        *,
        out_init=None,
        set_init=None,
        sideset_init=None,
        side_pindir=False,
        in_shiftdir=0,
        out_shiftdir=0,
        autopush=False,
        autopull=False,
        push_thresh=32,
        pull_thresh=32,
        fifo_join=0,
    ):
        self.labels = {}
        execctrl = side_pindir << 29
        shiftctrl = (
            fifo_join << 30
            | (pull_thresh & 0x1F) << 25
            | (push_thresh & 0x1F) << 20
            | out_shiftdir << 19
            | in_shiftdir << 18
            | autopull << 17
            | autopush << 16
        )
        self.prog = [array("H"), -1, -1, -1, execctrl, shiftctrl, out_init, set_init, sideset_init]
        self.wrap_used = False
        if sideset_init is None:
            self.sideset_count = 0
        elif isinstance(sideset_init, int):
            self.sideset_count = 1
        else:
            self.sideset_count = len(sideset_init)

    def start_pass(self, pass_):
        if pass_ == 1:
            if not self.wrap_used and self.num_instr:
                self.wrap()
            self.delay_max = 31
            if self.sideset_count:
                # Side-set on only some instructions makes the whole program "opt": one more
                # bit (the enable, instr bit 12) and one less delay bit.
                self.sideset_opt = self.num_sideset != self.num_instr
                if self.sideset_opt:
                    self.prog[PROG_EXECCTRL] |= 1 << 30
                    self.sideset_count += 1
                self.delay_max >>= self.sideset_count
        self.pass_ = pass_
        self.num_instr = 0
        self.num_sideset = 0

    def __getitem__(self, key):
        return self.delay(key)

    def delay(self, delay):
        if self.pass_ > 0:
            if delay > self.delay_max:
                raise PIOASMError("delay too large")
            _check_range("delay", delay, 0, self.delay_max)
            self.prog[PROG_DATA][-1] |= delay << 8
        return self

    def side(self, value):
        self.num_sideset += 1
        if self.pass_ > 0:
            if self.sideset_count == 0:
                raise PIOASMError("no sideset")
            elif value >= (1 << self.sideset_count):
                raise PIOASMError("sideset too large")
            # v1.28 allows values up to the count *including* the enable bit, so with opt
            # the top value bit lands on the enable bit.
            _check_range("sideset value", value, 0, (1 << (self.sideset_count - self.sideset_opt)) - 1)
            set_bit = 13 - self.sideset_count
            self.prog[PROG_DATA][-1] |= self.sideset_opt << 12 | value << set_bit
        return self

    def wrap_target(self):
        self.prog[PROG_EXECCTRL] |= self.num_instr << 7

    def wrap(self):
        if not self.num_instr:
            # MicroPython: a bare `assert` (AssertionError without text).
            raise PIOASMError("wrap() before any instruction")
        self.prog[PROG_EXECCTRL] |= (self.num_instr - 1) << 12
        self.wrap_used = True

    def label(self, label):
        if self.pass_ == 0:
            if label in self.labels:
                raise PIOASMError("duplicate label {}".format(label))
            self.labels[label] = self.num_instr

    def word(self, instr, label=None):
        self.num_instr += 1
        if self.pass_ > 0:
            if label is None:
                label = 0
            else:
                if label not in self.labels:
                    raise PIOASMError("unknown label {}".format(label))
                label = self.labels[label]
            _check_range("word", instr | label, 0, 0xFFFF)
            self.prog[PROG_DATA].append(instr | label)
        return self

    def nop(self):
        return self.word(0xA042)

    def jmp(self, cond, label=None):
        if label is None:
            label = cond
            cond = 0  # always
        _check_range("jmp condition", cond, 0, 7)
        return self.word(0x0000 | cond << 5, label)

    def wait(self, polarity, src, index):
        if src == 6:
            src = 1  # "pin"
        elif src != 0:
            src = 2  # "irq"
        _check_range("wait polarity", polarity, 0, 1)
        if src == 2:
            _check_irq_index("wait irq index", index)
        else:
            _check_range("wait index", index, 0, 31)
        return self.word(0x2000 | polarity << 7 | src << 5 | index)

    def in_(self, src, data):
        if not 0 < data <= 32:
            raise PIOASMError("invalid bit count {}".format(data))
        _check_range("in_ source", src, 0, 7)
        return self.word(0x4000 | src << 5 | data & 0x1F)

    def out(self, dest, data):
        if dest == _EXEC:
            dest = 7  # exec
        if not 0 < data <= 32:
            raise PIOASMError("invalid bit count {}".format(data))
        _check_range("out destination", dest, 0, 7)
        return self.word(0x6000 | dest << 5 | data & 0x1F)

    def push(self, value=0, value2=0):
        value |= value2
        if not value & 1:
            value |= 0x20  # block by default
        return self.word(0x8000 | (value & 0x60))

    def pull(self, value=0, value2=0):
        value |= value2
        if not value & 1:
            value |= 0x20  # block by default
        return self.word(0x8080 | (value & 0x60))

    def mov(self, dest, src):
        if dest == 4:
            raise PIOASMError(
                "mov(pindirs, ...) assembles to MOV EXEC on MicroPython v1.28 "
                "(destination 4 is not translated); encode MOV PINDIRS with word()"
            )
        if dest == _EXEC:
            dest = 4  # exec
        _check_range("mov destination", dest, 0, 7)
        if src & 0x18 == 0x18:
            raise PIOASMError("mov source cannot be both invert() and reverse()")
        _check_range("mov source", src, 0, 0x1F)
        return self.word(0xA000 | dest << 5 | src)

    def irq(self, mod, index=None):
        if index is None:
            index = mod
            mod = 0  # no modifiers
        _check_irq_index("irq index", index)
        return self.word(0xC000 | (mod & 0x60) | index)

    def set(self, dest, data):
        _check_range("set destination", dest, 0, 7)
        _check_range("set data", data, 0, 31)
        return self.word(0xE000 | dest << 5 | data)


def _check_irq_index(what, index):
    # 0..7, or rel(0..7) == 0x10..0x17; bit 3 selects prev/next PIO on RP2350 only.
    if not (0 <= index <= 7 or 0x10 <= index <= 0x17):
        raise PIOASMError(
            "{} {} out of range 0..7 or rel(0..7) (MicroPython would encode it silently "
            "into the neighbouring field)".format(what, index)
        )


def _rel(x):
    return x | 0x10


def _invert(x):
    return x | 0x08


def _reverse(x):
    return x | 0x10


PIO_FUNCS = {
    # source constants for wait
    "gpio": 0,
    # "pin": see below, translated to 1
    # "irq": the irq instruction itself, translated to 2
    # source/dest constants for in_, out, mov, set
    "pins": 0,
    "x": 1,
    "y": 2,
    "null": 3,
    "pindirs": 4,
    "pc": 5,
    "status": 5,
    "isr": 6,
    "osr": 7,
    "exec": _EXEC,
    # operation functions for mov's src
    "invert": _invert,
    "reverse": _reverse,
    # jmp condition constants
    "not_x": 1,
    "x_dec": 2,
    "not_y": 3,
    "y_dec": 4,
    "x_not_y": 5,
    "pin": 6,
    "not_osre": 7,
    # constants for push, pull
    "noblock": 0x01,
    "block": 0x21,
    "iffull": 0x40,
    "ifempty": 0x40,
    # constants and modifiers for irq
    "clear": 0x40,
    "rel": _rel,
}

PIO_DIRECTIVES = ("wrap_target", "wrap", "label")

PIO_INSTRUCTIONS = ("word", "nop", "jmp", "wait", "in_", "out", "push", "pull", "mov", "irq", "set")


def asm_pio(**kw):
    """Decorator: run the body twice with its module globals replaced by the DSL names.

    Returns the program list, not the function. Works on CPython and MicroPython alike: both
    expose a function's module dict as `f.__globals__` and look names up in it at call time
    (builtins are found after it, so only the DSL names shadow them). The globals are restored
    even when the body raises (the v1.28 behaviour).
    """
    emit = PIOASMEmit(**kw)

    def dec(f):
        gl = f.__globals__
        old_gl = gl.copy()
        gl.clear()
        try:
            if _FOLD_INT_GLOBALS:
                # MicroPython folds `NAME = const(int)` into the body at compile time; CPython
                # cannot, so int globals stay visible (more permissive than the device).
                for name, value in old_gl.items():
                    if type(value) is int:
                        gl[name] = value
            gl.update(PIO_FUNCS)
            for name in PIO_DIRECTIVES:
                gl[name] = getattr(emit, name)
            for name in PIO_INSTRUCTIONS:
                gl[name] = getattr(emit, name)
            emit.start_pass(0)
            f()
            emit.start_pass(1)
            f()
        finally:
            gl.clear()
            gl.update(old_gl)
        return emit.prog

    return dec


def asm_pio_encode(instr, sideset_count, sideset_opt=False):
    """Encode one DSL statement (a string) to its 16-bit word; `jmp` is not supported.

    sideset_count includes the enable bit (the PINCTRL value). The delay limit is
    31 >> (count + opt), one bit stricter than the hardware when opt is set: a v1.28 quirk,
    reproduced because StateMachine.exec() goes through here.
    """
    emit = PIOASMEmit()
    emit.sideset_count = sideset_count
    emit.sideset_opt = sideset_opt != 0
    emit.delay_max = 31 >> (emit.sideset_count + emit.sideset_opt)
    emit.pass_ = 1
    emit.num_instr = 0
    emit.num_sideset = 0

    gl = dict(PIO_FUNCS)
    for name in PIO_INSTRUCTIONS:
        gl[name] = getattr(emit, name)
    gl["jmp"] = None  # emit.jmp is not supported (as on the device: calling it is a TypeError)
    exec(instr, gl)
    if len(emit.prog[PROG_DATA]) != 1:
        raise PIOASMError("expecting exactly 1 instruction")
    return emit.prog[PROG_DATA][0]
