"""Standard protocols on the emulated board: every edge at its planned cycle, pad and capture.

Each program is built here in integer cycles at 125 MHz (the host compiler does the same from
protocol files); the plan comes from firmware/plan.py, the capture expectation from
firmware/capture.py. Run times are in docs/performance.md terms: each test < 20 s.
"""

import progformat as pf
import timing as T
from fwchecks import check_run
from fwtest import run_engine

HZ = 125_000_000
MS = 125_000  # cycles per millisecond
US = 125
W = 100 * US  # 100 us trigger pulses


def itbs():
    # 3 pulses at 50 Hz every 200 ms, 10 bursts per 2 s train, a train every 10 s, 20 trains;
    # the marker rises with each train's first pulse
    segs = []
    for _train in range(20):
        for burst in range(10):
            gap = 160 * MS if burst < 9 else 10_000 * MS - 1_800 * MS - 40 * MS
            segs.append((3, W, 20 * MS, gap, pf.FLAG_MARKER if burst == 0 else 0))
    return pf.Program(HZ, [pf.Channel(0, 0, 0, segs)])


def test_itbs_600_pulses_every_edge_exact(cfg):
    prog = itbs()
    ons = list(prog.channels[0].onsets())
    assert len(ons) == 600 and ons[-1] - ons[0] == 191_840 * MS  # last pulse at 191.84 s
    r = run_engine(pf.encode(prog), "h.run(100, 100000)\nh.report([2, 6, 11])\n")
    assert r["status"]["state"] == "done" and r["status"]["faults"] == []
    assert r["status"]["pulses_delivered"] == r["status"]["pulses_planned"] == 600
    assert r["status"]["captured"] == ["ch0", "confirm"]
    planned = check_run(prog, r, cfg)
    assert len(planned[0]) == 1200
    # the first onset follows the synchronous start by exactly the documented latency
    assert planned[0][0][0] == r["starts"]["gen"] + T.ONSET_LATENCY + T.OUTPUT_LATENCY
    # time zero in the capture clock comes from the first captured onset; with even periods
    # every captured onset then equals its planned onset exactly (deviation 0)
    t0 = r["status"]["start_cycle"]
    onsets = [c - t0 for src, lv, c in r["edges"] if src == "ch0" and lv == 1]
    assert onsets == ons


def test_ctbs600_streams_through_both_dma_buffers(cfg):
    # 200 bursts of 3 at 50 Hz every 200 ms: 1000 FIFO words, more than the 2 x 256 buffers
    prog = pf.Program(HZ, [pf.Channel(0, 0, 0, [(3, W, 20 * MS, 160 * MS, 0)] * 200)])
    ons = list(prog.channels[0].onsets())
    assert ons[-1] - ons[0] == 39_840 * MS
    r = run_engine(pf.encode(prog), "h.run(100, 100000)\nh.report([2, 6])\n")
    assert r["status"]["state"] == "done" and r["status"]["pulses_delivered"] == 600
    check_run(prog, r, cfg)


def test_10hz_75_trains_of_40_over_2223_9_s(cfg):
    train = (40, W, 100 * MS, 30_000 * MS - 3_900 * MS, pf.FLAG_MARKER)
    prog = pf.Program(HZ, [pf.Channel(0, 0, 0, [train] * 75)])
    ons = list(prog.channels[0].onsets())
    assert len(ons) == 3000 and ons[-1] - ons[0] == 2_223_900 * MS
    r = run_engine(pf.encode(prog), "h.run(500, 100000)\nh.report([2, 6])\n", timeout=120)
    assert r["status"]["state"] == "done" and r["status"]["pulses_delivered"] == 3000
    check_run(prog, r, cfg)  # includes 32 capture counter wraps (every 2**33 cycles)


def test_four_channel_paired_pulse_zero_skew(cfg):
    # conditioning pulse on 0 and 2, test pulse 3 ms later on 1 and 3 (3 idles high), 10 pairs
    # 5 s apart; channels 0/2 and 1/3 carry the same timing, so their edges must coincide
    cs = [(1, W, 0, 5_000 * MS, pf.FLAG_MARKER)] * 10
    ts = [(1, W, 0, 5_000 * MS, 0)] * 10
    prog = pf.Program(
        HZ,
        [
            pf.Channel(0, 0, 0, cs),
            pf.Channel(1, 0, 3 * MS, ts),
            pf.Channel(2, 0, 0, [(1, W, 0, 5_000 * MS, 0)] * 10),
            pf.Channel(3, 1, 3 * MS, ts),
        ],
    )
    r = run_engine(pf.encode(prog), "h.run(200, 100000)\nh.report([2, 3, 4, 5, 6, 25])\n")
    assert r["status"]["state"] == "done" and r["status"]["pulses_delivered"] == 40
    assert r["status"]["captured"] == ["ch0", "ch1", "ch2", "ch3"]
    planned = check_run(prog, r, cfg)
    s = r["starts"]["gen"]
    tr = {p: [e for e in r["traces"][p] if e[0] >= s] for p in (2, 3, 4, 5)}
    assert [c for c, _ in tr[2]] == [c for c, _ in tr[4]]  # skew 0 cycles
    assert [c for c, _ in tr[3]] == [c for c, _ in tr[5]]
    assert [lv for _, lv in tr[5]] == [1 - lv for _, lv in tr[3]]  # idle-high mirror
    assert planned[1][0][0] - planned[0][0][0] == 3 * MS
    # the status LED (GPIO25) is lit from arm until the run is over
    (_, off0), (on, lv1), (off, lv2) = r["traces"][25]
    assert (off0, lv1, lv2) == (0, 1, 0) and on < s and off > planned[3][-1][0]
