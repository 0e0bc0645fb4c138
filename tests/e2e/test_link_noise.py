"""Line noise never reaches the REPL and never makes a pulse (issue 9 item 1, a safety defect).

The real firmware and engine on the emulated board. Before this fix two bytes, CR and Ctrl-C,
dropped the firmware to the MicroPython REPL, where the next line ran as Python and could pulse
a trigger output with nothing loaded or armed. Now the port is the firmware's until the framed
maintenance request: every pad edge is watched (the rig log) and every REPL entry would show as
a board reset or a prompt in what the board printed."""

import json

import pytest
from tmspio import deploy, link
from tmspio.emulator.serial_board import SerialBoard
from tmspio.tools import noise

pytestmark = pytest.mark.timeout(600)

HZ = 125_000_000
MS = HZ // 1000
FRAMES = 100_000


class Board:
    def __init__(self, tmp_path):
        self.rig_log = tmp_path / "rig.jsonl"
        self.out = open(tmp_path / "board.out", "wb")
        self.emu = SerialBoard(speed="max", rig={"log": str(self.rig_log)}, log=self.out)
        self.path = self.emu.start()

    def pad_edges(self):
        lines = self.rig_log.read_text().splitlines() if self.rig_log.exists() else []
        return [json.loads(ln) for ln in lines if json.loads(ln)["role"].startswith("trigger")]

    def printed(self):
        self.out.flush()
        with open(self.out.name, "rb") as f:
            return f.read()

    def close(self):
        self.emu.close()
        self.out.close()


@pytest.fixture
def board(tmp_path):
    b = Board(tmp_path)
    yield b
    b.close()


def _ten_pulses(conn):
    pf = link.progformat
    prog = pf.Program(HZ, [pf.Channel(0, 0, 0, [(10, 1 * MS, 100 * MS, 2 * MS, 0)])])
    conn.load(prog)
    conn.run(heartbeat_ms=0)
    st = conn.wait(timeout=120)
    onsets = [c for s, lv, c in conn.edges if s == 0 and lv == 1]
    return st, onsets


def _no_repl(board):
    printed = board.printed()
    assert board.emu.resets == 0
    for mark in (b">>> ", b"MicroPython v", b"Traceback", b"soft reboot"):
        assert mark not in printed


def test_the_repl_line_from_the_report_makes_no_pulse(board):
    line = (
        b"import machine,time;p=machine.Pin(2,machine.Pin.OUT);p.value(1);"
        b"time.sleep_ms(1);p.value(0)\r\n"
    )
    with link.connect(board.path, hello_timeout=30) as conn:  # hello: a session is open
        conn.ser.write(b"\r\x03" + line)
        conn.ser.write(b"\r\x03\x03\r\x01" + line + b"\x04")  # mpremote's raw-REPL exec too
        st = conn.status()  # still the firmware, still a session
        assert (st["state"], st["phase"]) == ("idle", "idle")
    ser = link.open_port(board.path)  # the session was closed (bye): noise outside one
    ser.write(b"\r\x03" + line)
    ser.close()
    with link.connect(board.path, hello_timeout=30) as conn:
        assert conn.status()["state"] == "idle"
    assert board.pad_edges() == []
    _no_repl(board)


def test_100k_malformed_frames_make_no_edge_and_no_repl_then_a_session_runs(board):
    with link.connect(board.path, hello_timeout=30) as conn:
        heap_before = conn.info["heap_free"]
    ser = link.open_port(board.path)
    try:
        result = noise.blast(ser, FRAMES, seed=9)
    finally:
        ser.close()
    assert result["frames"] == FRAMES and result["bytes_received"] > 0
    assert board.pad_edges() == []
    _no_repl(board)
    with link.connect(board.path, hello_timeout=60) as conn:
        # the heap is back where it was: nothing the noise allocated is kept
        assert conn.info["heap_free"] >= heap_before - 4096
        st, onsets = _ten_pulses(conn)
    assert (st["state"], st["pulses_delivered"]) == ("done", 10)
    assert [c - onsets[0] for c in onsets] == [k * 100 * MS for k in range(10)]
    edges = board.pad_edges()
    assert [(e["role"], e["level"]) for e in edges] == [("trigger[0]", 1), ("trigger[0]", 0)] * 10
    _no_repl(board)


def test_every_kind_of_noise_is_generated():
    import random

    rng = random.Random(1)
    for kind in noise.KINDS:
        chunk = noise.frame(rng, kind)
        assert isinstance(chunk, bytes) and chunk
    chunks = list(noise.frames(600, seed=3))
    assert len(chunks) == 600
    assert not any(link.wire.MAINTENANCE_KEY in c for c in chunks)


def test_after_the_maintenance_request_mpremote_reaches_the_repl(board):
    # the one deliberate way in: at rest, framed, with its key; the outputs were made idle
    assert deploy.open_repl(board.path) is True
    printed = board.printed()
    assert b"tmspio: firmware stopped for maintenance; outputs idle." in printed
    assert printed.rstrip().endswith(b">>>")
    assert board.pad_edges() == []


def test_maintenance_is_refused_while_a_program_runs(board):
    pf = link.progformat
    prog = pf.Program(HZ, [pf.Channel(0, 0, 0, [(100, 1 * MS, 100 * MS, 2 * MS, 0)])])
    with link.connect(board.path, hello_timeout=30) as conn:
        conn.load(prog)
        conn.run(heartbeat_ms=0)
        with pytest.raises(
            link.BoardRefused,
            match=r"board refused maintenance "
            r"\(out-of-order\): maintenance not allowed while running \(allowed "
            r"while idle or loading or loaded\)",
        ):
            conn.maintenance()
        assert conn.status()["state"] == "running"
        conn.stop("test over")
    with link.connect(board.path, hello_timeout=30) as conn:
        assert conn.status()["state"] == "stopped"  # the firmware still serves the port
    _no_repl(board)
