"""The link end to end over a pty: host (pyserial) <-> relay <-> the real command loop running on
the MicroPython unix port, with the fake engine (tests/support/fakefw) behind it.

These tests are about the link, the session and the logs; the timing claims are tested
against the real firmware in test_firmware_e2e.py.
"""

import json
import os
import signal
import struct
import subprocess
import sys
import time

import pytest
from fakeflash import fake_flash
from tmspio import cli, link, logs
from tmspio.emulator.serial_board import SerialBoard

wire = link.wire
pytestmark = pytest.mark.timeout(60)


def _board(tmp_path, speed):
    b = SerialBoard(flash=fake_flash(str(tmp_path / "flash"), speed), standins=False)
    b.start()
    return b


@pytest.fixture
def board(tmp_path):
    b = _board(tmp_path, 200)  # fake engine: 200 board seconds per real second
    yield b
    b.close()


@pytest.fixture
def slow_board(tmp_path):
    b = _board(tmp_path, 10)
    yield b
    b.close()


def _program(n, period_cycles=1_250_000, width=12_500):
    pf = link.progformat
    return pf.Program(
        125_000_000, [pf.Channel(0, 0, 0, [(n, width, period_cycles, 2 * width, 0)])]
    )


def test_handshake_reports_the_board(board):
    with link.connect(board.path, hello_timeout=10) as b:
        assert b.info["board"] == "fake"
        assert b.info["sysclk_hz"] == 125_000_000
        assert b.info["wire"] == wire.WIRE_VERSION
        assert b.status()["state"] == "idle"


def test_tmspio_run_itbs_writes_every_log(board, tmp_path, capsys):
    out = tmp_path / "run"
    rc = cli.main(["run", "itbs", "--port", board.path, "--out", str(out), "--quiet"])
    assert rc == 0
    summary = json.loads((out / "summary.json").read_text())
    assert (
        summary["pulses_planned"],
        summary["pulses_delivered"],
        summary["max_abs_deviation_ns"],
        summary["aborted"],
    ) == (600, 600, 0, False)
    events = logs.read_events(str(out / "events.jsonl"))
    prov = events[0]
    assert prov["event"] == "provenance"
    assert prov["protocol"] == "itbs" and prov["firmware_version"] == "0.3.0"
    assert prov["sysclk_hz"] == 125_000_000 and len(prov["protocol_sha256"]) == 64
    assert len(prov["host"]["tmspio_git"].split("+")[0]) == 40  # this checkout's commit
    assert sum(1 for e in events if e["event"] == "edge") == 1200
    assert events[-1]["event"] == "summary"
    rows = (out / "pulses.csv").read_text().splitlines()
    assert rows[0] == "channel,index,planned_s,captured_s,deviation_ns,confirmed,trial,condition"
    assert len(rows) == 601
    assert rows[-1] == "tms,599,191.840000000,191.840000000,0,n/a,n/a,n/a"
    tsv = (out / "events.tsv").read_text().splitlines()
    assert len(tsv) == 601 and tsv[0].split("\t")[:3] == ["onset", "duration", "trial_type"]
    assert json.loads((out / "events.json").read_text())["onset"]["Units"] == "s"
    assert (out / "timing.png").stat().st_size > 10_000
    printed = capsys.readouterr().out
    assert (
        "itbs: 600 of 600 pulses delivered; max |deviation| 0 ns (time zero = first "
        "captured onset)"
    ) in printed


def test_garbage_and_malformed_frames_get_errors_and_no_pulse(board):
    with link.connect(board.path, hello_timeout=10) as b:
        b.ser.write(bytes(range(256)) * 4)  # includes 0x03 and 0xA5 start bytes
        bad = bytearray(wire.frame(wire.ARM, 9))
        bad[-2] ^= 0x40
        b.ser.write(bytes(bad))
        b.ser.write(bytes([wire.START]) + struct.pack("<HBB", 5000, wire.START_RUN, 10))
        b.ser.write(wire.frame(wire.START_RUN, 11))  # well formed, out of order
        time.sleep(1.0)
        st = b.status()
        assert (st["state"], st["events_sent"], st["phase"]) == ("idle", 0, "idle")
        codes = {e[0] for e in b.board_errors}
        assert {wire.E_JUNK, wire.E_OVERSIZED} <= codes
        assert codes <= {wire.E_JUNK, wire.E_OVERSIZED, wire.E_CRC, wire.E_TRUNCATED}
        # out-of-order start was answered to its own seq: the link saw it as a reply
        with pytest.raises(
            link.BoardRefused,
            match=r"board refused start \(out-of-order\): "
            r"start not allowed while idle \(allowed while armed\)",
        ):
            b.start()
        assert b.edges == []


