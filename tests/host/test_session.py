"""tmspio.Session on the emulated board (real firmware): the script API and `tmspio run` are one
code path, the envelope refuses before any port, fire-on-command pulses are logged, the board
refuses a fire outside its own limits, and progress tells waiting-for-trigger from running."""

import csv
import json
import os

import pytest
import tmspio
from tmspio import cli, logs, session
from tmspio.emulator.serial_board import SerialBoard

TRIGGERED = """name = "one-triggered"
title = "one pulse after a trigger"
family = "single-pulse"
pulse_width = "1 ms"
channels = [{ name = "tms", polarity = "active-high" }]
intensity = { percent = 50, reference = "RMT" }

[start]
mode = "trigger"

[timing]
pulses_in_burst = 1
"""


def _read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def test_a_library_protocol_through_session_writes_the_run_directory_tmspio_run_writes(tmp_path):
    a, b = tmp_path / "cli", tmp_path / "api"
    rc = cli.main(["run", "sici", "--emulator", "--intensity", "100", "--out", str(a), "--quiet"])
    assert rc == 0
    seen = []
    with tmspio.Session(
        "sici", emulator=True, intensity=100, out=str(b), on_pulse=seen.append
    ) as s:
        summary = s.run()
    assert (
        sorted(os.listdir(a))
        == sorted(os.listdir(b))
        == [
            "deviation.png",
            "events.json",
            "events.jsonl",
            "events.tsv",
            "pulses.csv",
            "summary.json",
            "timing.png",
        ]
    )
    for name in (logs.PULSES, logs.BIDS_TSV, logs.BIDS_JSON):
        assert _read(a / name) == _read(b / name)
    sa = json.loads(_read(a / logs.SUMMARY))
    sb = json.loads(_read(b / logs.SUMMARY))
    for d in (sa, sb):
        del d["out_dir"], d["clock"]
    assert sa == sb
    # sici: 10 test-alone and 20 conditioned trials, 30 test + 20 conditioning pulses
    assert (summary["pulses_delivered"], summary["pulses_planned"], summary["aborted"]) == (
        50,
        50,
        False,
    )
    # the records: named fields, every pulse, planned = captured on the board clock here
    assert len(s.pulses) == 50 and all(isinstance(r, tmspio.PulseRecord) for r in s.pulses)
    # each record names its pulse's condition and trial (compiled.pulse_info), channel by
    # channel in index order
    info = [i for infos in s.compiled.pulse_info for i in infos]
    assert [(r.condition, r.trial) for r in s.pulses] == [(i.condition, i.trial) for i in info]
    assert [(r.channel, r.index) for r in s.pulses[:2]] == [(0, 0), (0, 1)]
    assert {r.condition for r in s.pulses} == {"test-alone", "sici-2ms", "sici-3ms"}
    with open(b / logs.PULSES, newline="") as f:
        devs = [float(r["deviation_ns"]) for r in csv.DictReader(f)]
    assert [r.deviation_ns for r in s.pulses] == devs  # the same numbers as pulses.csv
    assert max(abs(d) for d in devs) == summary["max_abs_deviation_ns"] == 8
    assert all(r.captured_host_s is not None and r.host_uncertainty_s > 0 for r in s.pulses)
    assert len(seen) == 50  # on_pulse for each captured onset, as it arrived
    assert s.progress == tmspio.Progress("done", 50, 50, s.progress.board_s)
    kinds = [e["event"] for e in logs.read_events(b / logs.EVENTS)]
    assert kinds.count("sync") >= session.SYNC_BURST and kinds[-2:] == ["clock", "summary"]


def test_a_refused_protocol_raises_before_any_port_and_leaves_nothing(tmp_path, monkeypatch):
    opened = []
    monkeypatch.setattr(session, "open_board", lambda *a, **k: opened.append(a))
    out = tmp_path / "never"
    with pytest.raises(tmspio.SafetyRefused) as e:
        tmspio.Session("ctbs600", emulator=True, intensity=200, reference="RMT", out=str(out))
    assert str(e.value) == (
        'ctbs600 refused by the safety envelope (1 rule); --override "reason" runs it anyway '
        "and logs the reason"
    )
    assert [f.rule for f in e.value.findings] == ["family-intensity"]
    assert e.value.report[0] == (
        "ctbs600 at 200% RMT on generic-ttl: REFUSED (12 rules, 1 refused, 5 warnings)"
    )
    assert opened == [] and not out.exists()


