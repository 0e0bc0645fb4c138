"""The emulated board's process life (issue 9 item 7): the pty relay never deadlocks, the
board's interpreter never outlives the host process, `tmspio emulate` powers off within 2 s on
SIGTERM/SIGINT in every state, and an idle board at --speed max costs almost no CPU.

docs/emulator.md ("Process life") states these guarantees."""

import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from tmspio import link
from tmspio.emulator.serial_board import SerialBoard

wire = link.wire
pytestmark = pytest.mark.timeout(120)

TCK = os.sysconf("SC_CLK_TCK")
EMULATE = [sys.executable, "-m", "tmspio.cli", "emulate", "--speed", "max"]


def _children(pid):
    """Direct children of pid, over all its threads (the relay thread starts the board)."""
    kids = []
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                kids += [int(k) for k in f.read().split()]
        except OSError:  # the thread ended meanwhile
            pass
    return kids


def _running(pid):
    """The process exists and is not a zombie (a dead child not yet reaped by its new parent)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _gone_within(pids, seconds):
    deadline = time.monotonic() + seconds
    while any(_running(p) for p in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def _kill_leftovers(pids):
    for p in pids:
        if _running(p):
            os.kill(p, signal.SIGKILL)


def _cpu_seconds(pids):
    total = 0
    for p in pids:
        with open(f"/proc/{p}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime + stime (fields 14, 15)
    return total / TCK


def _garbage_frames(size):
    """`size` bytes of frames the board must reject: every one with a broken CRC."""
    out = bytearray()
    seq = 0
    while len(out) < size:
        f = bytearray(wire.frame(wire.STATUS, seq, bytes(seq % 40)))
        f[-1] ^= 0xFF
        out += f
        seq = (seq + 1) & 0xFF
    return bytes(out[:size])


def _write_in_background(path, data):
    """Write `data` to the port in one os.write from a thread (a deadlocked relay would hang
    it forever); returns the thread."""
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY)

    def write():
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)

    t = threading.Thread(target=write, daemon=True)
    t.start()
    return t


class Emulate:
    """`tmspio emulate --speed max` in a subprocess; its port and its board's interpreter."""

    def __init__(self):
        self.proc = subprocess.Popen(
            EMULATE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.path = self.proc.stdout.readline().strip()
        assert self.path.startswith("/dev/"), self.proc.stderr.read()
        self.kids = _children(self.proc.pid)
        assert len(self.kids) == 1  # the board's interpreter

    def signal_and_wait(self, signum):
        t0 = time.monotonic()
        self.proc.send_signal(signum)
        try:
            rc = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            rc = None
        return rc, time.monotonic() - t0

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()
        _kill_leftovers(self.kids)


@pytest.fixture
def emulate():
    e = Emulate()
    yield e
    e.close()


# ---- the relay never blocks in a write ------------------------------------------------------


def test_64_kb_of_bad_frames_at_once_then_hello_is_answered():
    with SerialBoard(speed="max") as board:
        with link.connect(board.path, hello_timeout=30) as b:
            assert b.status()["state"] == "idle"
        writer = _write_in_background(board.path, _garbage_frames(64 * 1024))
        writer.join(10)
        assert not writer.is_alive(), "the 64 KB write never completed: the relay is stuck"
        t0 = time.monotonic()
        with link.connect(board.path, hello_timeout=10) as b:
            assert b.info["board"] == "emulated"
            assert b.status()["state"] == "idle"
        assert time.monotonic() - t0 < 10
        assert board.alive() and board.resets == 0


def test_board_output_nobody_reads_is_dropped_and_counted_and_the_board_goes_on():
    with SerialBoard(speed="max") as board:
        with link.connect(board.path, hello_timeout=30):
            pass
        # ~1 MB of error replies for 256 KB of bad frames, and nobody reads them
        writer = _write_in_background(board.path, _garbage_frames(256 * 1024))
        writer.join(30)
        assert not writer.is_alive()
        deadline = time.monotonic() + 20
        while board.dropped == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert board.dropped > 0
        with link.connect(board.path, hello_timeout=10) as b:
            assert b.status()["state"] == "idle"


# ---- no orphan: the interpreter dies with the host process ----------------------------------


def test_sigkill_of_tmspio_emulate_takes_the_board_with_it(emulate):
    emulate.proc.kill()
    emulate.proc.wait(5)
    assert _gone_within(emulate.kids, 2), "the board's interpreter outlived tmspio emulate"


_HOLDER = """\
import os, sys, time
from tmspio.emulator.serial_board import SerialBoard
b = SerialBoard(speed="max")
b.start()
print(b.pid, flush=True)
time.sleep(0.5)
if sys.argv[1] == "exit":
    os._exit(1)
time.sleep(600)
"""


@pytest.mark.parametrize("death", ["exit", "sigkill"])
def test_a_script_holding_a_serial_board_takes_it_along_when_it_dies(death):
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, death], stdout=subprocess.PIPE, text=True
    )
    kid = int(proc.stdout.readline())
    try:
        assert _running(kid)
        if death == "sigkill":
            proc.kill()
        proc.wait(10)
        assert _gone_within([kid], 2), "the board's interpreter outlived the script"
    finally:
        proc.stdout.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        _kill_leftovers([kid])


