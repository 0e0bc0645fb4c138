"""Trigger-start, gated and confirmed runs end to end: pyserial over the pty against the real
firmware on the MicroPython unix port, with the emulated test rig (mpy/emurun.py) driving
trigger_in and answering on confirm_in in board time. The rig's edge log (board cycles) ties
what the rig drove to what the board captured."""

import json
import signal
import subprocess
import sys

import plan  # firmware/plan.py (firmware/ is on pytest's pythonpath)
import pytest
import timing  # firmware/timing.py
from proto_helpers import GATED
from tmspio import cli, compiler, link, logs
from tmspio.emulator.serial_board import SerialBoard, check_rig, populate_flash
from tmspio.errors import InputError
from tmspio.protocols import parser

pytestmark = pytest.mark.timeout(60)

SYSCLK = 125_000_000
MS = SYSCLK // 1000

TRIGGER_START = """\
name = "trig"
title = "trigger-start test train"
family = "rtms"
pulse_width = "1 ms"
channels = [
  { name = "a", polarity = "active-high" },
  { name = "b", polarity = "active-high", offset = "10 ms", role = "other" },
]
intensity = { percent = 50, reference = "RMT" }
[start]
mode = "trigger"
[timing]
inter_pulse_interval = "10 Hz"
pulses_in_burst = 5
"""


IMMEDIATE = """\
name = "imm"
title = "immediate test train"
family = "rtms"
pulse_width = "1 ms"
channels = [{ name = "a", polarity = "active-high" }]
intensity = { percent = 50, reference = "RMT" }
[timing]
inter_pulse_interval = "10 Hz"
pulses_in_burst = 5
"""


def _protocol(tmp_path, text):
    path = tmp_path / (text.split('"')[1] + ".toml")
    path.write_text(text)
    return str(path)


def _rig_edges(path, role, level=1):
    with open(path) as f:  # the board may still be writing: a torn last line is skipped
        rows = [json.loads(line) for line in f if line.endswith("\n")]
    return [r["cycle"] for r in rows if r["role"] == role and r["level"] == level]


def _captured(events, source, level=1):
    return [
        e["cycle"]
        for e in events
        if e["event"] == "edge" and e["source"] == source and e["level"] == level
    ]


def test_trigger_start_first_onset_is_the_trigger_edge_plus_the_latency(tmp_path, monkeypatch):
    proto = _protocol(tmp_path, TRIGGER_START)
    rig_log = tmp_path / "rig.jsonl"
    monkeypatch.setenv(
        "TMSPIO_EMU_RIG",
        json.dumps({"trigger_source": {"first_s": 0.5, "period_s": 0.5}, "log": str(rig_log)}),
    )
    out = tmp_path / "run"
    assert cli.main(["run", proto, "--emulator", "--out", str(out), "--quiet"]) == 0
    c = compiler.compile_protocol(parser.resolve(proto), SYSCLK)
    triggers = _rig_edges(rig_log, "trigger_in")
    # board time from power-up; how many edges the rig made before the host powered the board
    # off depends on the host's pace, their places do not
    assert len(triggers) >= 2
    assert triggers == [500 * MS * (k + 1) for k in range(len(triggers))]
    falls = _rig_edges(rig_log, "trigger_in", 0)
    assert falls[: len(triggers) - 1] == [t + MS for t in triggers[: len(triggers) - 1]]
    pads = [_rig_edges(rig_log, "trigger[0]"), _rig_edges(rig_log, "trigger[1]")]
    accepted = pads[0][0] - timing.TRIGGER_LATENCY  # channel a has no delay
    assert accepted in triggers
    for ch in (0, 1):  # every onset of both channels: the accepted edge + latency + plan
        assert pads[ch] == [accepted + timing.TRIGGER_LATENCY + k for k in c.channel_cycles[ch]]
    assert pads[1][0] - pads[0][0] == 10 * MS
    # The capture clock has its own zero; every captured onset sits the same distance from
    # the pad onset, so the first captured onset is the trigger edge + TRIGGER_LATENCY too.
    events = logs.read_events(str(out / "events.jsonl"))
    captured = _captured(events, "ch0") + _captured(events, "ch1")
    offsets = {cap - pad for cap, pad in zip(captured, pads[0] + pads[1])}
    assert len(captured) == 10 and len(offsets) == 1
    summary = json.loads((out / "summary.json").read_text())
    # time zero is the captured trigger edge + TRIGGER_LATENCY: the trigger edge sits on an
    # even pad cycle, which the 2-cycle capture grid reads exactly; the onsets, 17 cycles
    # later on odd cycles, read one cycle late (offsets: capture clock minus pad clock)
    offset = offsets.pop()
    assert captured[0] - summary["start_cycle"] == 1
    assert summary["start_cycle"] - (offset - 1) == accepted + timing.TRIGGER_LATENCY
    # the plan is laid on the captured trigger edge (even cycle) + 17: the onsets sit on odd
    # cycles and the capture's 2-cycle grid reads them 1 cycle late, 8 ns
    assert (summary["pulses_delivered"], summary["max_abs_deviation_ns"]) == (10, 8)
    assert (summary["accepted_triggers"], summary["trigger_edges_captured"] > 0) == (1, True)