def test_five_pulses_on_command_one_second_apart_are_in_pulses_and_the_log(tmp_path):
    import time

    out = tmp_path / "fire"
    with tmspio.Session(None, emulator=True, intensity=100, family="rtms", out=str(out)) as s:
        for trial in range(5):
            s.wait_pulse(s.fire(trial=trial))
            if trial < 4:
                time.sleep(1)
        deadline = time.monotonic() + 5  # the last one-pulse run's end is reported next
        while s.progress.phase != "done" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert s.progress.phase == "done"
    assert [(r.channel, r.condition, r.index, r.trial) for r in s.pulses] == [
        (0, "tms", k, k) for k in range(5)
    ]
    gaps = [b.captured_board_s - a.captured_board_s for a, b in zip(s.pulses, s.pulses[1:])]
    # board clock: the emulated board at speed 1 keeps real time only to about 1 % (pacing)
    assert all(0.95 < g < 1.25 for g in gaps), gaps
    host_gaps = [b.captured_host_s - a.captured_host_s for a, b in zip(s.pulses, s.pulses[1:])]
    assert all(1.0 < g < 1.25 for g in host_gaps), host_gaps
    assert all(r.host_uncertainty_s is not None for r in s.pulses)
    events = logs.read_events(out / logs.EVENTS)
    pulses = [e for e in events if e["event"] == "pulse"]
    assert [(p["fire"], p["trial"], p["captured_board_s"]) for p in pulses] == [
        (k, k, s.pulses[k].captured_board_s) for k in range(5)
    ]
    assert [e["event"] for e in events].count("fire") == 5
    with open(out / logs.PULSES, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["channel"], r["index"], r["captured_s"]) for r in rows] == [
        ("tms", str(k), "%.9f" % s.pulses[k].captured_board_s) for k in range(5)
    ]
    summary = json.loads(_read(out / logs.SUMMARY))
    assert (summary["mode"], summary["pulses_delivered"], summary["aborted"]) == ("fire", 5, False)
    assert summary["clock"]["fitted"] >= 8


def _board_with_limits(tmp_path, **limits):
    from tmspio.boards import load_board

    cfg = load_board("emulated")
    cfg["limits"].update(limits)
    path = tmp_path / "slow-limits.json"
    path.write_text(json.dumps(cfg))
    return SerialBoard(speed=1, board=str(path))


def test_the_board_refuses_a_fire_inside_its_minimum_interval_even_with_the_envelope_overridden(
    tmp_path,
):
    board = _board_with_limits(tmp_path, min_interval_us=500_000)
    port = board.start()
    try:
        with tmspio.Session(
            None,
            port=port,
            intensity=100,
            family="rtms",
            override="test: the board's own limit must hold",
            out=str(tmp_path / "run"),
        ) as s:
            s.wait_pulse(s.fire())
            with pytest.raises(tmspio.BoardRefused) as e:
                s.fire()
            assert e.value.code == 10
            text = str(e.value)
            prefix = "board refused fire (limit): fire: "
            suffix = " us after the previous fire, below limits.min_interval_us = 500000 us"
            assert text.startswith(prefix) and text.endswith(suffix), text
            assert 0 < int(text[len(prefix) : -len(suffix)]) < 500_000
        assert len(s.pulses) == 1
        events = logs.read_events(tmp_path / "run" / logs.EVENTS)
        refused = [e for e in events if e["event"] == "fire_refused"]
        assert [(r["code"], r["text"][:5]) for r in refused] == [(10, "fire:")]
    finally:
        board.close()


def test_the_host_envelope_refuses_a_fire_pattern_before_the_board_sees_it(tmp_path):
    with tmspio.Session(None, emulator=True, intensity=100, family="rtms", out=str(tmp_path)) as s:
        s.wait_pulse(s.fire())
        with pytest.raises(tmspio.SafetyRefused) as e:
            s.fire()  # a second pulse milliseconds later: far beyond the Wassermann table
        assert [f.rule for f in e.value.findings] == ["wassermann-train-duration"]
    assert len(s.pulses) == 1


def test_progress_says_waiting_for_trigger_then_aborted(tmp_path):
    import time

    path = tmp_path / "one-triggered.toml"
    path.write_text(TRIGGERED)
    with tmspio.Session(str(path), emulator=True, speed=1, out=str(tmp_path / "run")) as s:
        s.start()
        deadline = time.monotonic() + 10
        while s.progress.phase != "waiting for trigger" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert s.progress == tmspio.Progress("waiting for trigger", 0, 1, None)
        summary = s.abort("no trigger came")
    assert (summary["aborted"], summary["reason"], summary["pulses_delivered"]) == (
        True,
        "no trigger came",
        0,
    )
    assert s.progress.phase == "aborted"


def test_the_git_revision_is_tmspios_own_checkout_only(tmp_path, monkeypatch):
    import subprocess

    from tmspio import firmware

    def git(*args):
        return subprocess.run(
            ["git", "-C", str(ours), "-c", "user.name=t", "-c", "user.email=t@t", *args],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()

    ours = tmp_path / "tmspio"  # a checkout of tmspio: the repository's top
    (ours / "host").mkdir(parents=True)
    (ours / "host" / "x.py").write_text("x = 1\n")
    git("init", "-q")
    git("add", "-A")
    git("commit", "-qm", "one")
    monkeypatch.setattr(firmware, "SOURCE", "checkout")
    monkeypatch.setattr(firmware, "CHECKOUT_DIR", str(ours))
    assert session._git_revision() == git("rev-parse", "HEAD")
    (ours / "host" / "x.py").write_text("x = 2\n")
    assert session._git_revision() == git("rev-parse", "HEAD") + "+dirty"
    # a checkout folder that is not the top of its repository is not ours
    monkeypatch.setattr(firmware, "CHECKOUT_DIR", str(ours / "host"))
    assert session._git_revision() is None
    # an installed copy reports none, even inside somebody else's repository
    monkeypatch.setattr(firmware, "SOURCE", "package")
    monkeypatch.setattr(firmware, "CHECKOUT_DIR", str(ours))
    assert session._git_revision() is None
