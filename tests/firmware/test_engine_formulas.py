"""The generator's cycle formulas at their minimums and beyond 32 bits, on the emulated board.

The board file's limits (10 us minimum width) would refuse these programs, so they run with a
test configuration whose limits allow anything; the PIO minimums of timing.py still apply.
"""

import progformat as pf
import timing as T
from fwchecks import check_run
from fwtest import board_cfg, run_engine

HZ = 125_000_000
W = T.MIN_WIDTH


def _open_cfg():
    cfg = board_cfg()
    cfg["limits"] = {
        "min_width_us": 0,
        "max_width_us": 1 << 40,
        "min_interval_us": 0,
        "max_pulses": 1 << 30,
        "max_rate_hz": 1 << 30,
        "max_rate_window_s": 1,
    }
    return cfg


def test_minimum_width_low_and_gap_exact_with_marker():
    assert (T.MIN_WIDTH, T.MIN_LOW, T.MIN_GAP_SLACK) == (4, 5, 13)
    segs = [
        (3, W, W + T.MIN_LOW, W + T.MIN_GAP_SLACK, pf.FLAG_MARKER),  # 4 high, 5 low, gap 17
        (1, W + 1, 0, W + 1 + T.MIN_GAP_SLACK, pf.FLAG_MARKER),
        (4, 7, 13, 40, 0),
        (2, W, 9, 17, pf.FLAG_MARKER),
    ]
    plain = [seg[:4] + (0,) for seg in segs]  # the marker belongs to one channel
    prog = pf.Program(HZ, [pf.Channel(0, 0, 0, segs), pf.Channel(1, 1, 3, plain)])
    cfg = _open_cfg()
    r = run_engine(pf.encode(prog), "h.run(1, 100)\nh.report([2, 3, 6])\n", cfg)
    assert r["status"]["state"] == "done" and r["status"]["pulses_delivered"] == 20
    planned = check_run(prog, r, cfg)
    s = r["starts"]["gen"]
    ons = [c for c, lv in planned[0] if lv == 1]
    assert ons[:4] == [s + 12, s + 21, s + 30, s + 47]  # period 9, then gap 17 from the last


def test_delay_and_gap_beyond_32_bits():
    # a 2**32 + 12345-cycle delay (34.4 s) and a 2**33 + 3-cycle gap (68.7 s): long waits
    segs = [(2, 10, 20, (1 << 33) + 3, 0), (1, 10, 0, 100, 0)]
    prog = pf.Program(HZ, [pf.Channel(0, 0, (1 << 32) + 12345, segs)])
    cfg = _open_cfg()
    r = run_engine(pf.encode(prog), "h.run(1000, 1000)\nh.report([2])\n", cfg)
    assert r["status"]["state"] == "done" and r["status"]["pulses_delivered"] == 3
    planned = check_run(prog, r, cfg)
    s = r["starts"]["gen"]
    assert [c for c, lv in planned[0] if lv == 1] == [
        s + 12 + (1 << 32) + 12345,
        s + 32 + (1 << 32) + 12345,
        s + 32 + (1 << 32) + 12345 + (1 << 33) + 3,
    ]


def test_fast_path_and_single_step_give_the_same_run():
    # the simulator's event skipping must not change one cycle of the firmware's behaviour:
    # a gated two-channel program at the minimums, on a single-stepped board and a normal one
    segs = [(3, W, W + T.MIN_LOW, 60, pf.FLAG_MARKER), (2, 6, 12, 60, 0)]
    prog = pf.Program(
        HZ,
        [pf.Channel(0, 0, 0, segs), pf.Channel(2, 1, 5, [s[:4] + (0,) for s in segs])],
        pf.START_GATED,
        200,
    )
    body = (
        "def trig(h):\n"
        "    s = h.starts['gen']\n"
        "    for d in (300, 350, 500, 1000):\n"
        "        h.board.drive(10, 1, at=s + d)\n"
        "        h.board.drive(10, 0, at=s + d + 20)\n"
        "h.engine.arm()\nh.engine.start()\ntrig(h)\n"
        "h.board.advance(3000)\n"  # a few thousand cycles: single-stepping is slow
        "h.emit(h.engine.poll())\n"
        "h.report([2, 4, 6])\n"
    )
    cfg = _open_cfg()
    fast = run_engine(pf.encode(prog), body, cfg)
    slow = run_engine(pf.encode(prog), body, cfg, single_step=True)
    assert (fast["status"]["state"], fast["status"]["pulses_delivered"]) == ("done", 10)
    assert fast["status"] == slow["status"]
    for key in ("traces", "edges", "starts"):
        assert fast[key] == slow[key]
    s = fast["starts"]["gen"]
    check_run(prog, fast, cfg, [s + d for d in (300, 350, 500, 1000)])
