"""Instruction semantics, one SM tick each (pio-and-rp2.md §2). The pytest id is the assembly.

Each case: assembly, initial SM state, shift configuration, expected state after one tick.
Programs are padded with NOPs so PC advances to 1 and jump targets up to 4 exist."""

import pytest
from simrig import PIO_BASE, setup_sm, shiftctrl
from tmspio.emulator.mpy.rp2040 import board as emuboard

M = 0xFFFFFFFF
RIGHT = shiftctrl()
LEFT = shiftctrl(out_right=False, in_right=False)
AUTOPUSH8 = shiftctrl(autopush=True, push_thresh=8)
AUTOPULL8 = shiftctrl(autopull=True, pull_thresh=8)

# (asm, initial state, shiftctrl, expected subset of the state after one tick)
CASES = [
    ("jmp 3", {}, RIGHT, {"pc": 3}),
    ("jmp !x 3", {"x": 0}, RIGHT, {"pc": 3}),
    ("jmp !x 3", {"x": 5}, RIGHT, {"pc": 1, "x": 5}),
    ("jmp x-- 3", {"x": 5}, RIGHT, {"pc": 3, "x": 4}),
    ("jmp x-- 3", {"x": 0}, RIGHT, {"pc": 1, "x": M}),
    ("jmp !y 3", {"y": 0}, RIGHT, {"pc": 3}),
    ("jmp y-- 3", {"y": 1}, RIGHT, {"pc": 3, "y": 0}),
    ("jmp y-- 3", {"y": 0}, RIGHT, {"pc": 1, "y": M}),
    ("jmp x!=y 3", {"x": 1, "y": 2}, RIGHT, {"pc": 3}),
    ("jmp x!=y 3", {"x": 7, "y": 7}, RIGHT, {"pc": 1}),
    ("jmp !osre 3", {"ocount": 32}, RIGHT, {"pc": 1}),
    ("jmp !osre 3", {"ocount": 31}, RIGHT, {"pc": 3}),
    ("in x, 8", {"x": 0x1AB}, RIGHT, {"isr": 0xAB000000, "icount": 8}),
    ("in x, 8", {"x": 0x1AB}, LEFT, {"isr": 0xAB, "icount": 8}),
    ("in y, 32", {"y": 0x12345678, "icount": 5}, RIGHT, {"isr": 0x12345678, "icount": 32}),
    ("in null, 4", {"isr": 0xF0000000}, RIGHT, {"isr": 0x0F000000, "icount": 4}),
    ("in isr, 4", {"isr": 0x3, "icount": 30}, LEFT, {"isr": 0x33, "icount": 32}),
    ("in osr, 4", {"osr": 0xFFFFFFF5}, LEFT, {"isr": 0x5, "icount": 4}),
    ("in x, 8", {"x": 0xCD, "icount": 0}, AUTOPUSH8, {"isr": 0, "icount": 0, "rx": [0xCD000000]}),
    (
        "out x, 8",
        {"osr": 0x12345678, "ocount": 0},
        RIGHT,
        {"x": 0x78, "osr": 0x123456, "ocount": 8},
    ),
    ("out x, 8", {"osr": 0x12345678, "ocount": 0}, LEFT, {"x": 0x12, "osr": 0x34567800}),
    (
        "out y, 32",
        {"osr": 0x89ABCDEF, "ocount": 0},
        RIGHT,
        {"y": 0x89ABCDEF, "osr": 0, "ocount": 32},
    ),
    ("out null, 3", {"osr": 0xF, "ocount": 30}, RIGHT, {"osr": 0x1, "ocount": 32}),
    ("out isr, 5", {"osr": 0x3F, "ocount": 0}, RIGHT, {"isr": 0x1F, "icount": 5}),
    ("out pc, 2", {"osr": 0x3, "ocount": 0}, RIGHT, {"pc": 3, "ocount": 2}),
    (
        "out x, 4",
        {"osr": 0xA, "ocount": 32, "tx": [0x5]},
        AUTOPULL8,
        {"x": 0, "osr": 0x5, "ocount": 0, "pc": 0},
    ),
    (
        "out x, 8",
        {"osr": 0xAB, "ocount": 0, "tx": [0x77]},
        AUTOPULL8,
        {"x": 0xAB, "osr": 0x77, "ocount": 0, "pc": 1},
    ),
    ("push", {"isr": 0x55, "icount": 3}, RIGHT, {"rx": [0x55], "isr": 0, "icount": 0}),
    ("push iffull", {"isr": 0x55, "icount": 3}, AUTOPUSH8, {"rx": [], "isr": 0x55, "icount": 3}),
    (
        "push noblock",
        {"isr": 9, "rx": [1, 2, 3, 4]},
        RIGHT,
        {"rx": [1, 2, 3, 4], "isr": 0, "pc": 1},
    ),
    ("push block", {"isr": 9, "rx": [1, 2, 3, 4]}, RIGHT, {"isr": 9, "pc": 0, "stalled": True}),
    ("pull", {"tx": [7, 8]}, RIGHT, {"osr": 7, "ocount": 0, "tx": [8]}),
    ("pull noblock", {"x": 0x42, "osr": 1}, RIGHT, {"osr": 0x42, "ocount": 0, "pc": 1}),
    ("pull block", {}, RIGHT, {"pc": 0, "stalled": True}),
    (
        "pull ifempty",
        {"osr": 3, "ocount": 4, "tx": [9]},
        AUTOPULL8,
        {"osr": 3, "ocount": 4, "tx": [9]},
    ),
    (
        "pull ifempty",
        {"osr": 3, "ocount": 8, "tx": [9]},
        shiftctrl(pull_thresh=8),
        {"osr": 9, "ocount": 0},
    ),
    ("mov x, ~y", {"y": 0x0F0F0000}, RIGHT, {"x": 0xF0F0FFFF}),
    ("mov x, ::y", {"y": 0x1}, RIGHT, {"x": 0x80000000}),
    ("mov y, ::x", {"x": 0x12345678}, RIGHT, {"y": 0x1E6A2C48}),
    ("mov isr, x", {"x": 5, "icount": 9}, RIGHT, {"isr": 5, "icount": 0}),
    ("mov osr, y", {"y": 6, "ocount": 9}, RIGHT, {"osr": 6, "ocount": 0}),
    ("mov pc, y", {"y": 4}, RIGHT, {"pc": 4}),
    ("mov x, status", {"tx": [1]}, RIGHT, {"x": M}),
    ("mov x, status", {"tx": [1, 2]}, RIGHT, {"x": 0}),
    ("mov x, isr", {"isr": 0x99}, RIGHT, {"x": 0x99}),
    ("mov x, osr", {"osr": 0x98}, RIGHT, {"x": 0x98}),
    ("mov y, null", {"y": 3}, RIGHT, {"y": 0}),
    ("set x, 17", {}, RIGHT, {"x": 17}),
    ("set y, 31", {"y": M}, RIGHT, {"y": 31}),
    ("nop", {"x": 1, "y": 2}, RIGHT, {"x": 1, "y": 2, "pc": 1}),
]