def test_gated_run_fires_once_per_accepted_trigger_and_ignores_the_refractory(tmp_path):
    c = compiler.compile_protocol(parser.resolve(_protocol(tmp_path, GATED)), SYSCLK)
    assert c.program.refractory == 1000 * MS
    period = 300 * MS  # four gate edges per refractory interval: three must be ignored
    # No end: at --speed max the idle board's clock runs far ahead of the host (docs/running.md)
    rig = {"trigger_source": {"first_s": 0.3, "period_s": 0.3}, "log": "rig.jsonl"}
    with SerialBoard(speed="max", rig=rig) as bd:
        with link.connect(bd.path, hello_timeout=30) as b:
            b.load(c.program)
            b.run(heartbeat_ms=0)
            st = b.wait(timeout=40)
            edges = list(b.edges)
        rig_log = bd.flash + "/rig.jsonl"
        triggers = _rig_edges(rig_log, "trigger_in")
        onsets = _rig_edges(rig_log, "trigger[0]")
    assert (st["state"], st["pulses_delivered"], st["pulses_planned"]) == ("done", 9, 9)
    assert triggers[:4] == [300 * MS, 600 * MS, 900 * MS, 1200 * MS]
    first = onsets[0] - timing.TRIGGER_LATENCY
    accepted = [first, first + 4 * period, first + 8 * period]
    assert all(a in triggers for a in accepted)
    train = [0, 100 * MS, 200 * MS]
    assert onsets == [a + timing.TRIGGER_LATENCY + t for a in accepted for t in train]
    assert onsets == [o for o, _, _ in plan.channel_onsets(c.program, 0, first, triggers)]
    ignored = [t for t in triggers if accepted[0] < t < accepted[-1] and t not in accepted]
    assert len(ignored) == 6
    captured = [cyc for src, lvl, cyc in edges if src == 0 and lvl == 1]
    assert len({cap - pad for cap, pad in zip(captured, onsets)}) == 1
    assert len(captured) == 9


def test_confirm_delay_answers_every_onset_and_counts_as_confirmed(tmp_path, monkeypatch):
    proto = _protocol(tmp_path, IMMEDIATE)
    monkeypatch.setenv("TMSPIO_EMU_RIG", json.dumps({"confirm_delay_s": 0.0015}))
    out = tmp_path / "run"
    assert cli.main(["run", proto, "--emulator", "--out", str(out), "--quiet"]) == 0
    events = logs.read_events(str(out / "events.jsonl"))
    delay = 1500 * 125  # 1.5 ms: after the 1 ms pulse has ended, a separate answer
    for level in (1, 0):
        onsets = _captured(events, "ch0", level)
        assert len(onsets) == 5
        assert _captured(events, "confirm", level) == [o + delay for o in onsets]
    rows = (out / "pulses.csv").read_text().splitlines()
    assert [r.split(",")[5] for r in rows[1:]] == ["true"] * 5
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["pulses_delivered"], summary["pulses_confirmed"]) == (5, 5)