# ---- SIGTERM / SIGINT: power off within 2 s in every state ------------------------------------

EXIT_CODE = {signal.SIGTERM: 0, signal.SIGINT: 130}  # cli.py: Ctrl-C is 130 for every verb


def _assert_powered_off(emulate, signum):
    rc, took = emulate.signal_and_wait(signum)
    assert rc == EXIT_CODE[signum], emulate.proc.stderr.read()
    assert took < 2, f"tmspio emulate took {took:.2f} s to end"
    assert _gone_within(emulate.kids, 0.5), "the board's interpreter outlived tmspio emulate"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_power_off_when_idle(emulate, signum):
    with link.connect(emulate.path, hello_timeout=30) as b:
        assert b.status()["state"] == "idle"
    _assert_powered_off(emulate, signum)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_power_off_mid_session_with_a_program_running(emulate, signum, tmp_path):
    out = tmp_path / "run"
    run = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tmspio.cli",
            "run",
            "itbs",
            "--port",
            emulate.path,
            "--out",
            str(out),
            "--quiet",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        events = out / "events.jsonl"
        deadline = time.monotonic() + 60
        while not (events.exists() and b'"edge"' in events.read_bytes()):
            assert run.poll() is None, run.stderr.read()
            assert time.monotonic() < deadline
            time.sleep(0.02)
        _assert_powered_off(emulate, signum)
        run.wait(30)  # its port vanished: the run ends with a link error
        assert run.returncode != 0
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
        run.stderr.close()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_power_off_while_the_relay_holds_bytes_both_ways(emulate, signum):
    with link.connect(emulate.path, hello_timeout=30):
        pass
    # More bad frames than the ptys hold, and no reader: the board's replies pile up in the
    # relay, and the rest of the burst waits for the board.
    fd = os.open(emulate.path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    try:
        data = memoryview(_garbage_frames(1 << 20))
        deadline = time.monotonic() + 2
        while data and time.monotonic() < deadline:
            try:
                data = data[os.write(fd, data) :]
            except BlockingIOError:
                time.sleep(0.01)
        time.sleep(0.2)
        _assert_powered_off(emulate, signum)
    finally:
        os.close(fd)


# ---- an idle board costs almost nothing --------------------------------------------------------


def test_an_idle_board_at_speed_max_costs_almost_no_cpu(emulate):
    with link.connect(emulate.path, hello_timeout=30) as b:
        assert b.status()["state"] == "idle"
    time.sleep(0.5)
    pids = [emulate.proc.pid] + emulate.kids
    c0, t0 = _cpu_seconds(pids), time.monotonic()
    time.sleep(3)
    share = (_cpu_seconds(pids) - c0) / (time.monotonic() - t0)
    # measured ~0.2 % (docs/emulator.md); the old poll loop took a whole core
    assert share < 0.25, f"an idle board took {share:.0%} of a core"
