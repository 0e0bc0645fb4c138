"""The `rp2.asm_pio` DSL: Python calls in a decorated function body -> a PIO program list.

Behaviour spec: the project reference pio-and-rp2.md §4.2-4.3 (MicroPython v1.28 semantics, 9-field
program list). Our own design: one table of instruction formats, an `_Instruction` per emitted
word that carries `.side()`, `.delay()` and `[n]`, and a two-pass `_Assembler` (survey pass:
labels and side-set use; emit pass: words with every operand range-checked).

Valid programs give exactly the device's words and program list. Where the device would encode
an operand silently into a neighbouring field, or a name means something other than it says,
this emulator raises PIOASMError instead:

* operand outside its field (set data, jmp condition, wait/irq index, in/out/mov codes, word,
  negative delay or side-set value, an optional side-set value reaching the enable bit);
* `mov(pindirs, ...)` (v1.28 assembles it to MOV EXEC), `mov(d, invert(reverse(s)))` (the
  reserved MOV operation 3), `wait(pol, x, n)` and other sources that silently mean IRQ;
* asm_pio keywords outside what SHIFTCTRL can hold (a threshold of 33 would be masked to 1);
* side-set needing more than the 5 bits of the delay/side-set field; `.side()` or a delay given
  twice on one instruction, `wrap_target()`/`wrap()` twice (the device ORs the values);
* a body that emits a different number of instructions on its two passes.

Reproduced, because it cannot be told apart from intent: `wait(pol, pins, n)` is WAIT GPIO
(pins == gpio == 0). Under CPython module-level int globals stay visible in the body, standing in
for MicroPython's compile-time folding of `NAME = const(int)`.
"""

import sys
from array import array

# Program list fields (MicroPython v1.26+).
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
_SILENT = " (MicroPython would encode it silently into the neighbouring field)"


class PIOASMError(Exception):
    pass


def _checked(what, value, high, low=0, note=_SILENT):
    """`value` if it is an int in low..high, else PIOASMError naming field, value and range."""
    if value is True or value is False:
        value = int(value)  # MicroPython's bool is no int subclass
    elif not isinstance(value, int):
        raise PIOASMError("{} {!r} is not an integer".format(what, value))
    if not low <= value <= high:
        raise PIOASMError("{} {} out of range {}..{}{}".format(what, value, low, high, note))
    return value


def _checked_irq(what, index):
    # 0..7, or rel(n) = n | 0x10 (bit 3 would select another PIO block on RP2350 only).
    if not isinstance(index, int) or not (0 <= index <= 7 or 0x10 <= index <= 0x17):
        raise PIOASMError("{} {} out of range 0..7 or rel(0..7){}".format(what, index, _SILENT))
    return index


def _bit_count(count):
    # 1..32 bits; the 5-bit field writes 32 as 0.
    if not isinstance(count, int) or not 1 <= count <= 32:
        raise PIOASMError("invalid bit count {}".format(count))
    return count & 31


# DSL value codes. Sources and destinations use the hardware's 3-bit numbering; `exec` has no
# single code (OUT wants 7, MOV wants 4), so it gets a private one the two instructions translate.
_EXEC = 8
_MOV_INVERT = 0x08
_MOV_REVERSE = 0x10
_IRQ_REL = 0x10
_BLOCK = 0x21  # Block bit (5) plus a marker (bit 0) meaning "given"; noblock is the marker alone
_IF = 0x40  # IfFull / IfEmpty; irq's Clear bit sits at the same place

# Position in each tuple = the hardware code of the name.
_REGISTERS = ("pins", "x", "y", "null", "pindirs", "pc", "isr", "osr")
_CONDITIONS = ("always", "not_x", "x_dec", "not_y", "y_dec", "x_not_y", "pin", "not_osre")


