"""`tmspio run` streams a program too large to load (issue 15; docs/running.md, "Programs
larger than the board"), through tmspio.Session, on the real firmware (emulated board).

The board file here is the emulated board's with limits.max_program_bytes = 12,000 (the
schema allows 4,096 and up), so a program of 6,000 jittered pulses streams in seconds of wall
time: compiled it is 18,102 bytes (one-pulse segments in an interval block, 3 bytes a pulse),
1.5 times the limit, so its loaded start (<= 4,096 bytes) plus the board's look-ahead (8,192
bytes) hold about 4,000 of the 6,000 pulses and the rest must be sent while the program runs.

Expected values, derived: every onset is on the cycle firmware/plan.py plans from the
compiled program; the capture samples every 2 cycles, so an onset of the other parity than
the capture grid reads 1 cycle (8 ns) late, and time zero is the first onset: exactly one
grid parity explains every deviation (as tests/e2e/test_stream_run.py)."""

import csv
import json

import plan  # firmware/plan.py (firmware/ is on pytest's pythonpath)
import pytest
from tmspio import board_limits, boards, cli, compiler, link, logs
from tmspio.emulator.serial_board import SerialBoard
from tmspio.protocols import parser

pytestmark = pytest.mark.timeout(600)

HZ = 125_000_000
LIMIT = 12_000
PULSES = 6000
JITTERED = """\
name = "jit"
title = "6000 single pulses, intervals drawn from 10..20 ms"
family = "rtms"
pulse_width = "1 ms"
channels = [%s]
intensity = { percent = 50, reference = "RMT" }

[timing]
inter_pulse_interval = { uniform = ["10 ms", "20 ms"], seed = 15 }
pulses_in_burst = %d
"""
ONE = '{ name = "tms", polarity = "active-high" }'
TWO = ONE + ', { name = "b", polarity = "active-high", offset = "3 ms" }'


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    cfg = boards.load_board("emulated")
    cfg["limits"]["max_program_bytes"] = LIMIT
    path = tmp_path_factory.mktemp("board") / "small.json"
    path.write_text(json.dumps(cfg))
    with SerialBoard(speed="max", board=str(path)) as b:
        yield b


def _protocol(tmp_path, channels=ONE, pulses=PULSES):
    path = tmp_path / "jit.toml"
    path.write_text(JITTERED % (channels, pulses))
    return str(path)


def _run(board, path, out, *extra):
    # the envelope refuses 6,000 pulses near 67 Hz at once; its override lifts no board limit
    return cli.main(
        ["run", path, "--port", board.path, "--out", str(out), "--quiet"]
        + ["--override", "stream test", *extra]
    )


def _onsets(out):
    events = logs.read_events(str(out / "events.jsonl"))
    return [
        e["cycle"] for e in events if e["event"] == "edge" and e["source"] == "ch0" and e["level"]
    ]


def _parity_deviations(planned, captured, t0):
    """The deviation (cycles) of each captured onset: the one grid parity q that explains them."""
    dev = [c - t0 - (p - planned[0]) for c, p in zip(captured, planned)]
    fits = [q for q in (0, 1) if dev == [((p + q) % 2) - ((planned[0] + q) % 2) for p in planned]]
    assert len(fits) == 1, dev[:20]
    return dev


