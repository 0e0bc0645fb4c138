"""A 100,000-pulse fully jittered program (intervals drawn from 10..20 ms, 300 KB on the wire,
2.4 times the emulated board's program size limit) streamed to the real firmware on the
emulated board through the link: every pulse on its planned cycle, no fault
(docs/program-format.md §8)."""

import random

import pytest
from tmspio import link
from tmspio.emulator.serial_board import SerialBoard

pf = link.progformat
HZ = 125_000_000
MS = 125_000
N = 100_000


@pytest.mark.timeout(1800)
def test_a_100000_pulse_jittered_program_streams_with_every_pulse_on_its_cycle():
    rnd = random.Random(100_000)
    segs = [(1, 1250, 0, rnd.randrange(10 * MS, 20 * MS), 0) for _ in range(N - 1)]
    segs.append((1, 1250, 0, 2 * 1250 + 13, 0))
    prog = pf.Program(HZ, [pf.Channel(0, 0, 1000, segs)])
    with SerialBoard(speed="max") as board, link.connect(board.path, hello_timeout=60) as b:
        assert len(pf.encode(prog)) > 2 * b.info["max_program_bytes"]
        feeder = b.stream(prog, heartbeat_ms=0)
        st = b.wait(timeout=1700)
        feeder.join(10)
        assert b.stream_error is None
        assert (st["state"], st["faults"], st["pulses_planned"], st["pulses_delivered"]) == (
            "done",
            [],
            N,
            N,
        )
        assert b.faults == []
        onsets = [c for src, lv, c in b.edges if src == 0 and lv == 1]
        t0 = st["start_cycle"]
    planned = list(prog.channels[0].onsets())
    assert len(onsets) == N
    # the capture samples every 2 cycles: an onset of the other parity than the grid reads 1
    # cycle late, and time zero is the first onset; exactly one grid parity q explains all
    dev = [c - t0 - p for c, p in zip(onsets, planned, strict=True)]
    fits = [q for q in (0, 1) if dev == [((p + q) % 2) - ((planned[0] + q) % 2) for p in planned]]
    assert len(fits) == 1, dev[:20]