def _dsl_names():
    names = {}
    for table in (_REGISTERS, _CONDITIONS[1:]):
        for code, name in enumerate(table, 8 - len(table)):
            names[name] = code
    aliases = (("gpio", 0), ("status", 5), ("exec", _EXEC), ("block", _BLOCK), ("noblock", 1))
    for name, code in aliases + (("iffull", _IF), ("ifempty", _IF), ("clear", _IF)):
        names[name] = code
    names["invert"] = lambda src: src | _MOV_INVERT
    names["reverse"] = lambda src: src | _MOV_REVERSE
    names["rel"] = lambda index: index | _IRQ_REL
    return names


_DSL_NAMES = _dsl_names()

# Instruction formats: base word (opcode, and the PULL bit), then (field, shift, highest value)
# for each operand in the order the DSL method passes them. [pio-and-rp2.md §2.1]
_FORMATS = {
    "jmp": (0x0000, (("jmp condition", 5, 7), ("jmp target", 0, 31))),
    "wait": (0x2000, (("wait polarity", 7, 1), ("wait source", 5, 2), ("wait index", 0, 31))),
    "in_": (0x4000, (("in_ source", 5, 7), ("in_ bit count", 0, 31))),
    "out": (0x6000, (("out destination", 5, 7), ("out bit count", 0, 31))),
    "push": (0x8000, (("push flags", 5, 3),)),
    "pull": (0x8080, (("pull flags", 5, 3),)),
    "mov": (0xA000, (("mov destination", 5, 7), ("mov source", 0, 31))),
    "irq": (0xC000, (("irq flags", 5, 3), ("irq index", 0, 31))),
    "set": (0xE000, (("set destination", 5, 7), ("set data", 0, 31))),
}

_INSTRUCTIONS = ("word", "nop", "jmp", "wait", "in_", "out", "push", "pull", "mov", "irq", "set")
_DIRECTIVES = ("wrap_target", "wrap", "label")


def _encode(name, *operands):
    base, fields = _FORMATS[name]
    word = base
    for (what, shift, high), value in zip(fields, operands):
        word |= _checked(what, value, high) << shift
    return word


def _flag_bits(what, flags, default=0):
    """push/pull/irq modifiers OR-ed -> the 2-bit field (IfFull/Clear, Block/Wait).

    Bit 0 of a modifier marks block/noblock as given; without it `default` applies.
    """
    value = 0
    for flag in flags:
        value |= _checked(what, flag, 0x7F)
    if not value & 1:
        value |= default
    return (value & 0x60) >> 5


class _DelaySideField:
    """Bits 12:8: side-set value in the top bits (enable bit first when optional), delay below.

    `bits` is the PINCTRL SIDESET_COUNT, which includes the enable bit when optional.
    """

    def __init__(self, bits, optional, delay_max):
        if bits > 5:
            raise PIOASMError(
                "side-set needs {} bits (pins plus enable bit when used on only some "
                "instructions); the delay/side-set field has 5".format(bits)
            )
        self.bits = bits
        self.optional = optional
        self.delay_max = delay_max

    def side(self, value):
        if not self.bits:
            raise PIOASMError("no sideset")
        if isinstance(value, int) and value >= 1 << self.bits:
            raise PIOASMError("sideset too large")
        # v1.28 accepts values up to `bits` wide, so with opt the top bit lands on the enable bit.
        value = _checked("sideset value", value, (1 << (self.bits - self.optional)) - 1)
        return self.optional << 12 | value << (13 - self.bits)

    def delay(self, cycles):
        if isinstance(cycles, int) and cycles > self.delay_max:
            raise PIOASMError("delay too large")
        return _checked("delay", cycles, self.delay_max) << 8


class _Instruction:
    """One word of the program; side-set and delay are OR-ed in once the layout is known."""

    def __init__(self, assembler, word):
        self._assembler = assembler
        self.word = word
        self._given = ()

    def _once(self, what):
        if what in self._given:
            raise PIOASMError("{} given twice on one instruction".format(what))
        self._given += (what,)

    def side(self, value):
        self._once("side()")
        field = self._assembler.field
        if field is None:
            self._assembler.side_uses += 1
        else:
            self.word |= field.side(value)
        return self

    def delay(self, cycles):
        self._once("delay")
        field = self._assembler.field
        if field is not None:
            self.word |= field.delay(cycles)
        return self

    def __getitem__(self, cycles):
        return self.delay(cycles)