def test_a_program_too_large_to_load_streams_with_every_pulse_on_its_planned_cycle(
    board, tmp_path, capsys
):
    path = _protocol(tmp_path)
    c = compiler.compile_protocol(parser.resolve(path), HZ)
    assert board_limits.program_bytes(c) == 18_102 > LIMIT
    planned = [o for o, _, _ in plan.channel_onsets(c.program, 0, 0)]
    assert len(planned) == PULSES
    # what the host sends: the same onsets, one-pulse segments in interval blocks
    st = link.Streamer(None, c.program, head_bytes=4096)
    assert len(st.head) <= 4096 and st.bytes > len(st.head) + 8192  # pieces during the run
    out = tmp_path / "run"
    rc = _run(board, path, out)
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    assert "fault" not in cap.err and "error" not in cap.err
    assert (
        "jit: 6000 of 6000 pulses delivered; max |deviation| 8 ns (time zero = first captured "
        "onset)\n"
        "confirmed by the stimulator's trigger-out: 6000 of 6000 (channel tms)\n"
        "streamed: {:,} of {:,} bytes sent (a {:,}-byte start loaded, then {} of {} "
        "pieces)\n".format(st.bytes, st.bytes, len(st.head), len(st.pieces), len(st.pieces))
    ) in cap.out

    s = json.loads((out / "summary.json").read_text())
    assert (s["pulses_planned"], s["pulses_delivered"], s["board_pulses_delivered"]) == (
        PULSES,
        PULSES,
        PULSES,
    )
    assert (s["aborted"], s["reason"], s["faults"], s["max_abs_deviation_ns"]) == (
        False,
        None,
        [],
        8,
    )
    assert s["stream"] == {
        "program_bytes": 18_102,
        "sent_bytes": st.bytes,
        "bytes": st.bytes,
        "head_bytes": len(st.head),
        "pieces_sent": len(st.pieces),
        "pieces": len(st.pieces),
        "pulses_sent": PULSES,
        "window_bytes": 8192,
        "ended": True,
        "error": None,
    }

    # every onset on its planned cycle (events.jsonl), and pulses.csv says the same
    onsets = _onsets(out)
    assert len(onsets) == PULSES
    dev = _parity_deviations(planned, onsets, s["start_cycle"])
    with open(out / "pulses.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["channel"], r["index"], r["deviation_ns"]) for r in rows] == [
        ("tms", str(k), str(8 * d)) for k, d in enumerate(dev)
    ]
    assert [r["planned_s"] for r in rows] == ["%.9f" % ((p - planned[0]) / HZ) for p in planned]
    with open(out / "events.tsv", newline="") as f:
        assert sum(1 for _ in csv.DictReader(f, delimiter="\t")) == PULSES

    events = logs.read_events(str(out / "events.jsonl"))
    kinds = [e["event"] for e in events]
    (loaded,) = [e for e in events if e["event"] == "loaded"]
    assert (loaded["bytes"], loaded["streamed"]) == (len(st.head), True)
    (begun,) = [e for e in events if e["event"] == "stream"]
    assert begun["queued_pieces"] < len(st.pieces)  # the rest went while the program ran
    assert kinds.index("stream") < kinds.index("started") < kinds.index("stream_end")


