"""Issue 11, done when: the SICI experiment (examples/protocols/sici-experiment.toml, ~20 lines)
runs on the emulated board and its events.tsv and sidecar pass the BIDS validator
(bids-validator-deno) with 0 errors inside a minimal BIDS dataset (tests/support/bidscheck.py).

Expected values, derived: the compiled program (compiler.compile_protocol at 125 MHz) gives
every pulse's onset cycle, trial and condition (Compiled.pulse_info); the capture reads onsets
on its 2-cycle grid with time zero on the first (even) onset, so a pulse planned on an odd
cycle reads exactly one cycle (8 ns) late and every other pulse 0 (docs/running.md).
"""

import csv
import json
import os
import subprocess
import sys
from fractions import Fraction

import bidscheck
import pytest
import tmspio
from tmspio import compiler
from tmspio.protocols import parser

pytestmark = pytest.mark.timeout(300)

EXAMPLE = os.path.join(
    os.path.dirname(__file__), "..", "..", "examples", "protocols", "sici-experiment.toml"
)
SYSCLK = 125_000_000
CONDITIONS = ["test-alone", "sici-2ms", "sici-3ms"]
LEVELS = {
    "test-alone": "condition test-alone: test pulses at trial onset + 0 s (width 1 ms, "
    "120 % RMT); cond not pulsing; marker code 1",
    "sici-2ms": "condition sici-2ms: cond pulses at trial onset + 0 s (width 1 ms, 80 % RMT); "
    "test pulses at trial onset + 2 ms (width 1 ms, 120 % RMT); marker code 2",
    "sici-3ms": "condition sici-3ms: cond pulses at trial onset + 0 s (width 1 ms, 80 % RMT); "
    "test pulses at trial onset + 3 ms (width 1 ms, 120 % RMT); marker code 3",
}
INTENSITY = {"cond": ("80", "RMT"), "test": ("120", "RMT")}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("sici") / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "tmspio.cli", "run", EXAMPLE, "--emulator", "--speed", "max"]
        + ["--out", str(out), "--quiet"],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr
    return out, proc.stdout


def _planned():
    """[(onset cycle, channel name, pulse index, trial, condition)] in onset order."""
    c = compiler.compile_protocol(parser.resolve(EXAMPLE), SYSCLK)
    out = []
    for ci, ch in enumerate(c.protocol.channels):
        for k, (cycle, info) in enumerate(zip(c.channel_cycles[ci], c.pulse_info[ci])):
            out.append((cycle, ch.name, k, info.trial, info.condition))
    return c, sorted(out, key=lambda p: (p[0], p[1]))


def _ns(cycle):
    return 8 * (cycle % 2)  # the capture grid: odd planned cycles read one cycle late


