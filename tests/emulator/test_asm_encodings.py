"""rp2.asm_pio encodings: every instruction form against adafruit_pioasm, plus golden words.

The DSL under test is host/tmspio/emulator/mpy/pioasm.py (MicroPython v1.28 rp2.py semantics).
adafruit_pioasm is an independent assembler of the pioasm text dialect.
"""

import adafruit_pioasm
import pytest
from tmspio.emulator.mpy import pioasm


def assemble(body, **kw):
    """Assemble DSL statements (one per line) the way firmware does: a decorated function."""
    src = "def prog():\n" + "".join("    " + line + "\n" for line in body.splitlines())
    namespace = {}
    exec(compile(src, "<dsl>", "exec"), namespace)
    return pioasm.asm_pio(**kw)(namespace["prog"])


def words(body, **kw):
    return list(assemble(body, **kw)[pioasm.PROG_DATA])


# (pioasm text, DSL); both sides get `nop` + label `t` first, so jump targets are 1, not 0.
FORMS = [
    ("nop", "nop()"),
    ("jmp t", 'jmp("t")'),
    ("jmp !x t", 'jmp(not_x, "t")'),
    ("jmp x-- t", 'jmp(x_dec, "t")'),
    ("jmp !y t", 'jmp(not_y, "t")'),
    ("jmp y-- t", 'jmp(y_dec, "t")'),
    ("jmp x!=y t", 'jmp(x_not_y, "t")'),
    ("jmp pin t", 'jmp(pin, "t")'),
    ("jmp !osre t", 'jmp(not_osre, "t")'),
    ("wait 0 gpio 0", "wait(0, gpio, 0)"),
    ("wait 1 gpio 31", "wait(1, gpio, 31)"),
    ("wait 1 pin 5", "wait(1, pin, 5)"),
    ("wait 0 pin 31", "wait(0, pin, 31)"),
    ("wait 1 irq 7", "wait(1, irq, 7)"),
    ("wait 0 irq 2 rel", "wait(0, irq, rel(2))"),
    ("in pins, 1", "in_(pins, 1)"),
    ("in x, 32", "in_(x, 32)"),
    ("in y, 7", "in_(y, 7)"),
    ("in null, 31", "in_(null, 31)"),
    ("in isr, 2", "in_(isr, 2)"),
    ("in osr, 16", "in_(osr, 16)"),
    ("out pins, 1", "out(pins, 1)"),
    ("out x, 32", "out(x, 32)"),
    ("out y, 3", "out(y, 3)"),
    ("out null, 8", "out(null, 8)"),
    ("out pindirs, 4", "out(pindirs, 4)"),
    ("out pc, 5", "out(pc, 5)"),
    ("out isr, 12", "out(isr, 12)"),
    ("out exec, 16", "out(exec, 16)"),
    ("push", "push()"),
    ("push block", "push(block)"),
    ("push noblock", "push(noblock)"),
    ("push iffull", "push(iffull)"),
    ("push iffull noblock", "push(iffull, noblock)"),
    ("push iffull block", "push(iffull, block)"),
    ("pull", "pull()"),
    ("pull block", "pull(block)"),
    ("pull noblock", "pull(noblock)"),
    ("pull ifempty", "pull(ifempty)"),
    ("pull ifempty noblock", "pull(ifempty, noblock)"),
    ("mov pins, x", "mov(pins, x)"),
    ("mov x, y", "mov(x, y)"),
    ("mov y, x", "mov(y, x)"),
    ("mov exec, x", "mov(exec, x)"),
    ("mov pc, y", "mov(pc, y)"),
    ("mov isr, osr", "mov(isr, osr)"),
    ("mov osr, isr", "mov(osr, isr)"),
    ("mov x, pins", "mov(x, pins)"),
    ("mov x, null", "mov(x, null)"),
    ("mov x, status", "mov(x, status)"),
    ("mov x, !y", "mov(x, invert(y))"),
    ("mov x, ~null", "mov(x, invert(null))"),
    ("mov osr, ::isr", "mov(osr, reverse(isr))"),
    ("mov pins, ::x", "mov(pins, reverse(x))"),
    ("irq 3", "irq(3)"),
    ("irq 0", "irq(0)"),
    ("irq 5", "irq(noblock, 5)"),  # adafruit_pioasm lacks the `nowait` spelling
    ("irq wait 1", "irq(block, 1)"),
    ("irq clear 7", "irq(clear, 7)"),
    ("irq 2 rel", "irq(rel(2))"),
    ("irq wait 0 rel", "irq(block, rel(0))"),
    ("irq clear 3 rel", "irq(clear, rel(3))"),
    ("set pins, 0", "set(pins, 0)"),
    ("set pins, 31", "set(pins, 31)"),
    ("set x, 1", "set(x, 1)"),
    ("set y, 30", "set(y, 30)"),
    ("set pindirs, 3", "set(pindirs, 3)"),
    ("nop [31]", "nop()[31]"),
    ("set x, 5 [7]", "set(x, 5)[7]"),
    ("jmp x-- t [1]", 'jmp(x_dec, "t").delay(1)'),
]