def test_tmspio_emulate_trigger_flags_serve_a_trigger_start_run(tmp_path):
    proto = _protocol(tmp_path, TRIGGER_START)
    rig_log = tmp_path / "rig.jsonl"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tmspio.cli",
            "emulate",
            "--speed",
            "max",
            "--trigger-every",
            "0.25",
            "--trigger-count",
            "100000",
            "--confirm-delay",
            "2",
            "--rig-log",
            str(rig_log),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        path = proc.stdout.readline().strip()
        out = tmp_path / "run"
        assert cli.main(["run", proto, "--port", path, "--out", str(out), "--quiet"]) == 0
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0
    assert (
        'test rig: {"confirm_delay_s": 0.002, "log": "%s", "trigger_source": {"count": 100000, '
        '"period_s": 0.25}}\n' % rig_log in err
    )
    triggers = _rig_edges(rig_log, "trigger_in")
    assert triggers == [250 * MS * k for k in range(1, len(triggers) + 1)]
    onsets = _rig_edges(rig_log, "trigger[0]")
    assert onsets[0] - timing.TRIGGER_LATENCY in triggers
    assert _rig_edges(rig_log, "confirm_in") == [o + 2 * MS for o in onsets]
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["pulses_delivered"], summary["max_abs_deviation_ns"]) == (10, 8)  # grid


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--trigger-count", "3"], "--trigger-count = 3: needs --trigger-every SECONDS"),
        (["--trigger-every", "0"], "--trigger-every = 0.0: a number of seconds > 0"),
        (["--trigger-every", "1", "--trigger-count", "0"], "--trigger-count = 0: an integer >= 1"),
        (
            ["--trigger-every", "0.002", "--trigger-width", "2"],
            "--trigger-width = 2: milliseconds > 0 and below --trigger-every (2 ms)",
        ),
        (
            ["--trigger-every", "0.0005"],
            "--trigger-width = 1: milliseconds > 0 and below --trigger-every (0.5 ms)",
        ),
        (["--trigger-every", "inf"], "--trigger-every = inf: a number of seconds > 0"),
        (["--confirm-delay", "-1"], "--confirm-delay = -1.0: milliseconds > 0"),
        (["--speed", "inf"], "--speed = 'inf': a positive number or max"),
        (["--speed", "0"], "--speed = '0': a positive number or max"),
        (["--speed", "fast"], "--speed = 'fast': a positive number or max"),
    ],
)
def test_emulate_refuses_bad_rig_flags(argv, message, capsys):
    assert cli.main(["emulate"] + argv) == 2
    assert capsys.readouterr().err == f"tmspio: error: {message}\n"


def test_bad_tmspio_emu_rig_is_a_clear_error_before_the_board_starts(
    tmp_path, monkeypatch, capsys
):
    proto = _protocol(tmp_path, IMMEDIATE)
    monkeypatch.setenv("TMSPIO_EMU_RIG", '{"trigger_source": {"period_s": 1, "cnt": 2}}')
    assert cli.main(["run", proto, "--emulator", "--out", str(tmp_path / "r")]) == 2
    assert capsys.readouterr().err == (
        "tmspio: error: rig.trigger_source.cnt = 2: unknown key; allowed first_s, period_s, "
        "count, width_s, times_s\n"
    )


@pytest.mark.parametrize(
    "rig, message",
    [
        ("[1]", "TMSPIO_EMU_RIG = '[1]': expected a JSON object"),
        (
            "{x",
            "TMSPIO_EMU_RIG = '{x': not JSON; expected an object such as "
            '{"trigger_source": {"period_s": 1}}',
        ),
        (
            {"trigger": 1},
            "rig.trigger = 1: unknown key; allowed estop_driver, trigger_source, "
            "confirm_delay_s, log",
        ),
        (
            {"trigger_source": {"period_s": 0.001, "width_s": 0.001}},
            "rig.trigger_source.period_s = 0.001: longer than width_s (0.001 s): the line must return "
            "to idle",
        ),
        (
            {"trigger_source": {"times_s": [1, 1.0005]}},
            "rig.trigger_source.times_s[1] = 1.0005: later than the previous trigger + width_s (0.001 "
            "s): the line must return to idle between triggers",
        ),
        (
            {"trigger_source": {"times_s": [1], "count": 2}},
            "rig.trigger_source.count = 2: not allowed with times_s",
        ),
        (
            {"trigger_source": {"period_s": 1, "count": 1.5}},
            "rig.trigger_source.count = 1.5: an integer >= 1 (absent: no end)",
        ),
        (
            {"confirm_delay_s": 1e-9},
            "rig.confirm_delay_s = 1e-09: a number of seconds >= one sysclk cycle",
        ),
        ({"estop_driver": 11}, "rig.estop_driver = 11: a trigger output GPIO [2, 3, 4, 5]"),
    ],
)
def test_rig_entries_are_validated_naming_field_value_and_rule(
    tmp_path, monkeypatch, rig, message
):
    populate_flash(str(tmp_path))
    if isinstance(rig, str):
        monkeypatch.setenv("TMSPIO_EMU_RIG", rig)
        rig = None
    with pytest.raises(InputError) as e:
        check_rig(str(tmp_path), rig)
    assert str(e.value) == message


