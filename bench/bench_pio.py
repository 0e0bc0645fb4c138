"""Benchmark of the PIO simulator on a full iTBS session (docs/performance.md, "PIO simulator").

Workload: 600 pulses (3 at 50 Hz per burst, bursts every 200 ms, 10 bursts per train, trains
every 10 s, 20 trains; last onset at 191.84 s), 1 ms wide, 125 MHz. PIO0 SM0 makes the pulses
on GPIO 2 from (high, low) count pairs that DMA channel 0 feeds into its TX FIFO; PIO0 SM1
timestamps every edge of GPIO 2 with a 2-tick `jmp pin`/`jmp y--` polling loop (clock divider
4) and `in y, 32` autopushes that DMA channel 1 drains into an array. Simulated to the end.

Run:  .venv/bin/python bench/bench_pio.py            (CPython, MicroPython and pioemu)
      MICROPYPATH=host/tmspio/emulator/mpy .venv/bin/micropython bench/bench_pio.py --mpy
"""

import sys

try:
    import utime as _clock  # MicroPython: the built-in, not the stand-in time.py

    def _now():
        return _clock.ticks_us() / 1e6

except ImportError:
    import time as _clock

    def _now():
        return _clock.perf_counter()


try:
    from rp2040 import board as emuboard
except ImportError:
    from tmspio.emulator.mpy.rp2040 import board as emuboard

from array import array

SYSCLK = 125_000_000
WIDTH = SYSCLK // 1000  # 1 ms
PIN = 2
PIO0 = 0x50200000
DMA = 0x50000000

# SM0: pulse generator. Contract: autopull 32, word pairs (high-3, low-3) in ticks; 1 tick = 1
# cycle; pulse high = Xh + 3 cycles, onset-to-onset = Xh + Xl + 6 cycles.
PULSER = [
    0x6020,  # 0: out x, 32          1 (+1 stall on the very first word)
    0xE001,  # 1: set pins, 1        1
    0x0042,  # 2: jmp x-- 2          Xh + 1
    0x6020,  # 3: out x, 32          1
    0xE000,  # 4: set pins, 0        1
    0x0045,  # 5: jmp x-- 5          Xl + 1
]
# SM1: edge timestamper (jmp pin = GPIO 2), autopush 32, divider 4: y counts down 1 per 2 ticks.
CAPTURE = [
    0xA04B,  # 0: mov y, ~null
    0x00C3,  # 1: low:   jmp pin rise
    0x0081,  # 2:        jmp y-- low
    0x4040,  # 3: rise:  in y, 32
    0x00C6,  # 4: high:  jmp pin still
    0x0007,  # 5:        jmp fall
    0x0084,  # 6: still: jmp y-- high
    0x4040,  # 7: fall:  in y, 32
    0x0001,  # 8:        jmp low
]


