"""The firmware's PIO programs: golden opcodes, an independent assembler, and timing.py's labels.

pioprogs.py is assembled by the emulator's rp2.asm_pio (MicroPython v1.28 rules); the same
programs written as pioasm text and assembled by adafruit_pioasm must give the same 16-bit
words, and the label addresses the word builder and decoder use must point where they should.
"""

import importlib
import sys

import adafruit_pioasm
import pytest
import timing as T
from tmspio.emulator import rp2 as standin_rp2

GEN_GOLDEN = [
    0x6021,
    0x605A,
    0x80A0,
    0xA0C7,
    0x80A0,
    0xB009,
    0xB027,
    0x1047,
    0xA003,
    0x008C,
    0x80A0,
    0x60A5,
    0xA026,
    0x004D,
    0x0005,
    0x2020,
    0x20A0,
    0x000A,
    0x20A0,
    0x2020,
    0x000A,
    0x20C7,
    0x80A0,
    0xA027,
    0x001A,
    0x603B,
    0x005A,
]
CAP_GOLDEN = [0x00C6, 0x4040, 0x00C9, 0x0082, 0x4040, 0x0082, 0x0080, 0x4040, 0x0080, 0x4040]

GEN_TEXT = """
.program pulse_gen
.side_set 1
seg:
    out x, 1 side 0
    out y, 26 side 0
    pull side 0
    mov isr, osr side 0
    pull side 0
onset:
    mov pins, ~x side 1
    mov x, osr side 1
hi:
    jmp x-- hi side 1
    mov pins, null side 0
    jmp y-- low side 0
.wrap_target
cmd:
    pull side 0
    out pc, 5 side 0
low:
    mov x, isr side 0
lo:
    jmp x-- lo side 0
    jmp onset side 0
trig_rising:
    wait 0 pin 0 side 0
    wait 1 pin 0 side 0
    jmp cmd side 0
trig_falling:
    wait 1 pin 0 side 0
    wait 0 pin 0 side 0
    jmp cmd side 0
end:
    wait 1 irq 7 side 0
wait_long:
    pull side 0
    mov x, osr side 0
    jmp wl side 0
wait:
    out x, 27 side 0
wl:
    jmp x-- wl side 0
.wrap
"""

CAP_TEXT = """
.program edge_capture
.wrap_target
high:
    jmp pin hdec
    in y, 32
low:
    jmp pin rise
    jmp y-- low
    in y, 32
    jmp y-- low
hdec:
    jmp y-- high
    in y, 32
    jmp y-- high
rise:
    in y, 32
.wrap
"""


@pytest.fixture(scope="module")
def progs():
    # pioprogs does `import rp2`: give it the stand-in for the import only
    saved = sys.modules.get("rp2")
    sys.modules["rp2"] = standin_rp2
    try:
        sys.modules.pop("pioprogs", None)
        return importlib.import_module("pioprogs")
    finally:
        if saved is None:
            del sys.modules["rp2"]
        else:
            sys.modules["rp2"] = saved


def test_generator_words_golden_and_independent(progs):
    words = list(progs.pulse_gen[0])
    assert words == GEN_GOLDEN
    ada = adafruit_pioasm.Program(GEN_TEXT)
    assert list(ada.assembled) == GEN_GOLDEN
    assert ada.pio_kwargs["wrap_target"] == T.GEN_CMD and ada.pio_kwargs["wrap"] == 26
    assert len(words) == T.GEN_LENGTH


def test_capture_words_golden_and_independent(progs):
    assert list(progs.edge_capture[0]) == CAP_GOLDEN
    ada = adafruit_pioasm.Program(CAP_TEXT)
    assert list(ada.assembled) == CAP_GOLDEN
    assert (ada.pio_kwargs["wrap_target"], ada.pio_kwargs["wrap"]) == (T.CAP_HIGH, 9)
    assert len(CAP_GOLDEN) == T.CAP_LENGTH


def test_label_addresses_in_timing_match_the_program():
    g = GEN_GOLDEN
    assert g[T.GEN_SEG] == 0x6021  # out x, 1: the segment header
    assert g[T.GEN_ONSET] == 0xB009  # mov pins, ~x side 1: the rising edge
    assert g[T.GEN_CMD] == 0x80A0 and g[T.GEN_CMD + 1] == 0x60A5  # pull; out pc, 5
    assert g[T.GEN_TRIG_RISING : T.GEN_TRIG_RISING + 2] == [0x2020, 0x20A0]  # wait 0, wait 1
    assert g[T.GEN_TRIG_FALLING : T.GEN_TRIG_FALLING + 2] == [0x20A0, 0x2020]
    assert g[T.GEN_END] == 0x20C7  # wait 1 irq 7
    assert g[T.GEN_WAIT_LONG] == 0x80A0 and g[T.GEN_WAIT] == 0x603B  # pull; out x, 27
    # the JMP targets are relative to the program start (the SDK adds the load offset)
    assert g[T.GEN_ONSET + 2] & 0x1F == T.GEN_ONSET + 2  # hi: jmp x-- hi
    c = CAP_GOLDEN
    assert c[T.CAP_HIGH] == 0x00C6 and c[T.CAP_LOW] == 0x00C9  # jmp pin hdec / jmp pin rise


def test_program_settings(progs):
    gen = progs.pulse_gen
    # EXECCTRL image: wrap 26 / wrap target 10, side-set not optional
    assert gen[-5] == (26 << 12) | (T.GEN_CMD << 7)
    # SHIFTCTRL image: TX FIFO joined, OUT shifts right, no autopull, pull threshold 32
    assert gen[-4] == (1 << 30) | (1 << 19)
    cap = progs.edge_capture
    assert cap[-5] == (9 << 12)
    # RX FIFO joined, autopush at 32 bits
    assert cap[-4] == (1 << 31) | (1 << 16)