def test_confirm_delay_needs_a_loopback_into_confirm_in(tmp_path):
    populate_flash(str(tmp_path))
    cfg = json.loads((tmp_path / "board.json").read_text())
    cfg["loopback"] = [[2, 10]]
    (tmp_path / "board.json").write_text(json.dumps(cfg))
    with pytest.raises(InputError) as e:
        check_rig(str(tmp_path), {"confirm_delay_s": 0.001})
    assert str(e.value) == (
        "rig.confirm_delay_s = 0.001: needs a loopback jumper into "
        "confirm_in (GPIO11) to delay; the board file has none"
    )


def test_explicit_trigger_times_on_a_falling_edge_board(tmp_path):
    # trigger_in active low: the rig idles the line high and pulls it low at each time.
    populate_flash(str(tmp_path))
    cfg = json.loads((tmp_path / "board.json").read_text())
    cfg["polarity"]["trigger_in"] = "falling"
    cfg["pulls"]["trigger_in"] = "up"
    (tmp_path / "board.json").write_text(json.dumps(cfg))
    c = compiler.compile_protocol(parser.resolve(_protocol(tmp_path, TRIGGER_START)), SYSCLK)
    times = [0.4 + 0.5 * k for k in range(200)]  # enough that one comes after the arm
    rig = {"trigger_source": {"times_s": times, "width_s": 0.0002}, "log": "rig.jsonl"}
    with (
        SerialBoard(speed="max", flash=str(tmp_path), rig=rig) as bd,
        link.connect(bd.path, hello_timeout=30) as b,
    ):
        b.load(c.program)
        b.run(heartbeat_ms=0)
        assert b.wait(timeout=40)["state"] == "done"
    log = str(tmp_path / "rig.jsonl")
    cycles = [(400 + 500 * k) * MS for k in range(200)]
    falls = _rig_edges(log, "trigger_in", 0)
    assert falls == cycles[: len(falls)] and len(falls) >= 1  # as many as came before power-off
    # the first rise is the rig idling the line at power-up (cycle 0), before the firmware
    # configures the pull
    rises = _rig_edges(log, "trigger_in", 1)
    # then each pull ends 0.2 ms (25,000 cycles) after it began (the last may still be low
    # when the board was powered off: at --speed max its clock runs on at its own pace)
    assert rises[0] == 0 and rises[1:] == [f + 25_000 for f in falls][: len(rises) - 1]
    assert len(rises) - 1 >= len(falls) - 1
    onsets = _rig_edges(log, "trigger[0]")
    assert onsets[0] - timing.TRIGGER_LATENCY in falls
    assert onsets == [onsets[0] + k for k in c.channel_cycles[0]]


def test_flash_board_file_rig_with_the_environment_overriding_key_by_key(tmp_path, monkeypatch):
    populate_flash(str(tmp_path))
    cfg = json.loads((tmp_path / "board.json").read_text())
    cfg["rig"] = {"estop_driver": 5, "trigger_source": {"period_s": 0.3}, "log": "a.jsonl"}
    (tmp_path / "board.json").write_text(json.dumps(cfg))
    monkeypatch.setenv("TMSPIO_EMU_RIG", '{"log": "b.jsonl"}')
    c = compiler.compile_protocol(parser.resolve(_protocol(tmp_path, TRIGGER_START)), SYSCLK)
    with (
        SerialBoard(speed="max", flash=str(tmp_path)) as bd,
        link.connect(bd.path, hello_timeout=30) as b,
    ):
        assert bd.rig == {"estop_driver": 5, "trigger_source": {"period_s": 0.3}, "log": "b.jsonl"}
        b.load(c.program)
        b.run(heartbeat_ms=0)
        assert b.wait(timeout=40)["pulses_delivered"] == 10
    assert not (tmp_path / "a.jsonl").exists()
    log = str(tmp_path / "b.jsonl")
    triggers = _rig_edges(log, "trigger_in")
    assert triggers[:2] == [300 * MS, 600 * MS]
    assert _rig_edges(log, "trigger[0]")[0] - timing.TRIGGER_LATENCY in triggers


def test_an_unknown_board_name_is_user_input_naming_the_allowed_boards(tmp_path):
    from tmspio import firmware

    with pytest.raises(InputError) as e:
        populate_flash(str(tmp_path), "nope")
    assert str(e.value) == (
        f"--board = 'nope': no board file {firmware.BOARDS_DIR}/nope.json; allowed: emulated, "
        "feather_rp2040, pico, pico2, pico_w, rp2040_zero, xiao_rp2040"
    )
