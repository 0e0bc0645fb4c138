"""Issue 11: a protocol with conditions and trials runs on the emulated board with every pulse
of every channel on its planned cycle.

tests/e2e/protocols/sici-trials.toml is the SICI experiment of
examples/protocols/sici-experiment.toml (test alone; conditioned at 2 and 3 ms, balanced random
order, jittered trial interval, seeded) with 2 trials per condition 1.1-1.3 s apart, a 0.5 ms
test pulse in sici-3ms (a per-pulse width) and a marker channel sending each trial's code as a
pulse count. Expected values, derived: each channel's pad edges, less the common start
(channel 0's first rising edge less its planned cycle), are exactly the compiled onset cycles,
which are the nearest cycles to the exact onset times; each falling edge is its pulse's width
later; firmware/plan.py gives the same edges from the program.
"""

import json
import os
import subprocess
import sys
from fractions import Fraction

import plan  # firmware/plan.py (firmware/ is on pytest's pythonpath)
import pytest
import timing  # firmware/timing.py
from tmspio import compiler
from tmspio.protocols import parser

pytestmark = pytest.mark.timeout(240)

PROTOCOL = os.path.join(os.path.dirname(__file__), "protocols", "sici-trials.toml")
EXAMPLE = os.path.join(
    os.path.dirname(__file__), "..", "..", "examples", "protocols", "sici-experiment.toml"
)
SYSCLK = 125_000_000
ORDER = ["sici-2ms", "test-alone", "sici-3ms", "test-alone", "sici-2ms", "sici-3ms"]


def _edges(rows, role, level):
    return [r["cycle"] for r in rows if r["role"] == role and r["level"] == level]


def test_sici_trials_run_every_pulse_of_every_channel_on_its_planned_cycle(tmp_path):
    c = compiler.compile_protocol(parser.resolve(PROTOCOL), SYSCLK)
    assert [t.condition for t in c.trials] == ORDER
    # compiled exactly: each onset the nearest cycle to its exact time, no drift
    for times, cycles in zip(c.channel_times, c.channel_cycles):
        assert cycles == [compiler.nearest_cycle(t, SYSCLK) for t in times]
    onset = {t.index: t.onset for t in c.trials}
    cond = c.protocol.condition
    assert c.channel_times[0] == [onset[k] for k, n in enumerate(ORDER) if n != "test-alone"]
    assert c.channel_times[1] == [
        onset[k] + cond(n).pulses["test"].offset for k, n in enumerate(ORDER)
    ]
    codes = {"test-alone": 1, "sici-2ms": 2, "sici-3ms": 3}
    assert c.channel_times[2] == [
        onset[k] + j * Fraction(4, 1000) for k, n in enumerate(ORDER) for j in range(codes[n])
    ]
    assert c.channel_widths[1] == [62_500 if n == "sici-3ms" else 125_000 for n in ORDER]
    assert [i.marker for i in c.pulse_info[2]] == [
        codes[n] for n in ORDER for _ in range(codes[n])
    ]

    out, rig_log = tmp_path / "run", tmp_path / "rig.jsonl"
    env = dict(os.environ, TMSPIO_EMU_RIG=json.dumps({"log": str(rig_log)}))
    proc = subprocess.run(
        [sys.executable, "-m", "tmspio.cli", "run", PROTOCOL, "--emulator", "--speed", "max"]
        + ["--out", str(out), "--quiet"],
        env=env,
        capture_output=True,
        text=True,
        timeout=200,
    )
    assert proc.returncode == 0, proc.stderr
    assert "sici-trials: 22 of 22 pulses delivered; max |deviation| 8 ns" in proc.stdout

    with open(rig_log) as f:
        rows = [json.loads(line) for line in f if line.endswith("\n")]
    rises = [_edges(rows, "trigger[%d]" % ci, 1) for ci in range(3)]
    falls = [_edges(rows, "trigger[%d]" % ci, 0) for ci in range(3)]
    base = rises[0][0] - c.channel_cycles[0][0]
    for ci in range(3):
        assert [r - base for r in rises[ci]] == c.channel_cycles[ci]
        assert [f - r for r, f in zip(rises[ci], falls[ci])] == c.channel_widths[ci]
        start = base - timing.ONSET_LATENCY - timing.OUTPUT_LATENCY
        planned = plan.channel_onsets(c.program, ci, start)
        assert [(t, w) for t, w, _m in planned] == list(zip(rises[ci], c.channel_widths[ci]))
    # channel 0's first pulse of each trial raises the marker output (its segments' flags)
    assert [m for _t, _w, m in plan.channel_onsets(c.program, 0, 0)] == [True] * 4


def test_the_20_line_sici_example_checks_clean():
    proc = subprocess.run(
        [sys.executable, "-m", "tmspio.cli", "check", EXAMPLE],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(
        "sici-experiment at each condition's intensity (highest 120% RMT) on generic-ttl: PASS "
        "(23 rules, 0 refused, 10 warnings)"
    )
    with open(EXAMPLE) as f:
        assert len(f.read().splitlines()) <= 22