def exec_one(src, state, shift, sm=0, status=0x2):
    board = emuboard.Board()
    setup_sm(
        board, src + "\nnop\nnop\nnop\nnop", sm=sm, shiftctrl=shift, status=status, start=False
    )
    m = board.pio[0].sm[sm]
    for k, v in state.items():
        setattr(m, k, list(v) if isinstance(v, list) else v)
    board.write32(PIO_BASE[0] + 0x2000, 0x101 << sm)
    board.advance(1)
    return board, m.state()


@pytest.mark.parametrize(
    "asm,state,shift,expected", CASES, ids=[c[0] + " " + repr(c[1]) for c in CASES]
)
def test_instruction(asm, state, shift, expected):
    _, got = exec_one(asm, state, shift)
    assert {k: got[k] for k in expected} == expected


@pytest.mark.parametrize(
    "asm,sm,flags",
    [
        ("irq 3", 0, 0x08),
        ("irq 1 rel", 2, 0x08),
        ("irq 3 rel", 2, 0x02),
        ("irq 5 rel", 1, 0x40),
        ("irq clear 2", 0, 0x01),
    ],
)
def test_irq_flags(asm, sm, flags):
    board = emuboard.Board()
    board.write32(PIO_BASE[0] + 0x034, 0x05)  # IRQ_FORCE flags 0 and 2
    setup_sm(board, asm + "\nnop", sm=sm, start=False)
    board.write32(PIO_BASE[0] + 0x2000, 0x101 << sm)
    board.advance(1)
    expect = (0x05 | flags) if "clear" not in asm else 0x05 & ~0x04
    assert board.read32(PIO_BASE[0] + 0x030) == expect


