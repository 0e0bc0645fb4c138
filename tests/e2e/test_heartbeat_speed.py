"""The emulated board says its speed, so `tmspio run --port` against `tmspio emulate --speed X`
arms the heartbeat with 1000 × X board-ms by itself, and a killed host leaves a board that stops
(issue 9 item 7: before, the heartbeat was off there and 163 more pulses were seen)."""

import json
import signal
import subprocess
import sys
import time

import pytest
from tmspio import link, logs
from tmspio.emulator.serial_board import SerialBoard

pytestmark = pytest.mark.timeout(300)


@pytest.mark.parametrize("speed, reported", [(4, 4.0), (0.5, 0.5), ("max", "max")])
def test_hello_reports_the_speed(speed, reported):
    with SerialBoard(speed=speed) as bd, link.connect(bd.path, hello_timeout=30) as conn:
        assert conn.info["speed"] == reported


def test_at_max_speed_the_heartbeat_is_off_and_the_log_says_why(tmp_path):
    out = tmp_path / "run"
    with SerialBoard(speed="max") as bd:
        r = subprocess.run(
            [
                sys.executable,
                "-m",
                "tmspio.cli",
                "run",
                "itbs",
                "--port",
                bd.path,
                "--out",
                str(out),
                "--quiet",
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert r.returncode == 0, r.stderr
    prov = logs.read_events(str(out / "events.jsonl"))[0]
    assert (prov["heartbeat_ms"], prov["emulator_speed"]) == (0, "max")


def test_a_killed_host_stops_the_board_without_speed_given(tmp_path):
    speed = 4
    out = tmp_path / "run"
    with SerialBoard(speed=speed) as bd:
        host = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tmspio.cli",
                "run",
                "itbs",
                "--port",
                bd.path,
                "--out",
                str(out),
                "--quiet",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        events = out / "events.jsonl"
        deadline = time.monotonic() + 60
        while not events.exists() or b'"level":1' not in events.read_bytes():
            assert time.monotonic() < deadline and host.poll() is None
            time.sleep(0.05)
        prov = logs.read_events(str(events))[0]
        assert (prov["heartbeat_ms"], prov["emulator_speed"]) == (1000 * speed, float(speed))
        host.send_signal(signal.SIGKILL)
        host.wait()
        time.sleep(2.5)  # the bound is one real second
        with link.connect(bd.path, hello_timeout=30) as conn:
            st = conn.status()
    assert (st["state"], st["reason"]) == (
        "stopped",
        f"heartbeat: host silent for more than {4000} ms",
    )
    assert st["pulses_delivered"] < 600
    assert json.dumps(st)  # the board still answers: the firmware serves the port