def test_an_underrun_stops_the_run_with_outputs_idle_exit_1_and_the_logs_say_so(
    board, tmp_path, capsys, monkeypatch
):
    # the host holds its pieces back until the board has stopped: the look-ahead runs out
    feeder = link.Streamer._feeder
    held = []

    def late(self):
        import time

        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            st = self.link.last_state
            if st is not None and st.get("state") not in link.wire.ACTIVE_STATES:
                break
            time.sleep(0.05)
        held.append(self.sent_pulses)
        feeder(self)

    monkeypatch.setattr(link.Streamer, "_feeder", late)
    path = _protocol(tmp_path)
    c = compiler.compile_protocol(parser.resolve(path), HZ)
    planned = [o for o, _, _ in plan.channel_onsets(c.program, 0, 0)]
    out = tmp_path / "late"
    rc = _run(board, path, out)
    cap = capsys.readouterr()
    (sent,) = held  # pulses on the board when the run started: the loaded start + look-ahead
    s = json.loads((out / "summary.json").read_text())
    n = s["pulses_delivered"]
    fault = "underrun: stream data late (generator 0's buffer ended before the next piece arrived)"
    assert rc == 1
    assert cap.err.endswith(
        f"tmspio: error: jit: the streamed program stopped: {fault}; {n} of {PULSES} pulses "
        f"delivered, outputs idle; log in {out}\n"
    )
    assert "\naborted: underrun\n" in cap.out
    assert (s["aborted"], s["reason"], s["board_pulses_delivered"]) == (True, "underrun", n)
    assert (s["stream"]["error"], s["stream"]["ended"], s["stream"]["pulses_sent"]) == (
        fault,
        False,
        sent,
    )
    # a prefix of the plan, each pulse on its cycle, then nothing: no stale or extra pulse;
    # the running buffer's last words (up to two pulses) may not have played (§8)
    assert sent - 10 <= n <= sent < PULSES
    onsets = _onsets(out)
    assert len(onsets) == n
    _parity_deviations(planned[:n], onsets, s["start_cycle"])
    with open(out / "pulses.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == PULSES
    assert all(r["captured_s"] != "n/a" for r in rows[:n])
    assert all(r["captured_s"] == "n/a" for r in rows[n:])
    events = logs.read_events(str(out / "events.jsonl"))
    edges = [e for e in events if e["event"] == "edge" and e["source"] == "ch0"]
    assert edges[-1]["level"] == 0  # the output ended idle (active-high)
    states = [e for e in events if e["event"] == "state" and e["state"] == "stopped"]
    assert states and states[-1]["faults"] == [fault]
    (end,) = [e for e in events if e["event"] == "stream_end"]
    assert end["error"] == fault


def test_two_channels_too_large_to_load_are_refused_before_anything_is_sent(
    board, tmp_path, capsys, sent_types
):
    out = tmp_path / "runs" / "two"
    rc = _run(board, _protocol(tmp_path, TWO, 2000), out)
    cap = capsys.readouterr()
    assert rc == 2
    assert cap.err == (
        "tmspio: error: jit: program 12,163 bytes (4,000 segments) is 163 bytes above board "
        "emulated's limits.max_program_bytes = 12,000 and cannot stream: it has 2 channels (a "
        "streamed program has one channel and an immediate or trigger start); split the "
        "session or use fewer segments\n"
    )
    assert link.wire.HELLO in sent_types
    assert not {link.wire.LOAD_BEGIN, link.wire.STREAM_BEGIN} & set(sent_types)
    assert not (tmp_path / "runs").exists()


def test_session_streams_with_progress_and_a_record_for_every_pulse(board, tmp_path):
    import time

    import tmspio

    got = []
    seen = []
    path = _protocol(tmp_path)
    with tmspio.Session(
        path,
        port=board.path,
        override="stream test",
        out=str(tmp_path / "api"),
        on_pulse=got.append,
        plots=False,
    ) as s:
        s.start()
        assert s.transfer == "stream"
        while s.progress.phase in ("armed", "running"):
            seen.append(s.progress.streamed)
            time.sleep(0.05)
        summary = s.wait()
    assert (summary["pulses_delivered"], summary["aborted"], summary["stream"]["error"]) == (
        PULSES,
        False,
        None,
    )
    assert s.progress == tmspio.Progress("done", PULSES, PULSES, s.progress.board_s, PULSES)
    # the count of pulses sent grows while it runs, from the start + look-ahead to all
    assert seen == sorted(seen) and seen[0] < PULSES
    assert [r.index for r in got] == list(range(PULSES))
    assert all(r.deviation_ns in (0.0, 8.0) for r in got)
    assert [r.index for r in s.pulses if r.captured_board_s is not None] == list(range(PULSES))


def test_a_trigger_start_program_streams_with_every_onset_on_the_accepted_edge_plus_plan(
    tmp_path, monkeypatch, capsys
):
    """A streamed trigger-start run (`--stream always` on the standard emulated board): the
    rig drives trigger_in every 0.5 s of board time; the first edge after arming starts the
    program, and every one of the 6,000 onsets is that edge + TRIGGER_LATENCY + its compiled
    cycle, with pieces sent while it runs."""
    import timing  # firmware/timing.py

    path = tmp_path / "jit.toml"
    path.write_text(
        JITTERED.replace("[timing]", '[start]\nmode = "trigger"\n\n[timing]') % (ONE, PULSES)
    )
    rig_log = tmp_path / "rig.jsonl"
    monkeypatch.setenv(
        "TMSPIO_EMU_RIG",
        json.dumps({"trigger_source": {"first_s": 0.5, "period_s": 0.5}, "log": str(rig_log)}),
    )
    out = tmp_path / "run"
    rc = cli.main(
        ["run", str(path), "--emulator", "--speed", "max", "--out", str(out), "--quiet"]
        + ["--override", "stream test", "--stream", "always"]
    )
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    c = compiler.compile_protocol(parser.resolve(str(path)), HZ)
    with open(rig_log) as f:
        rows = [json.loads(line) for line in f if line.endswith("\n")]
    triggers = [r["cycle"] for r in rows if r["role"] == "trigger_in" and r["level"] == 1]
    pads = [r["cycle"] for r in rows if r["role"] == "trigger[0]" and r["level"] == 1]
    assert len(pads) == PULSES
    accepted = pads[0] - timing.TRIGGER_LATENCY  # one channel, delay 0
    assert accepted in triggers and accepted % (HZ // 2) == 0  # a rig edge, every 0.5 s
    assert pads == [accepted + timing.TRIGGER_LATENCY + k for k in c.channel_cycles[0]]
    s = json.loads((out / "summary.json").read_text())
    assert (s["pulses_delivered"], s["aborted"], s["faults"]) == (PULSES, False, [])
    assert (s["stream"]["ended"], s["stream"]["error"], s["accepted_triggers"]) == (True, None, 1)
    events = logs.read_events(str(out / "events.jsonl"))
    kinds = [e["event"] for e in events]
    (begun,) = [e for e in events if e["event"] == "stream"]
    assert begun["queued_pieces"] < s["stream"]["pieces"]  # the rest went while it ran
    assert kinds.index("stream") < kinds.index("started") < kinds.index("stream_end")