class _Assembler:
    """Runs a DSL body in two passes: survey (labels, side-set use), then emit (field known)."""

    def __init__(self):
        self.labels = {}
        self.field = None  # None while surveying
        self.code = []
        self.side_uses = 0
        self.wrap_target_at = None
        self.wrap_at = None

    def namespace(self, names):
        ns = dict(_DSL_NAMES)
        for name in names:
            ns[name] = getattr(self, name)
        return ns

    def start_pass(self, field):
        self.field = field
        self.code = []
        self.wrap_target_at = None
        self.wrap_at = None

    def _emit(self, word):
        instruction = _Instruction(self, word)
        self.code.append(instruction)
        return instruction

    def _address(self, label):
        if self.field is None:
            return 0
        if label not in self.labels:
            raise PIOASMError("unknown label {}".format(label))
        return self.labels[label]

    # Directives

    def label(self, name):
        if self.field is None:
            if name in self.labels:
                raise PIOASMError("duplicate label {}".format(name))
            self.labels[name] = len(self.code)

    def wrap_target(self):
        if self.wrap_target_at is not None:
            raise PIOASMError("wrap_target() given twice")
        self.wrap_target_at = len(self.code)

    def wrap(self):
        if not self.code:
            raise PIOASMError("wrap() before any instruction")
        if self.wrap_at is not None:
            raise PIOASMError("wrap() given twice")
        self.wrap_at = len(self.code) - 1

    # Instructions

    def word(self, instr, label=None):
        if label is not None:
            instr = _checked("word", instr, 0xFFFF) | self._address(label)
        return self._emit(_checked("word", instr, 0xFFFF))

    def nop(self):
        return self._emit(0xA042)  # mov y, y

    def jmp(self, cond, label=None):
        if label is None:
            cond, label = 0, cond
        return self._emit(_encode("jmp", cond, self._address(label)))

    def wait(self, polarity, src, index):
        _checked("wait polarity", polarity, 1)
        if src == 0:  # gpio, and pins (the same code) as on the device
            kind, index = 0, _checked("wait index", index, 31)
        elif src == 6:  # pin
            kind, index = 1, _checked("wait index", index, 31)
        elif not isinstance(src, int):  # the irq function itself
            kind, index = 2, _checked_irq("wait irq index", index)
        else:
            raise PIOASMError(
                "wait source {} is not gpio, pin or irq (MicroPython would wait on an IRQ "
                "flag)".format(src)
            )
        return self._emit(_encode("wait", polarity, kind, index))

    def in_(self, src, count):
        return self._emit(_encode("in_", src, _bit_count(count)))

    def out(self, dest, count):
        return self._emit(_encode("out", 7 if dest == _EXEC else dest, _bit_count(count)))

    def push(self, *flags):
        return self._emit(_encode("push", _flag_bits("push modifier", flags, _BLOCK)))

    def pull(self, *flags):
        return self._emit(_encode("pull", _flag_bits("pull modifier", flags, _BLOCK)))

    def mov(self, dest, src):
        if dest == 4:
            raise PIOASMError(
                "mov(pindirs, ...) assembles to MOV EXEC on MicroPython v1.28 "
                "(destination 4 is not translated); encode MOV PINDIRS with word()"
            )
        if isinstance(src, int) and src & (_MOV_INVERT | _MOV_REVERSE) == 0x18:
            raise PIOASMError("mov source cannot be both invert() and reverse()")
        return self._emit(_encode("mov", 4 if dest == _EXEC else dest, src))

    def irq(self, flags, index=None):
        if index is None:
            flags, index = 0, flags
        return self._emit(
            _encode("irq", _flag_bits("irq modifier", (flags,)), _checked_irq("irq index", index))
        )

    def set(self, dest, data):
        return self._emit(_encode("set", dest, data))


