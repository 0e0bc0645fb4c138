"""Start modes on the emulated board: external trigger latency and gated refractory."""

import plan
import progformat as pf
import timing as T
from fwchecks import check_run
from fwtest import run_engine

HZ = 125_000_000
MS = 125_000
W = 12_500  # 100 us


def _drive_body(rel_triggers, width, poll_ms=20):
    # trigger_in pulses at start + rel (rising edge), `width` cycles high
    return (
        "def trig(h):\n"
        "    s = h.starts['gen']\n"
        "    for d in %r:\n"
        "        h.board.drive(10, 1, at=s + d)\n"
        "        h.board.drive(10, 0, at=s + d + %d)\n"
        "h.run(%d, 100000, trig)\n"
        "h.report([2, 3, 6, 10])\n" % (list(rel_triggers), width, poll_ms)
    )


def test_trigger_start_latency_is_the_documented_constant(cfg):
    assert T.TRIGGER_LATENCY == 17
    delay = 1000
    segs = [(5, W, 2 * MS, 3 * MS, 0)]
    prog = pf.Program(
        HZ, [pf.Channel(0, 0, delay, segs), pf.Channel(1, 0, delay, segs)], pf.START_TRIGGER
    )
    r = run_engine(pf.encode(prog), _drive_body([5000], 200))
    s = r["starts"]["gen"]
    trig = s + 5000
    assert [e for e in r["traces"][10] if e[0] >= s] == [(trig, 1), (trig + 200, 0)]
    planned = check_run(prog, r, cfg, [trig])
    # trigger_in pad edge -> first output pad edge, delay 0 would be exactly 17 cycles
    assert planned[0][0] == (trig + T.TRIGGER_LATENCY + delay, 1)
    assert planned[0] == planned[1]  # both channels start on the same cycle: skew 0
    assert r["status"]["pulses_delivered"] == 10 and r["status"]["state"] == "done"
    # the trigger input is captured (check_run compared its edges) for the host's plan
    assert r["status"]["captured"] == ["ch0", "ch1", "trigger_in", "confirm"]
    assert [(lv, c) for src, lv, c in r["edges"] if src == "trigger_in"] == [
        (1, trig - r["starts"]["cap"]),
        (0, trig + 200 - r["starts"]["cap"]),
    ]


def test_gated_one_segment_per_accepted_trigger_refractory_ignored(cfg):
    refr = 10 * MS
    seg = (2, W, 2 * MS, 3 * MS, 0)
    prog = pf.Program(HZ, [pf.Channel(0, 0, 0, [seg] * 4)], pf.START_GATED, refr)
    t0 = 1000
    d2 = t0 + refr + 1000
    d3 = d2 + refr  # exactly at the end of the refractory interval: accepted
    d4 = d3 + refr + 500
    rel = [t0, t0 + refr - 1, d2, d3, d3 + 2 * MS, d4, d4 + refr + 500]
    r = run_engine(pf.encode(prog), _drive_body(rel, 50))
    s = r["starts"]["gen"]
    trig = [s + d for d in rel]
    acc = plan.accepted_triggers(prog, s, trig)
    # one cycle inside the refractory interval, 2 ms inside it, and after the last segment:
    # ignored; every other edge starts exactly one segment
    assert acc == [s + t0, s + d2, s + d3, s + d4]
    planned = check_run(prog, r, cfg, trig)
    assert [c for c, lv in planned[0] if lv == 1] == [
        a + T.TRIGGER_LATENCY + k * 2 * MS for a in acc for k in (0, 1)
    ]
    assert r["status"]["pulses_delivered"] == 8 and r["status"]["state"] == "done"
    assert r["status"]["captured"] == ["ch0", "trigger_in", "confirm"]


def test_trigger_start_on_a_falling_edge_board(cfg):
    # an active-low trigger_in (polarity "falling", pull-up): same latency from the falling edge
    cfg = dict(
        cfg,
        polarity=dict(cfg["polarity"], trigger_in="falling"),
        pulls=dict(cfg["pulls"], trigger_in="up"),
    )
    prog = pf.Program(HZ, [pf.Channel(0, 0, 0, [(3, W, 2 * MS, 3 * MS, 0)])], pf.START_TRIGGER)
    body = (
        "def trig(h):\n"
        "    s = h.starts['gen']\n"
        "    h.board.drive(10, 0, at=s + 4000)\n"
        "    h.board.drive(10, 1, at=s + 4300)\n"
        "h.run(20, 100000, trig)\n"
        "h.report([2, 10])\n"
    )
    r = run_engine(pf.encode(prog), body, cfg)
    s = r["starts"]["gen"]
    assert [e for e in r["traces"][10] if e[0] >= s] == [(s + 4000, 0), (s + 4300, 1)]
    planned = check_run(prog, r, cfg, [s + 4000])
    assert planned[0][0] == (s + 4000 + T.TRIGGER_LATENCY, 1)
    assert r["status"]["pulses_delivered"] == 3
