"""The PsychoPy examples in examples/ run to the end against the emulated board, as a PsychoPy
user would run them; PsychoPy is not installed here, so they use examples/_psychopy_standin.py
(no window; waitKeys answers with the first key asked for)."""

import csv
import json
import os
import subprocess
import sys

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "examples")


def _run(name, *argv):
    return subprocess.run(
        [sys.executable, os.path.join(EXAMPLES, name), *argv],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_trial_loop_fires_one_pulse_per_trial(tmp_path):
    out = tmp_path / "fire"
    r = _run("psychopy_fire_trials.py", "--emulator", "--trials", "3", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "PsychoPy stand-in" in r.stderr.splitlines()[0]
    assert f"3 pulses; run directory {out}" in r.stdout
    with open(out / "pulses.csv", newline="") as f:
        assert [(row["channel"], row["index"]) for row in csv.DictReader(f)] == [
            ("tms", "0"),
            ("tms", "1"),
            ("tms", "2"),
        ]
    events = [json.loads(line) for line in open(out / "events.jsonl")]
    assert [e["trial"] for e in events if e["event"] == "pulse"] == [0, 1, 2]


def test_a_keypress_starts_a_library_protocol(tmp_path):
    out = tmp_path / "sici"
    r = _run(
        "psychopy_keypress_protocol.py",
        "--emulator",
        "--protocol",
        "sici",
        "--intensity",
        "100",
        "--out",
        str(out),
    )
    assert r.returncode == 0, r.stderr
    assert f"50 of 50 pulses; aborted: False; run directory {out}" in r.stdout
    assert json.loads((out / "summary.json").read_text())["pulses_delivered"] == 50


def test_a_refused_protocol_ends_the_script_before_the_window_with_the_report(tmp_path):
    r = _run(
        "psychopy_keypress_protocol.py",
        "--emulator",
        "--protocol",
        "ctbs600",
        "--intensity",
        "200",
        "--out",
        str(tmp_path / "x"),
    )
    assert r.returncode == 3
    assert "ctbs600 at 200% AMT on generic-ttl: REFUSED" in r.stderr
    assert "PsychoPy stand-in" not in r.stderr  # the window was never opened
    assert not (tmp_path / "x").exists()