def test_every_pulse_is_logged_with_its_trial_and_condition(run):
    out, printed = run
    c, planned = _planned()
    assert len(planned) == 50 and len(c.trials) == 30
    assert "sici-experiment: 50 of 50 pulses delivered; max |deviation| 8 ns" in printed
    with open(out / "events.tsv", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    assert list(rows[0]) == [
        "onset",
        "duration",
        "trial_type",
        "trial",
        "channel",
        "role",
        "pulse_index",
        "marker",
        "intensity_percent",
        "intensity_reference",
        "output_percent",
        "stimulator",
        "planned_onset",
        "deviation_ns",
        "confirmed",
    ]
    got = [
        (
            r["onset"],
            r["duration"],
            r["trial_type"],
            r["trial"],
            r["channel"],
            r["role"],
            r["pulse_index"],
            r["marker"],
            (r["intensity_percent"], r["intensity_reference"]),
            r["output_percent"],
            r["stimulator"],
            r["planned_onset"],
            r["deviation_ns"],
            r["confirmed"],
        )
        for r in rows
    ]
    expected = [
        (
            "%.9f" % Fraction(cycle * 8 + _ns(cycle), 10**9),
            "0.001000000",
            condition,
            str(trial),
            name,
            "tms",
            str(k),
            "n/a",
            INTENSITY[name],
            "n/a",
            "generic-ttl",
            "%.9f" % Fraction(cycle * 8, 10**9),
            str(_ns(cycle)),
            "true" if name == "cond" else "n/a",  # the rig's loopback answers channel 0
        )
        for cycle, name, k, trial, condition in planned
    ]
    assert got == expected
    # trials interleave the three conditions, each trial's pulses carry its condition
    assert [t.condition for t in c.trials].count("test-alone") == 10
    assert {(r["trial"], r["trial_type"]) for r in rows} == {
        (str(t.index), t.condition) for t in c.trials
    }

    with open(out / "pulses.csv", newline="") as f:
        pulses = list(csv.DictReader(f))
    by_key = {(p[1], p[2]): p for p in planned}
    assert [(r["trial"], r["condition"]) for r in pulses] == [
        (str(by_key[r["channel"], int(r["index"])][3]), by_key[r["channel"], int(r["index"])][4])
        for r in pulses
    ]
    # events.jsonl: each onset edge names its pulse, trial and condition
    with open(out / "events.jsonl") as f:
        edges = [json.loads(line) for line in f]
    onsets = [
        (e["source"], e["pulse"], e["trial"], e["condition"])
        for e in edges
        if e["event"] == "edge" and e["source"] in ("ch0", "ch1") and e["level"] == 1
    ]
    assert sorted(onsets) == sorted(
        ("ch%d" % ("cond", "test").index(name), k, trial, condition)
        for _, name, k, trial, condition in planned
    )


def test_the_provenance_names_the_trial_seeds_and_every_drawn_interval(run):
    out, _ = run
    c, _ = _planned()
    with open(out / "events.jsonl", encoding="utf-8") as f:
        first = json.loads(f.readline())
    assert first["seed"] == [
        {"field": "trials.seed", "seed": 1993},
        {"field": "trials.interval", "seed": 11},
    ]
    draws = first["draws"]
    assert len(draws) == 29  # 30 trials: 29 intervals between their onsets
    assert [d["field"] for d in draws] == ["trials.interval"] * 29
    onsets = [t.onset for t in c.trials]
    assert [Fraction(d["value_ns"], 10**9) for d in draws] == [
        b - a for a, b in zip(onsets, onsets[1:])
    ]
    assert all(4_000_000_000 <= d["value_ns"] <= 6_000_000_000 for d in draws)


def test_the_sidecar_describes_every_column_and_every_condition(run):
    out, _ = run
    side = json.loads((out / "events.json").read_text())
    with open(out / "events.tsv", newline="") as f:
        columns = next(csv.reader(f, delimiter="\t"))
    assert all(side[c]["Description"] for c in columns)
    assert side["trial_type"]["Levels"] == LEVELS
    assert side["channel"]["Levels"] == {
        "cond": "output 0, role tms, stimulator generic-ttl",
        "test": "output 1, role tms, stimulator generic-ttl",
    }
    assert "Levels" not in side["marker"]  # no marker channel: the column is all n/a
    assert side["TaskName"] == "sici-experiment"
    assert side["TaskDescription"] == (
        "SICI: test alone, conditioned at 2 ms and 3 ms; 10 trials each, 4-6 s apart"
    )


def test_summary_per_condition(run):
    out, _ = run
    c, planned = _planned()
    s = json.loads((out / "summary.json").read_text())
    expected = {}
    for name in CONDITIONS:
        mine = [p for p in planned if p[4] == name]
        cond = [p for p in mine if p[1] == "cond"]
        expected[name] = {
            "trials": 10,
            "pulses_planned": len(mine),
            "pulses_delivered": len(mine),
            "max_abs_deviation_ns": max(_ns(p[0]) for p in mine),
            "pulses_confirmed": len(cond),
            "pulses_confirmable": len(cond),
            "channels": {
                "cond": {"pulses_planned": len(cond), "pulses_delivered": len(cond)},
                "test": {"pulses_planned": 10, "pulses_delivered": 10},
            },
        }
    assert s["conditions"] == expected
    assert [v["pulses_planned"] for v in s["conditions"].values()] == [10, 20, 20]
    assert (s["trials_planned"], s["trials_complete"]) == (30, 30)
    assert s["trials"] == [
        {
            "index": t.index,
            "condition": t.condition,
            "onset_s": float(t.onset),
            "pulses_planned": 1 if t.condition == "test-alone" else 2,
            "pulses_delivered": 1 if t.condition == "test-alone" else 2,
        }
        for t in c.trials
    ]


def test_events_pass_the_bids_validator_with_0_errors(run, tmp_path):
    out, _ = run
    result = bidscheck.validate_run(str(out), str(tmp_path / "bids"))
    assert result.returncode == 0
    assert result.errors == []
    events = "/sub-01/beh/sub-01_task-siciexperiment_events.tsv"
    # warnings: what only the lab can fill in (authors, licence, instructions, institution,
    # Cognitive Atlas terms), listed, none about the events themselves
    assert result.codes("warning") == [
        ("TOO_FEW_AUTHORS", None, "/dataset_description.json"),
        ("JSON_KEY_RECOMMENDED", "HEDVersion", "/dataset_description.json"),
        ("JSON_KEY_RECOMMENDED", "License", "/dataset_description.json"),
        ("JSON_KEY_RECOMMENDED", "SourceDatasets", "/dataset_description.json"),
        ("NO_AUTHORS", "Authors", "/dataset_description.json"),
        ("SIDECAR_KEY_RECOMMENDED", "Instructions", events),
        ("SIDECAR_KEY_RECOMMENDED", "CogAtlasID", events),
        ("SIDECAR_KEY_RECOMMENDED", "CogPOID", events),
        ("SIDECAR_KEY_RECOMMENDED", "InstitutionName", events),
        ("SIDECAR_KEY_RECOMMENDED", "InstitutionAddress", events),
        ("SIDECAR_KEY_RECOMMENDED", "InstitutionalDepartmentName", events),
    ]
    assert result.report["summary"]["subjects"] == ["01"]
    assert result.report["summary"]["dataTypes"] == ["beh"]


TRIALS = os.path.join(os.path.dirname(__file__), "protocols", "sici-trials.toml")


def test_session_records_and_a_marker_channel_in_the_bids_events(tmp_path):
    # sici-trials: the same SICI conditions, 2 trials each, and a marker channel (eeg) that
    # sends each trial's code as a pulse count; run through tmspio.Session
    c = compiler.compile_protocol(parser.resolve(TRIALS), SYSCLK)
    plan = {
        (ci, k): (info.trial, info.condition, info.marker)
        for ci, infos in enumerate(c.pulse_info)
        for k, info in enumerate(infos)
    }
    live = []
    out = tmp_path / "run"
    with tmspio.Session(
        TRIALS, emulator=True, speed="max", out=str(out), on_pulse=live.append, plots=False
    ) as s:
        summary = s.run()
    assert (summary["pulses_delivered"], summary["pulses_planned"]) == (22, 22)
    for records in (s.pulses, sorted(live, key=lambda r: (r.channel, r.index))):
        assert [(r.channel, r.index, r.trial, r.condition) for r in records] == [
            (ci, k, plan[ci, k][0], plan[ci, k][1]) for ci, k in sorted(plan)
        ]
    with open(out / "events.tsv", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    markers = [
        (r["trial"], r["trial_type"], r["marker"], r["duration"])
        for r in rows
        if r["channel"] == "eeg"
    ]
    assert [r["role"] for r in rows if r["channel"] == "eeg"] == ["marker"] * 12
    assert markers == [
        (str(plan[2, k][0]), plan[2, k][1], str(plan[2, k][2]), "0.001000000")
        for k in range(len(c.pulse_info[2]))
    ]
    # sici-3ms's test pulse is 0.5 ms wide: its own width in duration
    assert {
        r["duration"] for r in rows if r["channel"] == "test" and r["trial_type"] == "sici-3ms"
    } == {"0.000500000"}
    side = json.loads((out / "events.json").read_text())
    assert side["marker"]["Levels"] == {
        "1": "marker code of condition test-alone",
        "2": "marker code of condition sici-2ms",
        "3": "marker code of condition sici-3ms",
    }
    assert side["trial_type"]["Levels"]["sici-3ms"] == (
        "condition sici-3ms: cond pulses at trial onset + 0 s (width 1 ms, 80 % RMT); test "
        "pulses at trial onset + 3 ms (width 500 us, 120 % RMT); eeg sends marker code 3 as "
        "3 pulses of 1 ms, 4 ms onset to onset from the trial onset"
    )
    assert summary["conditions"]["sici-3ms"]["channels"] == {
        "cond": {"pulses_planned": 2, "pulses_delivered": 2},
        "test": {"pulses_planned": 2, "pulses_delivered": 2},
        "eeg": {"pulses_planned": 6, "pulses_delivered": 6},
    }
    result = bidscheck.validate_run(str(out), str(tmp_path / "bids"))
    assert (result.returncode, result.errors) == (0, [])
