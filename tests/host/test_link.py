"""tmspio.link pieces that need no board: port discovery, port errors, the version check."""

import os
import time

import pytest
from fakeflash import fake_flash
from tmspio import link
from tmspio.emulator.serial_board import SerialBoard


class _Port:
    def __init__(self, device, vid):
        self.device = device
        self.vid = vid


def test_find_board_by_raspberry_pi_usb_id(monkeypatch):
    ports = [
        _Port("/dev/ttyS0", None),
        _Port("/dev/ttyACM3", 0x2E8A),
        _Port("/dev/ttyUSB0", 0x0403),
    ]
    monkeypatch.setattr(link.serial.tools.list_ports, "comports", lambda: ports)
    assert link.find_board() == "/dev/ttyACM3"


def test_find_board_none_or_several(monkeypatch):
    monkeypatch.setattr(link.serial.tools.list_ports, "comports", lambda: [])
    with pytest.raises(
        link.LinkError,
        match="no board found: no USB serial device with "
        "Raspberry Pi vendor id 2e8a; connect a Pico, pass --port PORT, or use "
        "--emulator",
    ):
        link.find_board()
    two = [_Port("/dev/ttyACM0", 0x2E8A), _Port("/dev/ttyACM1", 0x2E8A)]
    monkeypatch.setattr(link.serial.tools.list_ports, "comports", lambda: two)
    with pytest.raises(
        link.LinkError,
        match=r"2 boards found \(/dev/ttyACM0, /dev/ttyACM1\): "
        "pass --port PORT",
    ):
        link.find_board()


def test_missing_port_is_named():
    with pytest.raises(link.LinkError, match="cannot open port /dev/nonexistent-tmspio: "):
        link.open_port("/dev/nonexistent-tmspio")


def test_echoing_port_is_not_a_board():
    with pytest.raises(
        link.LinkError,
        match="loop:// answered hello with hello: not a tmspio "
        r"board \(a loopback or echoing port\?\)",
    ):
        link.connect("loop://", hello_timeout=2)


def test_silent_port_times_out_with_the_request_named(tmp_path):
    import pty

    m, s = pty.openpty()
    try:
        path = os.ttyname(s)
        with pytest.raises(link.LinkError, match=f"no reply to hello from {path} within 0.3 s"):
            link.connect(path, hello_timeout=0.3)
    finally:
        os.close(m)
        os.close(s)


@pytest.mark.timeout(60)
def test_incompatible_firmware_version_is_refused(tmp_path):
    flash = fake_flash(str(tmp_path / "flash"))
    path = os.path.join(flash, "service.py")
    with open(path) as f:
        text = f.read()
    with open(path, "w") as f:
        f.write(text.replace('FIRMWARE_VERSION = "0.3.0"', 'FIRMWARE_VERSION = "0.9.0"'))
    with SerialBoard(flash=flash, standins=False) as b:
        with pytest.raises(
            link.LinkError,
            match=f"firmware 0.9.0 on {b.path} is not supported "
            r"by tmspio 0.3.0 \(needs 0.3.x\); run `tmspio deploy`",
        ):
            link.connect(b.path, hello_timeout=10)


def test_leftover_frames_of_an_earlier_session_are_skipped():
    # The test plays the board: before the real hello reply it sends what a killed host left
    # unread (an ack and an error for other requests, with the same seq).
    import json
    import pty
    import threading
    import tty

    m, s = pty.openpty()
    tty.setraw(m)
    tty.setraw(s)
    wire = link.wire

    def board():
        d = wire.Decoder()
        frames = []
        while not frames:
            frames = [i for i in d.feed(os.read(m, 256)) if i[0] == "frame"]
        seq = frames[0][2]
        info = {"firmware": "0.3.0", "board": "test", "sysclk_hz": 125_000_000}
        os.write(
            m,
            wire.frame(wire.ACK, seq, bytes([wire.LOAD_DATA]))
            + wire.frame(wire.ERROR, seq, wire.error(wire.E_ORDER, wire.ARM, "stale"))
            + wire.frame(wire.HELLO_R, seq, json.dumps(info).encode()),
        )

    t = threading.Thread(target=board)
    t.start()
    try:
        b = link.Link(link.open_port(os.ttyname(s)), "test")
        assert b.hello(timeout=5)["board"] == "test"
        b._closed.set()
        b.ser.close()
    finally:
        t.join(5)
        os.close(m)
        os.close(s)


def test_the_heartbeat_period_follows_the_timeout_scale_up_to_half_the_bound():
    assert [link.heartbeat_period(s) for s in (1, 2, 4.5, 5, 100)] == [0.1, 0.2, 0.45, 0.5, 0.5]
    assert link.HEARTBEAT_WALL_MS == 1000  # 0.5 s: half of it, safe for a board at real time


def test_a_slow_board_is_not_flooded_with_heartbeats():
    # scale 5: one heartbeat per 0.5 s (unscaled: one per 0.1 s, 12 in the same 1.2 s)
    master, slave = os.openpty()
    try:
        lk = link.Link(link.open_port(os.ttyname(slave)), "pty", scale=5)
        try:
            lk._heartbeat.set()
            time.sleep(1.2)
            lk._heartbeat.clear()
        finally:
            lk._closed.set()
            lk.ser.close()
        got = os.read(master, 4096)
    finally:
        os.close(master)
        os.close(slave)
    frames = [i for i in link.wire.Decoder().feed(got) if i[0] == "frame"]
    assert {f[1] for f in frames} == {link.wire.HEARTBEAT}
    assert 1 <= len(frames) <= 2