def itbs_onsets():
    out = []
    for train in range(20):
        for burst in range(10):
            for pulse in range(3):
                out.append(train * 10 * SYSCLK + burst * SYSCLK // 5 + pulse * SYSCLK // 50)
    return out


def itbs_words(onsets):
    words = array("I")
    for i, t in enumerate(onsets):
        nxt = onsets[i + 1] if i + 1 < len(onsets) else t + 2 * WIDTH
        words.append(WIDTH - 3)
        words.append(nxt - t - WIDTH - 3)
    return words


def build(board, words, capture):
    for i, w in enumerate(PULSER):
        board.write32(PIO0 + 0x48 + 4 * i, w)
    for i, w in enumerate(CAPTURE):
        board.write32(PIO0 + 0x48 + 4 * (8 + i), (w + 8) if w >> 13 == 0 else w)
    sm0 = PIO0 + 0xC8
    board.write32(sm0 + 4, (5 << 12) | (0 << 7))  # wrap 5 -> 0
    board.write32(sm0 + 8, (1 << 19) | (1 << 18) | (1 << 17))  # autopull 32, right
    board.write32(sm0 + 20, (1 << 26) | (PIN << 5))  # SET pin 2
    board.write32(sm0 + 16, 0xE081)  # set pindirs, 1
    board.write32(sm0 + 16, 0x0000)  # jmp 0
    sm1 = PIO0 + 0xC8 + 0x18
    board.write32(sm1 + 0, 4 << 16)
    board.write32(sm1 + 4, (PIN << 24) | (16 << 12) | (9 << 7))  # jmp pin 2, wrap 16 -> 9
    board.write32(sm1 + 8, (1 << 19) | (1 << 18) | (1 << 16))  # autopush 32
    board.write32(sm1 + 16, 0x0008)  # jmp 8
    board.write32(0x40014000 + 8 * PIN + 4, 6)  # GPIO 2 -> PIO0
    # DMA 0: words -> TXF0, paced by PIO0 TX0 (DREQ 0). DMA 1: RXF1 -> capture (DREQ 5).
    board.write32(DMA + 0x00, board.dma_address(words))
    board.write32(DMA + 0x04, PIO0 + 0x10)
    board.write32(DMA + 0x08, len(words))
    board.write32(DMA + 0x0C, 1 | (2 << 2) | (1 << 4) | (0 << 15) | (1 << 21) | (0 << 11))
    board.write32(DMA + 0x40, PIO0 + 0x24)
    board.write32(DMA + 0x44, board.dma_address(capture))
    board.write32(DMA + 0x48, len(capture))
    board.write32(DMA + 0x4C, 1 | (2 << 2) | (1 << 5) | (5 << 15) | (1 << 21) | (1 << 11))
    board.write32(PIO0 + 0x2000, 0x303)  # start SM0 and SM1 in the same cycle


def run_itbs(single_step=False):
    onsets = itbs_onsets()
    words = itbs_words(onsets)
    capture = array("I", [0] * (2 * len(onsets)))
    t0 = _now()
    board = emuboard.Board(single_step=single_step)
    build(board, words, capture)
    end = onsets[-1] + 3 * WIDTH
    board.advance(end)
    wall = _now() - t0
    trace = board.trace(PIN)[1:]
    return {
        "wall_s": wall,
        "cycles": board.cycle,
        "edges": len(trace),
        "first_onset": trace[0][0],
        "last_onset": trace[-2][0],
        "captured": board.dma.ch[1].reload - board.dma.ch[1].count,
        "check": check(trace, capture, onsets),
    }


def check(trace, capture, onsets):
    """Pulses exact (onset offsets and widths), every edge timestamped within one capture tick."""
    first = trace[0][0]
    for i, t in enumerate(onsets):
        rise = trace[2 * i]
        fall = trace[2 * i + 1]
        if rise != (first + t, 1) or fall != (first + t + WIDTH, 0):
            return "pulse %d wrong: %r %r" % (i, rise, fall)
    for i in range(1, len(trace)):
        dc = trace[i][0] - trace[i - 1][0]
        dy = (capture[i - 1] - capture[i]) & 0xFFFFFFFF
        # y drops once per 8 cycles; the capture path adds 1 tick (8 cycles) to a high
        # interval and 2 ticks (16 cycles, the extra `jmp low`) to a low interval
        if dc != 8 * dy + (8 if trace[i][1] == 0 else 16):
            return "edge %d timestamp off: %d cycles vs %d ticks" % (i, dc, dy)
    return "ok"


BLINK = [0xE081, 0xE001, 0xE027, 0x0143, 0xE000, 0xE027, 0x0146]  # toolchain.md §3 program


def blink_rate(single_step, cycles=200_000):
    """Cycles per wall second on a dense program (an edge every 18 cycles, loops of 8)."""
    board = emuboard.Board(single_step=single_step)
    for i, w in enumerate(BLINK):
        board.write32(PIO0 + 0x48 + 4 * i, w)
    board.write32(PIO0 + 0xCC, (6 << 12) | (1 << 7))
    board.write32(PIO0 + 0xDC, 1 << 26)
    board.write32(0x40014000 + 4, 6)
    board.write32(PIO0 + 0x2000, 0x101)
    t0 = _now()
    board.advance(cycles)
    return cycles / (_now() - t0)


def pioemu_rate(cycles=60_000):
    """Same pulse program in rp2040-pio-emulator: emulated cycles per wall second."""
    from collections import deque

    from pioemu import State, clock_cycles_reached, emulate

    words = itbs_words(itbs_onsets()[:4])
    short = deque([w // 100 for w in words])  # shorter counts so edges occur in the prefix
    state = State(transmit_fifo=short)
    t0 = _now()
    n = 0
    for _before, after in emulate(
        PULSER,
        stop_when=clock_cycles_reached(cycles),
        initial_state=state,
        auto_pull=True,
        pull_threshold=32,
        shift_osr_right=True,
        set_base=PIN,
        set_count=1,
        wrap_top=5,
    ):
        n = after.clock
    return n / (_now() - t0)


def main():
    if "--mpy" in sys.argv:
        r = run_itbs()
        print("RESULT", r["wall_s"], r["cycles"], r["edges"], r["captured"], r["check"])
        return
    import json
    import os
    import subprocess

    r = run_itbs()
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    env = dict(os.environ, MICROPYPATH=os.path.join(root, "host/tmspio/emulator/mpy"))
    mp = os.path.join(os.path.dirname(sys.executable), "micropython")
    out = subprocess.run(
        [mp, os.path.join(here, "bench_pio.py"), "--mpy"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    i = out.index("RESULT")
    r["mpy_wall_s"] = float(out[i + 1])
    r["mpy_check"] = " ".join(out[i + 5 :])
    rate = pioemu_rate()
    r["pioemu_cycles_per_s"] = rate
    r["cpython_cycles_per_s"] = r["cycles"] / r["wall_s"]
    r["speedup_vs_pioemu"] = r["cpython_cycles_per_s"] / rate
    r["blink_fast_cycles_per_s"] = blink_rate(False)
    r["blink_single_step_cycles_per_s"] = blink_rate(True)
    print(json.dumps(r, sort_keys=True))


if __name__ == "__main__":
    main()