@pytest.mark.parametrize("text,dsl", FORMS, ids=[t for t, _ in FORMS])
def test_every_form_matches_adafruit_pioasm(text, dsl):
    expected = list(adafruit_pioasm.Program("nop\nt:\n" + text).assembled)
    assert words("nop()\nlabel('t')\n" + dsl) == expected


# Side-set: MicroPython counts the enable bit in sideset_count (adafruit `.side_set n opt`
# == MicroPython n pins used on only some instructions).
SIDESET = [
    (
        ".side_set 1\nset pins, 1 side 1\nnop side 0 [15]",
        "set(pins, 1).side(1)\nnop().side(0)[15]",
        {"sideset_init": 2},
    ),
    (
        ".side_set 1 opt\nset pins, 1 side 1\nnop [7]",
        "set(pins, 1).side(1)\nnop()[7]",
        {"sideset_init": 2},
    ),
    (
        ".side_set 2\nnop side 3 [7]\nnop side 2",
        "nop().side(3)[7]\nnop().side(2)",
        {"sideset_init": (2, 2)},
    ),
    (
        ".side_set 2 opt\nnop side 3 [3]\nnop [1]",
        "nop().side(3)[3]\nnop()[1]",
        {"sideset_init": (2, 2)},
    ),
    (".side_set 4 opt\nnop side 15\nnop", "nop().side(15)\nnop()", {"sideset_init": (2, 2, 2, 2)}),
    (
        ".side_set 5\nnop side 31\nnop side 0",
        "nop().side(31)\nnop().side(0)",
        {"sideset_init": (2, 2, 2, 2, 2)},
    ),
    (
        ".side_set 1 pindirs\nnop side 1\nnop side 0",
        "nop().side(1)\nnop().side(0)",
        {"sideset_init": 2, "side_pindir": True},
    ),
]


@pytest.mark.parametrize(
    "text,dsl,kw", SIDESET, ids=[t.replace("\n", " / ") for t, _, _ in SIDESET]
)
def test_sideset_matches_adafruit_pioasm(text, dsl, kw):
    expected = adafruit_pioasm.Program(text)
    prog = assemble(dsl, **kw)
    assert list(prog[pioasm.PROG_DATA]) == list(expected.assembled)
    side_en = (prog[pioasm.PROG_EXECCTRL] >> 30) & 1
    side_pindir = (prog[pioasm.PROG_EXECCTRL] >> 29) & 1
    assert side_en == expected.pio_kwargs.get("sideset_enable", 0)
    assert side_pindir == expected.pio_kwargs.get("sideset_pindirs", 0)


# Golden words in field notation: op(3) delay/side(5) then the operand fields.
GOLDEN = [
    ("nop", "nop()", 0b101_00000_010_00_010),
    ("jmp x-- t [1]", 'jmp(x_dec, "t")[1]', 0b000_00001_010_00001),
    ("wait 1 irq 2 rel", "wait(1, irq, rel(2))", 0b001_00000_1_10_10010),
    ("in pins, 32", "in_(pins, 32)", 0b010_00000_000_00000),
    ("out exec, 16", "out(exec, 16)", 0b011_00000_111_10000),
    ("push iffull noblock", "push(iffull, noblock)", 0b100_00000_0_1_0_00000),
    ("pull ifempty", "pull(ifempty)", 0b100_00000_1_1_1_00000),
    ("mov osr, ~x", "mov(osr, invert(x))", 0b101_00000_111_01_001),
    ("mov exec, ::y", "mov(exec, reverse(y))", 0b101_00000_100_10_010),
    ("irq clear 3 rel", "irq(clear, rel(3))", 0b110_00000_0_1_0_10011),
    ("irq wait 7", "irq(block, 7)", 0b110_00000_0_0_1_00111),
    ("set pindirs, 31 [31]", "set(pindirs, 31)[31]", 0b111_11111_100_11111),
]


@pytest.mark.parametrize("text,dsl,word", GOLDEN, ids=[t for t, _, _ in GOLDEN])
def test_golden_word(text, dsl, word):
    assert words("nop()\nlabel('t')\n" + dsl)[-1] == word


def test_asm_pio_encode_uses_the_pinctrl_sideset_count():
    # "set(0, 1)" -> 57345 is the documented v1.28 example.
    assert pioasm.asm_pio_encode("set(0, 1)", 0) == 57345
    assert pioasm.asm_pio_encode("set(pins, 1).side(1)", 1) == 0b111_10000_000_00001
    assert pioasm.asm_pio_encode("nop().side(1)[3]", 2, True) == 0b101_11011_010_00_010
    # v1.28 quirk: the delay limit is 31 >> (count + opt): 2 + opt allows only [3], not [7].
    with pytest.raises(pioasm.PIOASMError, match="^delay too large$"):
        pioasm.asm_pio_encode("nop()[4]", 2, True)
    with pytest.raises(pioasm.PIOASMError, match="^expecting exactly 1 instruction$"):
        pioasm.asm_pio_encode("nop()\nnop()", 0)
    with pytest.raises(TypeError):
        pioasm.asm_pio_encode("jmp(0)", 0)