def test_stop_mid_train(slow_board):
    with link.connect(slow_board.path, hello_timeout=10) as b:
        b.load(_program(3000))  # 10 Hz for 300 s of board time = 30 s here
        b.run()
        while len(b.edges) < 20:
            time.sleep(0.01)
        st = b.stop("operator")
        assert (st["state"], st["reason"]) == ("stopped", "operator")
        assert 10 <= st["pulses_delivered"] < 3000
        n = len(b.edges)
        time.sleep(0.3)
        assert (
            len(b.edges) == n == 2 * st["pulses_delivered"]
            or len(b.edges) == 2 * st["pulses_delivered"] - 1
        )


def test_second_host_on_a_port_in_use_gets_a_clear_error(board):
    with link.connect(board.path, hello_timeout=10):
        with pytest.raises(
            link.LinkError, match=f"port {board.path} is in use by another program"
        ):
            link.connect(board.path)
        rc = subprocess.run(
            [sys.executable, "-m", "tmspio.cli", "run", "itbs", "--port", board.path],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert rc.returncode == 1
        assert rc.stderr.strip().endswith(
            f"tmspio: error: port {board.path} is in use by "
            "another program (a second tmspio, mpremote or a "
            "terminal); close it and retry"
        )


HOST_SCRIPT = r"""
import sys, time
from tmspio import link, logs
pf = link.progformat
b = link.connect(sys.argv[1], hello_timeout=10)
log = logs.EventLog(sys.argv[2])
b.on_edges = lambda recs: [log.write("edge", source=s, level=l, cycle=c) for s, l, c in recs]
b.load(pf.Program(125_000_000, [pf.Channel(0, 0, 0, [(3000, 12500, 1250000, 25000, 0)])]))
b.run(heartbeat_ms=int(sys.argv[3]))
print("running", flush=True)
time.sleep(60)
"""


def test_host_killed_mid_run_board_aborts_within_the_heartbeat_bound(slow_board, tmp_path):
    # Without the hardware model the command loop's ticks_ms is real time; the fake engine's
    # edges run at 10 board seconds per real second.
    board = slow_board
    log_path = tmp_path / "events.jsonl"
    host = subprocess.Popen(
        [sys.executable, "-c", HOST_SCRIPT, board.path, str(log_path), "300"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert host.stdout.readline() == "running\n"
    time.sleep(0.5)
    host.send_signal(signal.SIGKILL)
    host.wait()
    logged = logs.read_events(str(log_path))
    assert logged and all(e["event"] == "edge" for e in logged)
    with open(log_path, "rb") as f:
        assert f.read().endswith(b"\n")  # every record complete up to the kill
    time.sleep(1.0)
    with link.connect(board.path, hello_timeout=10) as b:
        st = b.status()
    assert st["state"] == "stopped"
    assert st["reason"] == "heartbeat: host silent for more than 300 ms"
    # After the last edge the host logged, the board ran on for at most the 300 ms bound plus
    # 200 ms of slack for the loop period and the host's own delay: 0.5 s real = 5 s board.
    last_logged = max(e["cycle"] for e in logged if e["level"] == 1)
    board_last_onset = 1000 + (st["pulses_delivered"] - 1) * 1_250_000
    assert 0 <= board_last_onset - last_logged <= 5 * 125_000_000
    assert st["pulses_delivered"] < 3000


def test_ctrl_c_stops_the_run_closes_the_log_and_exits_130(slow_board, tmp_path):
    board = slow_board
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tmspio.cli",
            "run",
            "rtms-1hz",
            "--intensity",
            "100",
            "--port",
            board.path,
            "--out",
            str(out),
            "--quiet",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120  # a loaded machine starts the CLI slowly
    while not (
        (out / "events.jsonl").exists() and b'"edge"' in (out / "events.jsonl").read_bytes()
    ):
        assert time.monotonic() < deadline and proc.poll() is None, "no edge logged"
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "tmspio: error: run stopped by Ctrl-C; outputs idle; log in" in err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["aborted"] is True
    assert summary["reason"] == "operator interrupt (Ctrl-C)"
    assert 0 < summary["pulses_delivered"] < summary["pulses_planned"]
    events = logs.read_events(str(out / "events.jsonl"))
    assert [e["event"] for e in events if e["event"] in ("stopped", "summary")] == [
        "stopped",
        "summary",
    ]
    with link.connect(board.path, hello_timeout=10) as b:
        assert b.status()["state"] == "stopped"


def test_mpremote_exec_fs_and_soft_reset(board, tmp_path):
    from tmspio import deploy

    assert deploy.open_repl(board.path) is True  # the maintenance request, then mpremote
    mp = [os.path.join(os.path.dirname(sys.executable), "mpremote"), "connect", board.path]
    r = subprocess.run(mp + ["exec", "print(6*7)"], capture_output=True, text=True, timeout=30)
    assert (r.returncode, r.stdout) == (0, "42\n"), r.stderr
    src = tmp_path / "hello.txt"
    src.write_bytes(bytes(range(256)) * 40)
    r = subprocess.run(
        mp + ["fs", "cp", str(src), ":hello.txt", "+", "fs", "ls", ":"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert r.returncode == 0, r.stderr
    assert "hello.txt" in r.stdout and "service.py" in r.stdout
    assert (tmp_path / "flash" / "hello.txt").read_bytes() == src.read_bytes()
    r = subprocess.run(mp + ["soft-reset"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert board.resets >= 1


def test_a_failing_edge_callback_stops_the_run_and_says_why(slow_board):
    with link.connect(slow_board.path, hello_timeout=10) as b:
        b.load(_program(3000))

        def full_disk(recs):
            raise OSError(28, "No space left on device")

        b.on_edges = full_disk
        b.run()
        with pytest.raises(
            link.LinkError,
            match=f"handling a message from {slow_board.path} "
            r"failed: OSError: \[Errno 28\] No space left on device",
        ):
            b.wait(timeout=20)
        st = b.stop("host: log write failed")
        assert (st["state"], st["reason"]) == ("stopped", "host: log write failed")


def test_run_stops_the_board_when_the_host_cannot_log(slow_board, tmp_path, monkeypatch):
    from tmspio import session

    calls = []

    def failing_edges(self, recs):
        calls.append(len(recs))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(session.Session, "_edges", failing_edges)
    s = session.Session("itbs", port=slow_board.path, out=str(tmp_path / "run"), plots=False)
    with s:
        with pytest.raises(link.LinkError, match="No space left on device"):
            s.run()
        assert s.link.status()["state"] == "stopped"
    assert calls
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["aborted"] is True
    assert summary["reason"].startswith("link: handling a message from")


def test_a_board_that_restarts_mid_run_is_reported(slow_board):
    with link.connect(slow_board.path, hello_timeout=10) as b:
        b.load(_program(3000))
        b.run()
        while not b.edges:
            time.sleep(0.01)
        os.kill(slow_board.pid, signal.SIGKILL)  # the relay brings it back, as a reset would
        with pytest.raises(
            link.LinkError,
            match=f"the board on {slow_board.path} restarted "
            r"during the run \(its session is gone: status: no session open, "
            r"send hello first\)",
        ):
            b.wait(timeout=20)
    assert slow_board.resets == 1


def test_run_refuses_a_board_still_running_an_earlier_session(slow_board, tmp_path, capsys):
    # an earlier host left a run going with the heartbeat off (killed, not stopped)
    with link.connect(slow_board.path, hello_timeout=10) as b:
        b.load(_program(1000, period_cycles=125_000_000))  # 1000 board-s: 100 s real
        b.run(heartbeat_ms=0)
        assert b.status()["state"] == "running"
    out = tmp_path / "run"
    rc = cli.main(["run", "itbs", "--port", slow_board.path, "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 1
    assert err == (
        f"tmspio: error: the board on {slow_board.path} is running from an earlier "
        "session; wait for it to finish or reset the board (replug it, or restart "
        "`tmspio emulate`)\n"
    )
    assert not out.exists()  # nothing loaded, nothing logged, no run directory


def test_selftest_refuses_a_board_still_running_an_earlier_session(slow_board):
    from fakeflash import FAKE_BOARD
    from tmspio import selftest

    with link.connect(slow_board.path, hello_timeout=10) as b:
        b.load(_program(1000, period_cycles=125_000_000))
        b.run(heartbeat_ms=0)
    with link.connect(slow_board.path, hello_timeout=10) as b:
        with pytest.raises(link.LinkError) as e:
            selftest.run_selftest(b, FAKE_BOARD)
        assert str(e.value) == (
            f"the board on {slow_board.path} is running from an earlier "
            "session; wait for it to finish or reset the board (replug it, "
            "or restart `tmspio emulate`)"
        )
        assert b.status()["state"] == "running"  # untouched