def _shiftctrl(in_shiftdir, out_shiftdir, autopush, autopull, push_thresh, pull_thresh, fifo_join):
    masked = " (MicroPython would mask it into SHIFTCTRL)"
    return (
        _checked("fifo_join", fifo_join, 2, note=masked) << 30
        | (_checked("pull_thresh", pull_thresh, 32, 1, masked) & 31) << 25
        | (_checked("push_thresh", push_thresh, 32, 1, masked) & 31) << 20
        | _checked("out_shiftdir", out_shiftdir, 1, note=masked) << 19
        | _checked("in_shiftdir", in_shiftdir, 1, note=masked) << 18
        | _checked("autopull", autopull, 1, note=masked) << 17
        | _checked("autopush", autopush, 1, note=masked) << 16
    )


def _pin_count(sideset_init):
    if sideset_init is None:
        return 0
    return 1 if isinstance(sideset_init, int) else len(sideset_init)


def asm_pio(
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
    """Decorator: assemble the body into the 9-field program list (returned instead of it).

    The body runs twice with its module globals replaced by the DSL names; they are restored
    even when it raises. Both interpreters expose the module dict as `f.__globals__` and look
    names up there at call time (builtins after it, so only DSL names shadow them).
    """
    shiftctrl = _shiftctrl(
        in_shiftdir, out_shiftdir, autopush, autopull, push_thresh, pull_thresh, fifo_join
    )
    pindir = _checked("side_pindir", side_pindir, 1, note="")
    pins = _pin_count(sideset_init)

    def assemble(body):
        asm = _Assembler()
        module = body.__globals__
        saved = module.copy()
        module.clear()
        try:
            if _FOLD_INT_GLOBALS:
                # MicroPython folds `NAME = const(int)` at compile time; CPython cannot, so int
                # globals stay visible (more permissive than the device).
                for name, value in saved.items():
                    if type(value) is int:
                        module[name] = value
            module.update(asm.namespace(_INSTRUCTIONS + _DIRECTIVES))
            asm.start_pass(None)
            body()
            surveyed = len(asm.code)
            # Side-set on only some instructions silently makes it optional: enable bit 12.
            optional = 1 if pins and asm.side_uses != surveyed else 0
            asm.start_pass(_DelaySideField(pins + optional, optional, 31 >> (pins + optional)))
            body()
            if len(asm.code) != surveyed:
                raise PIOASMError(
                    "the body emitted {} instructions on the first pass and {} on the second; "
                    "it must emit the same program each time".format(surveyed, len(asm.code))
                )
        finally:
            module.clear()
            module.update(saved)
        wrap_target = asm.wrap_target_at or 0
        wrap = asm.wrap_at
        if wrap is None:
            wrap = max(len(asm.code) - 1, 0)
        execctrl = optional << 30 | pindir << 29 | wrap << 12 | wrap_target << 7
        words = array("H", [instruction.word for instruction in asm.code])
        return [words, -1, -1, -1, execctrl, shiftctrl, out_init, set_init, sideset_init]

    return assemble


def asm_pio_encode(instr, sideset_count, sideset_opt=False):
    """Encode one DSL statement (a string) to its 16-bit word; `jmp` is not available.

    sideset_count is the PINCTRL value (enable bit included). The delay limit is
    31 >> (count + opt), one bit stricter than the hardware with opt: a v1.28 quirk reproduced
    because StateMachine.exec() goes through here.
    """
    optional = 1 if sideset_opt else 0
    asm = _Assembler()
    asm.start_pass(_DelaySideField(sideset_count, optional, 31 >> (sideset_count + optional)))
    namespace = asm.namespace(_INSTRUCTIONS)
    namespace["jmp"] = None  # calling it is a TypeError, as on the device
    exec(instr, namespace)
    if len(asm.code) != 1:
        raise PIOASMError("expecting exactly 1 instruction")
    return asm.code[0].word
