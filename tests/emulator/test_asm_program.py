"""rp2.asm_pio program list (9 fields, MicroPython v1.26+), directives and PIOASMError cases."""

from array import array

import pytest
from tmspio.emulator.mpy import pioasm
from tmspio.emulator.mpy.pioasm import PIOASMError


def assemble(body, **kw):
    src = "def prog():\n" + "".join("    " + line + "\n" for line in body.splitlines())
    namespace = {"KEEP": "module value"}
    exec(compile(src, "<dsl>", "exec"), namespace)
    return pioasm.asm_pio(**kw)(namespace["prog"]), namespace


def refusal(body, **kw):
    """The PIOASMError text assembling `body` raises."""
    with pytest.raises(PIOASMError) as err:
        assemble(body, **kw)
    return str(err.value)


BLINK = """wrap_target()
set(pins, 1)   [31]
nop()          [31]
set(pins, 0)   [31]
nop()          [31]
wrap()"""


def test_blink_program_list_is_the_documented_v1_28_output():
    prog, _ = assemble(BLINK, set_init=2)
    assert prog == [
        array("H", [0xFF01, 0xBF42, 0xFF00, 0xBF42]),
        -1,
        -1,
        -1,
        0x3000,
        0,
        None,
        2,
        None,
    ]


def test_wrap_target_and_wrap_are_relative_instruction_indices():
    prog, _ = assemble("nop()\nwrap_target()\nnop()\nnop()\nwrap()\nnop()")
    assert prog[pioasm.PROG_EXECCTRL] == (1 << 7) | (2 << 12)


def test_default_wrap_is_the_last_instruction():
    prog, _ = assemble("nop()\nnop()\nnop()")
    assert prog[pioasm.PROG_EXECCTRL] == 2 << 12


def test_shiftctrl_image_masks_thresholds_and_packs_keywords():
    prog, _ = assemble(
        "nop()",
        in_shiftdir=1,
        out_shiftdir=1,
        autopush=True,
        autopull=True,
        push_thresh=8,
        pull_thresh=32,
        fifo_join=1,
    )
    assert prog[pioasm.PROG_SHIFTCTRL] == (1 << 30) | (0 << 25) | (8 << 20) | (1 << 19) | (
        1 << 18
    ) | (1 << 17) | (1 << 16)


def test_partial_sideset_makes_the_program_optional():
    # Two side-set pins, used on one of two instructions: SIDE_EN, count 3, max delay 3.
    prog, _ = assemble("nop().side(3)[3]\nnop()", sideset_init=(2, 2), side_pindir=True)
    assert prog[pioasm.PROG_EXECCTRL] == (1 << 30) | (1 << 29) | (1 << 12)
    assert list(prog[pioasm.PROG_DATA]) == [0b101_1_11_11_010_00_010, 0b101_00000_010_00_010]
    assert prog[pioasm.PROG_SIDESET_PINS] == (2, 2)


def test_word_with_label_ors_the_label_offset():
    prog, _ = assemble("nop()\nlabel('here')\nword(0x0000, 'here')\nword(0xA0E1)")
    assert list(prog[pioasm.PROG_DATA]) == [0xA042, 0x0001, 0xA0E1]


def test_integer_labels_work():
    prog, _ = assemble("label(7)\nnop()\njmp(7)")
    assert list(prog[pioasm.PROG_DATA]) == [0xA042, 0x0000]


def test_globals_are_restored_after_assembly_and_after_an_error():
    _, namespace = assemble("nop()")
    assert namespace["KEEP"] == "module value" and "nop" not in namespace
    with pytest.raises(PIOASMError):
        assemble("nop()[32]")
    src = "def prog():\n    nop()[32]\n"
    namespace = {"KEEP": 1.5}
    exec(src, namespace)
    with pytest.raises(PIOASMError):
        pioasm.asm_pio()(namespace["prog"])
    assert namespace["KEEP"] == 1.5 and "nop" not in namespace


@pytest.mark.parametrize(
    "body,kw,message",
    [
        ("nop()[32]", {}, "delay too large"),
        ("nop().side(1)[16]", {"sideset_init": 2}, "delay too large"),
        ("nop().side(1)[8]\nnop()", {"sideset_init": 2}, "delay too large"),
        ("nop().side(2)", {"sideset_init": 2}, "sideset too large"),
        ("nop().side(8)\nnop()", {"sideset_init": (2, 2)}, "sideset too large"),
        ("nop().side(1)", {}, "no sideset"),
        ("jmp('nowhere')", {}, "unknown label nowhere"),
        ("label('a')\nnop()\nlabel('a')", {}, "duplicate label a"),
        ("in_(pins, 0)", {}, "invalid bit count 0"),
        ("in_(pins, 33)", {}, "invalid bit count 33"),
        ("out(x, 0)", {}, "invalid bit count 0"),
        ("wrap()", {}, "wrap() before any instruction"),
    ],
    ids=[
        "delay 32",
        "delay 16 side 1",
        "delay 8 opt side",
        "side 2 of 1 pin",
        "side 8 of 2 pins opt",
        "no sideset",
        "unknown label",
        "duplicate label",
        "in 0 bits",
        "in 33 bits",
        "out 0 bits",
        "wrap first",
    ],
)
def test_micropython_errors(body, kw, message):
    assert refusal(body, **kw) == message


