"""Helpers for the hardware-model tests: assemble with adafruit_pioasm (an independent
assembler), configure state machines by writing registers through the bus, and snapshot the
whole board so the fast path can be compared with single-step execution."""

import adafruit_pioasm
from tmspio.emulator.mpy import machine, rp2, softirq
from tmspio.emulator.mpy import time as emutime
from tmspio.emulator.mpy.rp2040 import board as emuboard

PIO_BASE = (0x50200000, 0x50300000)
IO_BANK0 = 0x40014000
PADS_BANK0 = 0x4001C000
SIO = 0xD0000000
DMA = 0x50000000
SET_ALIAS = 0x2000
CLR_ALIAS = 0x3000
XOR_ALIAS = 0x1000

CLKDIV, EXECCTRL, SHIFTCTRL, ADDR, INSTR, PINCTRL = 0, 4, 8, 12, 16, 20


def standin_board():
    """A fresh active board with the machine/rp2/time stand-ins' state cleared (as after a
    soft reset), for the stand-in tests."""
    rp2.soft_reset()
    machine.soft_reset_state()
    softirq.clear()
    emutime.forget()
    emutime.set_speed(None)
    return emuboard.Board().activate()


def sm_reg(block, sm, reg):
    return PIO_BASE[block] + 0xC8 + 0x18 * sm + reg


def assemble(src):
    prog = adafruit_pioasm.Program(src)
    return list(prog.assembled), prog.pio_kwargs


def relocate(words, offset):
    return [(w + offset) if w >> 13 == 0 else w for w in words]


def setup_sm(
    board,
    src,
    block=0,
    sm=0,
    offset=0,
    pins=(),
    in_base=0,
    out_base=0,
    out_count=0,
    set_base=0,
    set_count=0,
    side_base=0,
    jmp_pin=0,
    shiftctrl=0x000C0000,
    clkdiv=0x00010000,
    status=0,
    start=True,
):
    """Load `src` (pioasm text or word list) at `offset` and configure SM `sm` like the SDK:
    registers, forced `jmp offset`, FUNCSEL=PIOx for `pins`; start with one CTRL write."""
    if isinstance(src, str):
        words, kw = assemble(src)
    else:
        words, kw = list(src), {}
    words = relocate(words, offset)
    base = PIO_BASE[block]
    for i, w in enumerate(words):
        board.write32(base + 0x48 + 4 * (offset + i), w)
    wrap = kw.get("wrap", len(words) - 1) + offset
    wrap_target = kw.get("wrap_target", 0) + offset
    ss = kw.get("sideset_pin_count", 0)
    ss_en = kw.get("sideset_enable", 0)
    ss_dirs = kw.get("sideset_pindirs", False)
    execctrl = (
        (ss_en << 30)
        | (int(ss_dirs) << 29)
        | (jmp_pin << 24)
        | (wrap << 12)
        | (wrap_target << 7)
        | status
    )
    pinctrl = (
        ((ss + ss_en) << 29)
        | (set_count << 26)
        | (out_count << 20)
        | (in_base << 15)
        | (side_base << 10)
        | (set_base << 5)
        | out_base
    )
    board.write32(sm_reg(block, sm, CLKDIV), clkdiv)
    board.write32(sm_reg(block, sm, EXECCTRL), execctrl)
    board.write32(sm_reg(block, sm, SHIFTCTRL), shiftctrl)
    board.write32(sm_reg(block, sm, PINCTRL), pinctrl)
    board.write32(sm_reg(block, sm, INSTR), offset)  # jmp offset
    for p in pins:
        board.write32(IO_BANK0 + 8 * p + 4, 6 + block)
    if start:
        board.write32(PIO_BASE[block] + SET_ALIAS, (0x101 << sm))
    return words


def shiftctrl(
    autopull=False,
    autopush=False,
    pull_thresh=32,
    push_thresh=32,
    out_right=True,
    in_right=True,
    join_tx=False,
    join_rx=False,
):
    return (
        (int(join_rx) << 31)
        | (int(join_tx) << 30)
        | ((pull_thresh & 31) << 25)
        | ((push_thresh & 31) << 20)
        | (int(out_right) << 19)
        | (int(in_right) << 18)
        | (int(autopull) << 17)
        | (int(autopush) << 16)
    )


def snapshot(board):
    """Everything observable: cycle, pad traces, SM architectural state, PIO and DMA registers."""
    snap = {"cycle": board.cycle, "traces": [board.trace(p) for p in range(30)]}
    for b, blk in enumerate(board.pio):
        snap["pio%d" % b] = {
            "irq": blk.irq,
            "fdebug": blk.fdebug,
            "padout": blk.pad_out,
            "padoe": blk.pad_oe,
            "sm": [sm.state() for sm in blk.sm],
        }
    snap["log"] = list(getattr(board, "test_log", ()))  # values read by scheduled CPU code
    snap["dma"] = [(c.read, c.write, c.count, c.busy) for c in board.dma.ch] + [board.dma.intr]
    return snap


def run_both(build, checkpoints):
    """Run `build(board)` on a fast and a single-step board; compare snapshots at every
    checkpoint (cycle counts to advance, in order). Returns the fast board's snapshots."""
    out = []
    for single in (False, True):
        board = emuboard.Board(single_step=single)
        build(board)
        snaps = []
        for n in checkpoints:
            board.advance(n)
            snaps.append(snapshot(board))
        out.append(snaps)
    for i, (fast, slow) in enumerate(zip(out[0], out[1])):
        for key in slow:
            assert fast[key] == slow[key], "checkpoint %d (%s) differs" % (i, key)
    return out[0]
