"""Interval blocks (docs/program-format.md §1) on the emulated board: a fully jittered train is
one interval per pulse on the wire, and every pad edge and every captured edge is on its
planned cycle, through the DMA refills, on an idle-high channel and with the marker."""

import random

import progformat as pf
from fwchecks import check_run
from fwtest import run_engine

HZ = 125_000_000
MS = 125_000
W = 12_500  # 100 us


def jittered(n, seed, flags=0):
    rnd = random.Random(seed)
    segs = [(1, W, 0, rnd.randrange(10 * MS, 20 * MS), flags) for _ in range(n - 1)]
    return segs + [(1, W, 0, 2 * W + 13, flags)]


def test_two_jittered_channels_every_edge_exact(cfg):
    # 1,500 pulses per channel, intervals drawn from 10..20 ms (3 bytes each on the wire):
    # channel 0 idle-low, channel 1 idle-high raising the marker with every pulse
    prog = pf.Program(
        HZ,
        [
            pf.Channel(0, 0, 1000, jittered(1500, 1)),
            pf.Channel(1, 1, 5 * MS, jittered(1500, 2, pf.FLAG_MARKER)),
        ],
    )
    data = pf.encode(prog)
    # header 16 + 2 x (channel 16 + block record 24 + 1,499 x 3 + last segment 24) + crc 4
    assert len(data) == 16 + 2 * (16 + 24 + 1499 * 3 + 24) + 4
    r = run_engine(data, "h.run(100, 100000)\nh.report([2, 3, 6])\n", timeout=120)
    st = r["status"]
    assert (st["state"], st["faults"], st["pulses_planned"], st["pulses_delivered"]) == (
        "done",
        [],
        3000,
        3000,
    )
    planned = check_run(prog, r, cfg)
    assert len(planned[0]) == len(planned[1]) == 3000  # 2 edges per pulse
    # deviation 0 for every captured onset of channel 0 against its exact onset
    t0 = r["status"]["start_cycle"]
    got = [c - t0 for src, lv, c in r["edges"] if src == "ch0" and lv == 1]
    want = list(prog.channels[0].onsets())
    assert [g - w for g, w in zip(got, want, strict=True)] == [
        (w & 1) - (want[0] & 1) for w in want
    ]
