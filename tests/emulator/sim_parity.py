"""Scenarios run identically under CPython and the MicroPython unix port (common subset only).

`python sim_parity.py` / `micropython sim_parity.py` (MICROPYPATH=host/tmspio/emulator/mpy)
print one JSON document; test_sim_micropython.py compares the two byte for byte."""

import json
from array import array

try:
    from rp2040 import board as emuboard
    from rp2040.errors import BoardReset
except ImportError:
    from tmspio.emulator.mpy.rp2040 import board as emuboard
    from tmspio.emulator.mpy.rp2040.errors import BoardReset

P0 = 0x50200000
DMA = 0x50000000


def sm_setup(b, sm, words, offset, execctrl, shiftctrl, pinctrl, clkdiv=0x10000, pins=()):
    for i, w in enumerate(words):
        b.write32(P0 + 0x48 + 4 * (offset + i), (w + offset) if w >> 13 == 0 else w)
    r = P0 + 0xC8 + 0x18 * sm
    b.write32(r, clkdiv)
    b.write32(r + 4, execctrl)
    b.write32(r + 8, shiftctrl)
    b.write32(r + 20, pinctrl)
    b.write32(r + 16, 0xE083)  # set pindirs, 3
    b.write32(r + 16, offset)
    for p in pins:
        b.write32(0x40014000 + 8 * p + 4, 6)


def blink_fractional(b):
    # set pins 1 [2] / set pins 0 ; divider 2.5; SET pins 0..1
    sm_setup(
        b, 0, [0xE201, 0xE000], 0, 1 << 12, 0xC0000, (2 << 26), (2 << 16) | (128 << 8), (0, 1)
    )
    b.write32(P0 + 0x2000, 0x101)
    b.advance(300)
    return {"trace": b.trace(0)}


def capture(b):
    words = [0xA04B, 0x00C3, 0x0081, 0x4040, 0x00C6, 0x0007, 0x0084, 0x4040, 0x0001]
    sm_setup(b, 1, words, 8, (9 << 24) | (16 << 12) | (9 << 7), 0xD0000, 0)
    for k, at in enumerate([100, 133, 7000, 7001, 20000]):
        b.drive(9, 1 - k % 2, at=at)
    b.write32(P0 + 0x2000, 0x202)
    b.advance(30000)
    return {"rx": b.pio[0].sm[1].rx, "y": b.pio[0].sm[1].y, "pc": b.pio[0].sm[1].pc}


def dma_echo(b):
    src = array("I", [0x11111111 * (i + 1) for i in range(9)])
    dst = array("I", [0] * 9)
    sm_setup(b, 0, [0x6020, 0x4020], 0, 1 << 12, 0x30000 | 0xC0000, 0)
    b.write32(DMA + 0x00, b.dma_address(src))
    b.write32(DMA + 0x04, P0 + 0x10)
    b.write32(DMA + 0x08, 9)
    b.write32(DMA + 0x0C, 1 | (2 << 2) | (1 << 4) | (1 << 21))
    b.write32(DMA + 0x40, P0 + 0x20)
    b.write32(DMA + 0x44, b.dma_address(dst))
    b.write32(DMA + 0x48, 9)
    b.write32(DMA + 0x4C, 1 | (2 << 2) | (1 << 5) | (4 << 15) | (1 << 11) | (1 << 21))
    b.write32(P0 + 0x2000, 0x101)
    b.advance(100)
    return {"dst": list(dst), "fdebug": b.read32(P0 + 0x008), "cycle": b.cycle}


def irq_handshake(b):
    sm_setup(b, 0, [0xC020, 0xE001, 0x0002], 0, 2 << 12, 0xC0000, (1 << 26))  # irq wait 0
    sm_setup(
        b, 1, [0x20C0, 0xE001, 0x0002], 8, (10 << 12) | (8 << 7), 0xC0000, (1 << 26) | (1 << 5)
    )
    for p in (0, 1):
        b.write32(0x40014000 + 8 * p + 4, 6)
    b.write32(P0 + 0x2000, 0x303)
    b.advance(40)
    return {"t0": b.trace(0), "t1": b.trace(1), "irq": b.read32(P0 + 0x030)}


def watchdog(b):
    b.watchdog_start(500)
    sm_setup(b, 0, [0xE001, 0x0001], 0, 1 << 12, 0xC0000, 1 << 26, pins=(0,))
    b.write32(P0 + 0x2000, 0x101)
    try:
        b.advance(1000)
        caught = None
    except BoardReset as e:
        caught = [e.cause, e.cycle]
    return {"caught": caught, "trace": b.trace(0), "ctrl": b.read32(P0)}


def itbs_short(b):
    sysclk = 125_000_000
    width = sysclk // 1000
    onsets = []
    for train in range(2):
        for burst in range(10):
            for pulse in range(3):
                onsets.append(train * 10 * sysclk + burst * sysclk // 5 + pulse * sysclk // 50)
    words = array("I")
    for i, t in enumerate(onsets):
        nxt = onsets[i + 1] if i + 1 < len(onsets) else t + 2 * width
        words.append(width - 3)
        words.append(nxt - t - width - 3)
    sm_setup(
        b,
        0,
        [0x6020, 0xE001, 0x0042, 0x6020, 0xE000, 0x0045],
        0,
        5 << 12,
        0xE0000,
        (1 << 26) | (2 << 5),
        pins=(2,),
    )
    b.write32(DMA + 0x00, b.dma_address(words))
    b.write32(DMA + 0x04, P0 + 0x10)
    b.write32(DMA + 0x08, len(words))
    b.write32(DMA + 0x0C, 1 | (2 << 2) | (1 << 4) | (1 << 21))
    b.write32(P0 + 0x2000, 0x101)
    b.advance(onsets[-1] + 3 * width)
    tr = b.trace(2)
    return {"edges": len(tr), "first": tr[:3], "last": tr[-2:]}


SCENARIOS = [blink_fractional, capture, dma_echo, irq_handshake, watchdog, itbs_short]


def run_all():
    out = {}
    for f in SCENARIOS:
        for single in (False, True):
            if single and f is itbs_short:
                continue  # 2.4e9 cycles: fast path only (its parity with single-step is
                # covered by the randomised test and the shorter scenarios)
            b = emuboard.Board(single_step=single)
            out[f.__name__ + ("_single" if single else "")] = f(b)
    return out


if __name__ == "__main__":
    print(json.dumps(run_all()))