def test_blocking_pull_sets_txstall_and_push_sets_rxstall():
    board, _ = exec_one("pull block", {}, RIGHT)
    assert board.read32(PIO_BASE[0] + 0x008) == 1 << 24
    board, _ = exec_one("push block", {"rx": [1, 2, 3, 4]}, RIGHT)
    assert board.read32(PIO_BASE[0] + 0x008) == 1
    board, _ = exec_one("push noblock", {"rx": [1, 2, 3, 4]}, RIGHT)
    assert board.read32(PIO_BASE[0] + 0x008) == 1


def test_set_and_out_pins_write_output_registers():
    board = emuboard.Board()
    setup_sm(
        board,
        "set pins, 0b101\nset pindirs, 0b111\nout pins, 2\nnop",
        set_base=3,
        set_count=3,
        out_base=30,
        out_count=4,
        start=False,
    )
    m = board.pio[0].sm[0]
    m.osr = 0b11
    m.ocount = 0
    board.write32(PIO_BASE[0] + 0x2000, 0x101)
    board.advance(3)
    # OUT PINS writes all OUT_COUNT pins (30, 31, 0, 1 wrapping): low 2 bits from OSR, rest 0
    assert board.read32(PIO_BASE[0] + 0x03C) == (0b101 << 3) | (0b11 << 30)
    assert board.read32(PIO_BASE[0] + 0x040) == 0b111 << 3


def test_out_exec_runs_executee_next_tick_with_its_delay():
    board = emuboard.Board()
    setup_sm(board, "out exec, 16\nset y, 1\nset y, 2\nnop", start=False)
    m = board.pio[0].sm[0]
    m.osr = 0xE325  # set x, 5 [3]
    m.ocount = 0
    board.write32(PIO_BASE[0] + 0x2000, 0x101)
    board.advance(2)
    assert (m.pc, m.x, m.delay) == (1, 5, 3)
    board.advance(4)
    assert (m.pc, m.y) == (2, 1)


def test_forced_instruction_ignores_enable_and_stall_latches():
    board = emuboard.Board()
    setup_sm(board, "nop\nnop", start=False)
    sm0 = 0x50200000 + 0xC8
    board.write32(sm0 + 16, 0xE03A)  # set x, 26 while disabled
    assert board.pio[0].sm[0].x == 26
    board.write32(sm0 + 16, 0x80A0)  # pull block with an empty TX FIFO: stalls, latched
    assert board.read32(sm0 + 4) >> 31 == 1  # EXEC_STALLED
    board.write32(0x50200010, 0x1234)
    board.write32(PIO_BASE[0] + 0x2000, 0x1)
    board.advance(1)
    assert board.read32(sm0 + 4) >> 31 == 0
    assert board.pio[0].sm[0].osr == 0x1234
    assert board.pio[0].sm[0].pc == 0
