"""Differential test: the emulator's asm_pio against MicroPython v1.28.0's own rp2.py.

tests/emulator/golden/micropython_v1_28_0_rp2.py is the upstream file, byte for byte; it is run
here under CPython with a minimal `_rp2` (the PIO constants it imports) and `micropython`
(const). Every program must give the identical 9-field program list, every error MicroPython
raises the identical PIOASMError text.
"""

import os
import sys
import types

import pytest
from test_asm_encodings import FORMS, SIDESET  # same directory (rootdir-relative import)
from tmspio.emulator.mpy import pioasm

REFERENCE = os.path.join(os.path.dirname(__file__), "golden", "micropython_v1_28_0_rp2.py")


@pytest.fixture(scope="module")
def reference():
    fake_rp2 = types.ModuleType("_rp2")

    class PIO:  # the constants rp2.py reads from the C module (rp2_pio.c values)
        SHIFT_LEFT, SHIFT_RIGHT = 0, 1
        JOIN_NONE, JOIN_TX, JOIN_RX = 0, 1, 2
        IN_LOW, IN_HIGH, OUT_LOW, OUT_HIGH = 0, 1, 2, 3

    fake_rp2.PIO = PIO
    fake_mp = types.ModuleType("micropython")
    fake_mp.const = lambda x: x
    saved = {name: sys.modules.get(name) for name in ("_rp2", "micropython")}
    sys.modules.update({"_rp2": fake_rp2, "micropython": fake_mp})
    try:
        module = types.ModuleType("reference_rp2")
        with open(REFERENCE) as f:
            exec(compile(f.read(), REFERENCE, "exec"), module.__dict__)
    finally:
        for name, old in saved.items():
            if old is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = old
    return module


def build(asm_pio, body, kw):
    src = "def prog():\n" + "".join("    " + line + "\n" for line in body.splitlines())
    namespace = {}
    exec(compile(src, "<dsl>", "exec"), namespace)
    return asm_pio(**kw)(namespace["prog"])


PROGRAMS = [("nop()\nlabel('t')\n" + dsl, {}) for _, dsl in FORMS]
PROGRAMS += [(dsl, kw) for _, dsl, kw in SIDESET]
PROGRAMS += [
    ("wrap_target()\nset(pins, 1) [31]\nnop() [31]\nset(pins, 0) [31]\nnop() [31]\nwrap()",
     {"set_init": 2}),
    ("label(0)\npull(noblock)\nwrap_target()\nout(pins, 3).side(1)\njmp(0)\nwrap()",
     {"sideset_init": (2, 3), "out_init": (2, 2, 0), "side_pindir": True, "in_shiftdir": 1,
      "out_shiftdir": 1, "autopush": True, "autopull": True, "push_thresh": 8,
      "pull_thresh": 32, "fifo_join": 2}),
    ("nop()\nlabel('x')\nword(0x0000, 'x')\nword(0xA0E1)\nirq(clear, rel(3)).delay(5)", {}),
]


@pytest.mark.parametrize("body,kw", PROGRAMS, ids=[b.replace("\n", " / ") for b, _ in PROGRAMS])
def test_program_lists_equal_the_reference(reference, body, kw):
    assert build(pioasm.asm_pio, body, kw) == build(reference.asm_pio, body, kw)


ERRORS = [
    ("nop()[32]", {}),
    ("nop().side(1)[16]", {"sideset_init": 2}),
    ("nop().side(2)", {"sideset_init": 2}),
    ("nop().side(1)", {}),
    ("jmp('nowhere')", {}),
    ("label('a')\nnop()\nlabel('a')", {}),
    ("in_(pins, 0)", {}),
    ("out(x, 33)", {}),
]


@pytest.mark.parametrize("body,kw", ERRORS, ids=[b.replace("\n", " / ") for b, _ in ERRORS])
def test_errors_equal_the_reference(reference, body, kw):
    with pytest.raises(reference.PIOASMError) as expected:
        build(reference.asm_pio, body, kw)
    with pytest.raises(pioasm.PIOASMError) as got:
        build(pioasm.asm_pio, body, kw)
    assert str(got.value) == str(expected.value)


@pytest.mark.parametrize("instr,count,opt", [("set(0, 1)", 0, 0), ("nop().side(1)[3]", 2, 1),
                                              ("out(exec, 16).side(3)", 2, 0),
                                              ("mov(x, reverse(y))[7]", 1, 0)])
def test_asm_pio_encode_equals_the_reference(reference, instr, count, opt):
    assert pioasm.asm_pio_encode(instr, count, opt) == reference.asm_pio_encode(instr, count, opt)


def test_silent_corruptions_we_refuse_are_real_in_the_reference(reference):
    # The reference assembles these without complaint: set(pins, 32) spills into the
    # destination field and becomes `set x, 0`; mov(pindirs, ...) becomes MOV EXEC.
    assert list(build(reference.asm_pio, "set(pins, 32)", {})[0]) == [0b111_00000_001_00000]
    assert list(build(reference.asm_pio, "mov(pindirs, null)", {})[0]) == [0xA083]
    for body in ("set(pins, 32)", "mov(pindirs, null)"):
        with pytest.raises(pioasm.PIOASMError):
            build(pioasm.asm_pio, body, {})
