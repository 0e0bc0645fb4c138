"""tmspio.logs.trigger_plan: trigger- and gated-start plans laid on the accepted trigger edges
(issue 9 item 4), with the board's own firmware/plan.py rule."""

import timing  # firmware/timing.py (firmware/ is on pytest's pythonpath)
from proto_helpers import GATED
from tmspio import compiler, logs
from tmspio.protocols import parser

CLK = 125_000_000
MS = CLK // 1000
LAT = timing.TRIGGER_LATENCY  # 17
TRIG = 6  # wire.SRC_TRIGGER_IN


TRIGGER = """\
name = "trig"
title = "trigger start, two channels"
family = "rtms"
pulse_width = "1 ms"
channels = [
  { name = "a", polarity = "active-high" },
  { name = "b", polarity = "active-high", offset = "10 ms" },
]
intensity = { percent = 50, reference = "RMT" }
[start]
mode = "trigger"
[timing]
inter_pulse_interval = "10 Hz"
pulses_in_burst = 5
"""

TRAIN = [0, 100 * MS, 200 * MS]


def _compiled(tmp_path, text):
    path = tmp_path / "p.toml"
    path.write_text(text)
    return compiler.compile_protocol(parser.resolve(str(path)), CLK)


def _onsets(accepted):
    return [(0, 1, a + LAT + t) for a in accepted for t in TRAIN]


def test_gated_plan_on_captured_edges_ignores_the_refractory_interval(tmp_path):
    c = _compiled(tmp_path, GATED)
    t0 = 5000
    gate = [t0 + k * 300 * MS for k in range(12)]  # every 0.3 s; refractory 1 s
    accepted = [gate[0], gate[4], gate[8]]  # 0, 1.2, 2.4 s: the rest are inside the interval
    early = t0 - 40 * MS  # an edge before the generators started: not the first accepted
    edges = [(TRIG, 1, g) for g in [early, *gate]] + [(TRIG, 0, g + MS) for g in gate]
    edges += _onsets(accepted)
    start = accepted[0] + LAT  # the board's start_cycle: first onset - delay (0)
    planned, info = logs.trigger_plan(c.program, start, edges, TRIG, 1)
    assert planned == {0: [a - accepted[0] + t for a in accepted for t in TRAIN]}
    assert planned[0] != c.channel_cycles[0]  # the densest case would be 0, 1 s, 2 s
    assert (info["accepted_triggers"], info["trigger_edges_captured"]) == (3, 13)
    assert "trigger_in edges the board captured" in info["timing_reference"]
    rows = logs.match_pulses(planned, {0: 0}, start, edges, CLK)
    assert [r["deviation_ns"] for r in rows] == [0] * 9
    # a late pulse is measured against its own train's edge + latency
    late = [e if e[2] != accepted[1] + LAT + TRAIN[2] else (0, 1, e[2] + 3) for e in edges]
    rows = logs.match_pulses(planned, {0: 0}, start, late, CLK)
    assert [r["deviation_ns"] for r in rows] == [0] * 5 + [24] + [0] * 3


def test_gated_train_whose_trigger_never_came_is_not_delivered(tmp_path):
    c = _compiled(tmp_path, GATED)
    accepted = [10_000, 10_000 + 1500 * MS]
    edges = [(TRIG, 1, a) for a in accepted] + _onsets(accepted)
    start = accepted[0] + LAT
    planned, info = logs.trigger_plan(c.program, start, edges, TRIG, 1)
    assert planned[0][6:] == [None, None, None]
    assert info["accepted_triggers"] == 2
    rows = logs.match_pulses(planned, {0: 0}, start, edges, CLK)
    s = logs.summarize(rows, True, "host stop")
    assert (s["pulses_planned"], s["pulses_delivered"], s["max_abs_deviation_ns"]) == (9, 6, 0)
    assert [r["planned_s"] for r in rows][6:] == [None] * 3
    # the same run with trigger_in not captured: each train's edge from its first onset
    planned2, info2 = logs.trigger_plan(c.program, start, _onsets(accepted), TRIG, 1)
    assert planned2 == planned
    assert (info2["accepted_triggers"], info2["trigger_edges_captured"]) == (2, 0)
    assert "inferred from its train's first captured onset" in info2["timing_reference"]


def test_inferred_gated_plan_measures_each_pulse_against_its_train(tmp_path):
    c = _compiled(tmp_path, GATED)
    accepted = [777, 777 + 1000 * MS, 777 + 3333 * MS + 1]
    edges = _onsets(accepted)
    edges[4] = (0, 1, edges[4][2] - 2)  # train 1, second pulse 2 cycles early
    start = accepted[0] + LAT
    planned, info = logs.trigger_plan(c.program, start, edges, TRIG, 1)
    assert planned == {0: [a - accepted[0] + t for a in accepted for t in TRAIN]}
    assert info["accepted_triggers"] == 3
    rows = logs.match_pulses(planned, {0: 0}, start, edges, CLK)
    assert [r["deviation_ns"] for r in rows] == [0, 0, 0, 0, -16, 0, 0, 0, 0]


def test_trigger_mode_inferred_plan_is_the_compiled_plan(tmp_path):
    # without captured trigger_in edges a trigger-start run keeps its old numbers exactly
    c = _compiled(tmp_path, TRIGGER)
    start = 123_456
    planned, info = logs.trigger_plan(c.program, start, [], TRIG, 1)
    assert planned == {0: c.channel_cycles[0], 1: c.channel_cycles[1]}
    assert (info["accepted_triggers"], info["trigger_edges_captured"]) == (1, 0)
    # with the edge captured: only the first edge starts the program, later ones are ignored
    d = start - LAT
    edges = [(TRIG, 1, d - 7 * MS), (TRIG, 1, d), (TRIG, 1, d + 50 * MS)]
    planned, info = logs.trigger_plan(c.program, start, edges, TRIG, 1)
    assert planned == {0: c.channel_cycles[0], 1: c.channel_cycles[1]}
    assert (info["accepted_triggers"], info["trigger_edges_captured"]) == (1, 3)
    # a falling-edge trigger_in: only level-0 edges count
    planned, info = logs.trigger_plan(c.program, start, edges, TRIG, 0)
    assert info["trigger_edges_captured"] == 0


def test_no_start_cycle_means_no_planned_onset(tmp_path):
    c = _compiled(tmp_path, GATED)
    planned, info = logs.trigger_plan(c.program, None, [], TRIG, 1)
    assert planned == {0: [None] * 9}
    assert info["accepted_triggers"] == 0