@pytest.mark.parametrize(
    "body,message",
    [
        ("set(x, 32)", "set data 32 out of range 0..31"),
        ("set(pins, -1)", "set data -1 out of range 0..31"),
        ("nop()[-1]", "delay -1 out of range 0..31"),
        ("irq(8)", "irq index 8 out of range 0..7 or rel(0..7)"),
        ("wait(1, gpio, 32)", "wait index 32 out of range 0..31"),
        ("wait(2, gpio, 1)", "wait polarity 2 out of range 0..1"),
        ("wait(1, irq, 9)", "wait irq index 9 out of range 0..7 or rel(0..7)"),
        ("jmp(8, 'l')\nlabel('l')", "jmp condition 8 out of range 0..7"),
        ("word(0x10000)", "word 65536 out of range 0..65535"),
        ("mov(x, 32)", "mov source 32 out of range 0..31"),
    ],
)
def test_silent_device_corruption_is_refused(body, message):
    with pytest.raises(PIOASMError) as err:
        assemble(body)
    assert str(err.value) == message + (
        " (MicroPython would encode it silently into the neighbouring field)"
    )


def test_opt_sideset_value_reaching_the_enable_bit_is_refused():
    with pytest.raises(PIOASMError) as err:
        assemble("nop().side(4)\nnop()", sideset_init=(2, 2))
    assert str(err.value).startswith("sideset value 4 out of range 0..3 ")
    with pytest.raises(PIOASMError) as err:
        assemble("nop().side(-1)", sideset_init=2)
    assert str(err.value).startswith("sideset value -1 out of range 0..1 ")


def test_mov_pindirs_and_double_mov_ops_are_refused():
    with pytest.raises(PIOASMError, match=r"^mov\(pindirs, \.\.\.\) assembles to MOV EXEC"):
        assemble("mov(pindirs, null)")
    with pytest.raises(
        PIOASMError, match=r"^mov source cannot be both invert\(\) and reverse\(\)$"
    ):
        assemble("mov(x, invert(reverse(y)))")


def test_wait_pins_is_wait_gpio_as_on_the_device():
    prog, _ = assemble("wait(1, pins, 3)")
    assert list(prog[pioasm.PROG_DATA]) == [0b001_00000_1_00_00011]


@pytest.mark.parametrize(
    "body,kw,message",
    [
        (
            "wait(1, x, 3)",
            {},
            "wait source 1 is not gpio, pin or irq (MicroPython would wait on an IRQ flag)",
        ),
        ("nop().side(1).side(0)", {"sideset_init": 2}, "side() given twice on one instruction"),
        ("nop()[1][2]", {}, "delay given twice on one instruction"),
        ("wrap_target()\nnop()\nwrap_target()", {}, "wrap_target() given twice"),
        ("nop()\nwrap()\nnop()\nwrap()", {}, "wrap() given twice"),
        ("set(x, 'a')", {}, "set data 'a' is not an integer"),
        ("push(1.5)", {}, "push modifier 1.5 is not an integer"),
        ("in_(pins, 'all')", {}, "invalid bit count all"),
        (
            "nop().side(1)\nnop()",
            {"sideset_init": (2,) * 5},
            "side-set needs 6 bits (pins plus enable bit when used on only some instructions); "
            "the delay/side-set field has 5",
        ),
        (
            "nop()",
            {"push_thresh": 33},
            "push_thresh 33 out of range 1..32 (MicroPython would mask it into SHIFTCTRL)",
        ),
        (
            "nop()",
            {"pull_thresh": 0},
            "pull_thresh 0 out of range 1..32 (MicroPython would mask it into SHIFTCTRL)",
        ),
        (
            "nop()",
            {"fifo_join": 3},
            "fifo_join 3 out of range 0..2 (MicroPython would mask it into SHIFTCTRL)",
        ),
        (
            "nop()",
            {"in_shiftdir": 2},
            "in_shiftdir 2 out of range 0..1 (MicroPython would mask it into SHIFTCTRL)",
        ),
    ],
    ids=[
        "wait x",
        "side twice",
        "delay twice",
        "wrap_target twice",
        "wrap twice",
        "set str",
        "push float",
        "in str count",
        "6 side-set bits",
        "push_thresh 33",
        "pull_thresh 0",
        "fifo_join 3",
        "in_shiftdir 2",
    ],
)
def test_emulator_refuses_what_the_device_would_corrupt(body, kw, message):
    assert refusal(body, **kw) == message


def test_body_must_emit_the_same_program_on_both_passes():
    namespace = {}
    exec(
        "def prog(calls=[]):\n    calls.append(1)\n    for _ in calls:\n        nop()\n", namespace
    )
    with pytest.raises(PIOASMError) as err:
        pioasm.asm_pio()(namespace["prog"])
    assert str(err.value) == (
        "the body emitted 1 instructions on the first pass and 2 on the "
        "second; it must emit the same program each time"
    )


def test_every_sideset_width_places_value_and_enable_bit_in_bits_12_to_8():
    # pins n (non-optional): value in the top n bits; optional: enable bit 12, value below it.
    for pins in range(1, 6):
        prog, _ = assemble("nop().side({})".format((1 << pins) - 1), sideset_init=(2,) * pins)
        assert prog[pioasm.PROG_DATA][0] == 0xA042 | ((1 << pins) - 1) << (13 - pins)
    for pins in range(1, 5):
        prog, _ = assemble("nop().side(1)\nnop()", sideset_init=(2,) * pins)
        assert prog[pioasm.PROG_DATA][0] == 0xA042 | 1 << 12 | 1 << (12 - pins)
        assert prog[pioasm.PROG_EXECCTRL] >> 30 == 1


def test_bool_keywords_and_an_empty_body():
    prog, _ = assemble("pass", autopush=True, side_pindir=True)
    assert prog == [
        array("H"),
        -1,
        -1,
        -1,
        1 << 29,
        (1 << 16) | (0 << 25) | (0 << 20),
        None,
        None,
        None,
    ]
