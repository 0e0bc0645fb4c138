"""The confirmed column on the emulated board: the rig's loopback wires trigger output 0 (GP2)
to confirm_in, and the delivery log credits those edges only to the protocol's confirm_channel.

Channel b fires 1 ms after channel a and the rig answers 1.5 ms after each channel-a onset,
so the latest onset on ANY channel before an answer is b's: the old any-channel rule credited b
and left a unconfirmed. Crediting goes by the named channel instead."""

import json

import pytest
from tmspio import cli

pytestmark = pytest.mark.timeout(60)

PAIRED = """\
name = "pair"
title = "two stimulators, only channel a's trigger-out wired back"
family = "rtms"
pulse_width = "200 us"
channels = [
  { name = "a", polarity = "active-high" },
  { name = "b", polarity = "active-high", offset = "1 ms", role = "other" },
]
%s
intensity = { percent = 50, reference = "RMT" }
[timing]
inter_pulse_interval = "10 Hz"
pulses_in_burst = 3
"""


def _run(tmp_path, monkeypatch, confirm_line, capsys):
    proto = tmp_path / "pair.toml"
    proto.write_text(PAIRED % confirm_line)
    monkeypatch.setenv("TMSPIO_EMU_RIG", json.dumps({"confirm_delay_s": 0.0015}))
    out = tmp_path / "run"
    assert cli.main(["run", str(proto), "--emulator", "--out", str(out), "--quiet"]) == 0
    printed = [line for line in capsys.readouterr().out.splitlines() if "confirmed by" in line]
    rows = [
        (r.split(",")[0], r.split(",")[1], r.split(",")[5])
        for r in (out / "pulses.csv").read_text().splitlines()[1:]
    ]
    summary = json.loads((out / "summary.json").read_text())
    return (
        rows,
        (summary["pulses_delivered"], summary["pulses_confirmed"], summary["confirm_channel"]),
        printed,
    )


def test_default_confirm_channel_is_the_first_and_the_others_log_n_a(
    tmp_path, monkeypatch, capsys
):
    rows, summary, printed = _run(tmp_path, monkeypatch, "", capsys)
    assert rows == [
        ("a", "0", "true"),
        ("a", "1", "true"),
        ("a", "2", "true"),
        ("b", "0", "n/a"),
        ("b", "1", "n/a"),
        ("b", "2", "n/a"),
    ]
    assert summary == (6, 3, "a")
    assert printed == ["confirmed by the stimulator's trigger-out: 3 of 3 (channel a)"]


def test_a_named_confirm_channel_takes_the_credit(tmp_path, monkeypatch, capsys):
    # the rig still answers channel a's onsets; naming b says b's stimulator is the wired one,
    # so each answer goes to b's latest onset before it (1 ms after a's) and a logs n/a
    rows, summary, printed = _run(tmp_path, monkeypatch, 'confirm_channel = "b"', capsys)
    assert rows == [
        ("a", "0", "n/a"),
        ("a", "1", "n/a"),
        ("a", "2", "n/a"),
        ("b", "0", "true"),
        ("b", "1", "true"),
        ("b", "2", "true"),
    ]
    assert summary == (6, 3, "b")
    assert printed == ["confirmed by the stimulator's trigger-out: 3 of 3 (channel b)"]
