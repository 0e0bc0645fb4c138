"""End to end against the real firmware: pyserial over a pty <-> relay <-> firmware/main.py on the
MicroPython unix port with the emulated board (stand-ins + cycle-exact PIO simulator)."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from tmspio import cli, compiler, deploy, link, logs
from tmspio.emulator.serial_board import SerialBoard
from tmspio.protocols import parser

pytestmark = pytest.mark.timeout(300)


def service_period_ms():
    import service  # firmware/service.py (firmware/ is on pytest's pythonpath)

    return service.RUN_POLL_MS


wire = link.wire


@pytest.fixture
def board():
    with SerialBoard(speed="max") as b:
        yield b


def test_make_demo_itbs_600_pulses_zero_deviation(tmp_path, capsys):
    out = tmp_path / "demo-itbs"
    rc = cli.main(["run", "itbs", "--emulator", "--speed", "max", "--out", str(out), "--quiet"])
    printed = capsys.readouterr()
    assert rc == 0, printed.err
    s = json.loads((out / "summary.json").read_text())
    assert (
        s["pulses_planned"],
        s["pulses_delivered"],
        s["max_abs_deviation_ns"],
        s["aborted"],
        s["reason"],
    ) == (600, 600, 0, False, None)
    assert s["board_pulses_delivered"] == 600
    rows = (out / "pulses.csv").read_text().splitlines()
    # GP2 -> GP11 loopback confirms; iTBS has no trials or conditions (n/a)
    assert rows[1] == "tms,0,0.000000000,0.000000000,0,true,n/a,n/a"
    assert rows[600] == "tms,599,191.840000000,191.840000000,0,true,n/a,n/a"
    prov = logs.read_events(str(out / "events.jsonl"))[0]
    assert (prov["board"], prov["firmware_version"], prov["heartbeat_ms"]) == (
        "emulated",
        "0.3.0",
        0,
    )
    assert (
        "itbs: 600 of 600 pulses delivered; max |deviation| 0 ns (time zero = first "
        "captured onset)\nconfirmed by the "
        "stimulator's trigger-out: 600 of 600 (channel tms)\n" in printed.out
    )
    assert s["pulses_confirmed"] == 600


def test_garbage_and_malformed_frames_never_pulse(board):
    with link.connect(board.path, hello_timeout=30) as b:
        b.ser.write(bytes(range(256)) * 8)
        b.ser.write(wire.frame(wire.START_RUN, 3) + wire.frame(wire.ARM, 4))
        time.sleep(1.0)
        st = b.status()
        assert (st["state"], st["pulses_delivered"], st["events_sent"]) == ("idle", 0, 0)
        assert {e[0] for e in b.board_errors} >= {wire.E_JUNK}
        with pytest.raises(link.BoardRefused, match="start not allowed while idle"):
            b.start()
        assert b.edges == []


def test_stop_mid_train(board):
    proto = parser.resolve("itbs")
    prog = compiler.compile_protocol(proto, 125_000_000).program
    with link.connect(board.path, hello_timeout=30) as b:
        b.load(prog)
        b.run(heartbeat_ms=0)
        deadline = time.monotonic() + 60
        while sum(1 for e in b.edges if e[0] == 0 and e[1] == 1) < 40:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        st = b.stop("operator")
        assert (st["state"], st["reason"]) == ("stopped", "operator")
        assert 40 <= st["pulses_delivered"] < 600
        time.sleep(0.5)
        onsets = [e for e in b.edges if e[0] == 0 and e[1] == 1]
        assert len(onsets) == st["pulses_delivered"]


def test_second_host_gets_a_clear_error(board):
    with link.connect(board.path, hello_timeout=30):
        with pytest.raises(link.LinkError, match="is in use by another program"):
            link.connect(board.path)


HOST = r"""
import sys
from tmspio import compiler, link, logs
from tmspio.protocols import parser
b = link.connect(sys.argv[1], hello_timeout=30)
log = logs.EventLog(sys.argv[2])
b.on_edges = lambda recs: [log.write("edge", source=s, level=l, cycle=c) for s, l, c in recs]
b.load(compiler.compile_protocol(parser.resolve("itbs"), 125_000_000).program)
b.run(heartbeat_ms=int(sys.argv[3]))
print("running", flush=True)
import time
time.sleep(600)
"""


def test_host_killed_mid_run_board_aborts_within_the_heartbeat_bound(tmp_path):
    speed = 4  # board seconds per real second
    hb = 1000 * speed  # one real second
    log_path = tmp_path / "events.jsonl"
    with SerialBoard(speed=speed) as bd:
        host = subprocess.Popen(
            [sys.executable, "-c", HOST, bd.path, str(log_path), str(hb)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert host.stdout.readline() == "running\n"
        deadline = time.monotonic() + 60
        while b'"level":1' not in log_path.read_bytes():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(0.5)
        host.send_signal(signal.SIGKILL)
        host.wait()
        logged = logs.read_events(str(log_path))
        with open(log_path, "rb") as f:
            assert f.read().endswith(b"\n")
        time.sleep(3.0)
        with link.connect(bd.path, hello_timeout=30) as b:
            st = b.status()
    assert st["state"] == "stopped"
    assert st["reason"] == f"heartbeat: host silent for more than {hb} ms"
    onsets = compiler.compile_protocol(parser.resolve("itbs"), 125_000_000).channel_cycles[0]
    logged_onsets = [e["cycle"] for e in logged if e["source"] == 0 and e["level"] == 1]
    last_logged = max(logged_onsets)
    offset = min(logged_onsets) - onsets[0]  # capture clock vs program time (start latency)
    last_board = onsets[st["pulses_delivered"] - 1] + offset
    # the board ran on for at most the bound + one loop period + the host's own lag (0.5 s)
    assert 0 <= last_board - last_logged <= (hb + service_period_ms() + 500 * speed) * 125_000
    assert st["pulses_delivered"] < 600


def test_mpremote_deploy_round_trip(board):
    lines = []
    files, info = deploy.deploy(
        board.path, os.path.join(deploy.firmware.BOARDS_DIR, "emulated.json"), say=lines.append
    )
    assert info["board"] == "emulated" and info["firmware"] == "0.3.0"
    assert "main.py" in files and "engine.mpy" in files and "service.mpy" in files
    for name, sha in files.items():
        assert deploy._sha256(os.path.join(board.flash, name)) == sha
    assert not os.path.exists(os.path.join(board.flash, "engine.py"))
    with link.connect(board.path, hello_timeout=30) as b:
        assert b.status()["state"] == "idle"


def test_tmspio_emulate_prints_a_port_that_answers():
    proc = subprocess.Popen(
        [sys.executable, "-m", "tmspio.cli", "emulate", "--speed", "max"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        path = proc.stdout.readline().strip()
        assert path.startswith("/dev/pts/")
        with link.connect(path, hello_timeout=30) as b:
            assert (b.info["board"], b.info["platform"]) == ("emulated", "linux")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0


def _run_sici(interpreter):
    c = compiler.compile_protocol(parser.resolve("sici"), 125_000_000)
    with (
        SerialBoard(speed="max", interpreter=interpreter) as bd,
        link.connect(bd.path, hello_timeout=60) as b,
    ):
        assert b.info["firmware"] == "0.3.0"
        b.load(c.program)
        b.run(heartbeat_ms=0)
        st = b.wait(timeout=120)
    assert (st["state"], st["pulses_delivered"]) == ("done", c.pulses())
    return list(b.edges)


def test_cpython_fallback_interpreter_gives_the_same_edges():
    # SICI: two channels, jittered intervals (odd and even cycle counts), 20 conditioning and
    # 30 test pulses (test-alone and conditioned trials interleaved).
    edges = _run_sici("cpython")
    # both trigger channels and the confirm loopback (of channel 0's 20 pulses), 2 edges each
    assert len(edges) == 2 * (20 + 30) + 2 * 20
    assert sorted(edges) == sorted(_run_sici("micropython"))  # arrival order may differ


def test_ctrl_c_on_the_emulator_stops_the_board_and_exits_130(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tmspio.cli",
            "run",
            "itbs",
            "--emulator",
            "--speed",
            "4",
            "--out",
            str(out),
            "--quiet",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while (
        not (out / "events.jsonl").exists() or b'"edge"' not in (out / "events.jsonl").read_bytes()
    ):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    events = logs.read_events(str(out / "events.jsonl"))
    stopped = [e for e in events if e["event"] == "stopped"]
    assert len(stopped) == 1
    assert (stopped[0]["state"], stopped[0]["reason"]) == (
        "stopped",
        "operator interrupt (Ctrl-C)",
    )
    s = json.loads((out / "summary.json").read_text())
    assert s["aborted"] is True and 0 < s["pulses_delivered"] < 600
    assert s["pulses_delivered"] == s["board_pulses_delivered"]


def test_estop_on_the_rig_aborts_the_run_and_the_host_reports_it(tmp_path, capsys):
    # tests/e2e/protocols/estop-rig.toml: channel 3 (GP5) drives the e-stop input on the
    # emulated board's rig; its first pulse, 1.5 s in, presses it.
    out = tmp_path / "run"
    proto = os.path.join(os.path.dirname(__file__), "protocols", "estop-rig.toml")
    rc = cli.main(["run", proto, "--emulator", "--quiet", "--out", str(out)])
    printed = capsys.readouterr().out
    assert rc == 1
    assert (
        "estop-rig: 7 of 40 pulses delivered; max |deviation| 0 ns (time zero = first "
        "captured onset)\naborted: estop\n"
    ) in printed
    s = json.loads((out / "summary.json").read_text())
    assert (s["aborted"], s["reason"], s["pulses_delivered"]) == (True, "estop", 7)
    rows = [r.split(",") for r in (out / "pulses.csv").read_text().splitlines()[1:]]
    delivered = sorted(float(r[3]) for r in rows if r[3] != "n/a")
    assert delivered == [0.0, 0.01, 0.02, 1.0, 1.01, 1.02, 1.5]
