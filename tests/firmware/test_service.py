"""The firmware command loop (firmware/service.py) against a fake engine, byte for byte."""

import hashlib
import json
import struct
import sys

import progformat  # firmware/ and tests/support are on pytest's pythonpath (pyproject.toml)
import pytest
import service
import wire
from fakefw.fakeengine import FakeEngine
from hypothesis import given, settings
from hypothesis import strategies as st

BOARD = {
    "name": "test",
    "chip": "rp2040",
    "sysclk_hz": 125_000_000,
    "limits": {"max_pulses": 100000},
}


class Clock:
    def __init__(self):
        self.ms = 0

    def __call__(self):
        return self.ms


class Harness:
    def __init__(self, heartbeat_ms=None):
        cfg = dict(BOARD)
        if heartbeat_ms is not None:
            cfg["heartbeat_ms"] = heartbeat_ms
        self.engine = FakeEngine(cfg, manual=True)
        self.clock = Clock()
        self.out = bytearray()
        self.svc = service.Service(
            self.engine, cfg, self.out.extend, ticks_ms=self.clock, ticks_diff=lambda a, b: a - b
        )
        self.seq = 0

    def send(self, mtype, payload=b""):
        self.seq = (self.seq + 1) & 0xFF
        self.svc.receive(wire.frame(mtype, self.seq, payload))
        return self.replies()

    def replies(self):
        items = wire.Decoder().feed(bytes(self.out))
        self.out.clear()
        assert all(i[0] == "frame" for i in items), items
        return [(i[1], i[2], i[3]) for i in items]

    def hello(self):
        (r,) = self.send(wire.HELLO, struct.pack("<H", wire.WIRE_VERSION))
        assert r[0] == wire.HELLO_R
        return json.loads(r[2])

    def load(self, data):
        assert (
            self.send(wire.LOAD_BEGIN, wire.load_begin(len(data), wire.crc32(data)))[0][0]
            == wire.ACK
        )
        for off in range(0, len(data), 1000):
            self.send(wire.LOAD_DATA, wire.load_data(off, data[off : off + 1000]))
        return self.send(wire.LOAD_END)


def program(n=3, width=100, period=1000, gap=5000):
    return progformat.encode(
        progformat.Program(
            125_000_000, [progformat.Channel(0, 0, 10, [(n, width, period, gap, 0)])]
        )
    )


def error_of(reply):
    assert reply[0] == wire.ERROR, reply
    code, mtype, text = wire.parse_error(reply[2])
    return code, mtype, text


def test_hello_reports_firmware_board_clock_limits():
    h = Harness()
    info = h.hello()
    assert info == {
        "wire": 2,
        "firmware": service.FIRMWARE_VERSION,
        "board": "test",
        "chip": "rp2040",
        "sysclk_hz": 125_000_000,
        "limits": {"max_pulses": 100000},
        "heartbeat_ms": 1000,
        "max_program_bytes": 1 << 20,
        "phase": "idle",
        "platform": sys.platform,
        "speed": 1,
        "heap_free": None,
    }


def test_full_session_streams_every_edge_and_the_final_state():
    h = Harness()
    h.hello()
    data = program()
    (loaded,) = h.load(data)
    assert loaded == (wire.LOADED, h.seq, wire.loaded(len(data), hashlib.sha256(data).digest()))
    assert h.send(wire.ARM, wire.u32(0)) == [(wire.ACK, h.seq, bytes([wire.ARM]))]
    replies = h.send(wire.START_RUN)
    assert replies[0] == (wire.ACK, h.seq, bytes([wire.START_RUN]))
    assert json.loads(replies[1][2])["state"] == "running"
    h.engine.now = 10_000
    h.svc.tick()
    frames = h.replies()
    assert frames[0][0] == wire.EVENTS
    first, recs = wire.parse_events(frames[0][2])
    assert first == 0
    assert recs == [
        (0, 1, 10),
        (0, 0, 110),
        (0, 1, 1010),
        (0, 0, 1110),
        (0, 1, 2010),
        (0, 0, 2110),
    ]
    state = json.loads(frames[1][2])
    assert frames[1][0] == wire.STATE
    assert (state["state"], state["pulses_delivered"], state["phase"]) == ("done", 3, "loaded")
    assert h.engine.calls == ["load", "arm", "start"]


def test_out_of_order_messages_are_refused_by_name():
    h = Harness()
    code, mtype, text = error_of(h.send(wire.ARM)[0])
    assert (code, mtype, text) == (
        wire.E_ORDER,
        wire.ARM,
        "arm: no session open, send hello first",
    )
    h.hello()
    code, mtype, text = error_of(h.send(wire.START_RUN)[0])
    assert (code, text) == (wire.E_ORDER, "start not allowed while idle (allowed while armed)")
    code, _, text = error_of(h.send(wire.LOAD_DATA, wire.load_data(0, b"abc"))[0])
    assert text == "load-data not allowed while idle (allowed while loading)"
    h.load(program())
    code, _, text = error_of(h.send(wire.START_RUN)[0])
    assert text == "start not allowed while loaded (allowed while armed)"
    assert h.engine.calls == ["load"]


def test_bad_crc_on_program_and_engine_refusal_never_load():
    h = Harness()
    h.hello()
    data = program()
    h.send(wire.LOAD_BEGIN, wire.load_begin(len(data), wire.crc32(data) ^ 1))
    h.send(wire.LOAD_DATA, wire.load_data(0, data))
    code, _, text = error_of(h.send(wire.LOAD_END)[0])
    assert code == wire.E_PAYLOAD
    assert text == "load-end crc32 0x%08x: announced 0x%08x" % (
        wire.crc32(data),
        wire.crc32(data) ^ 1,
    )
    bad = b"XXXX" + data[4:-4]
    bad += struct.pack("<I", wire.crc32(bad))
    code, _, text = error_of(h.load(bad)[0])
    assert (code, text) == (wire.E_ENGINE, "format: magic = b'XXXX': b'TMSP'")
    assert h.svc.phase == "idle"
    assert "arm" not in h.engine.calls


def test_oversized_and_corrupt_frames_get_errors_and_resync():
    h = Harness()
    h.hello()
    big = bytes([wire.START]) + struct.pack("<HBB", wire.MAX_PAYLOAD + 1, wire.STATUS, 9)
    good = wire.frame(wire.STATUS, 7)
    corrupt = bytearray(wire.frame(wire.STATUS, 8))
    corrupt[-1] ^= 0xFF
    h.svc.receive(big + bytes(corrupt) + good)
    replies = h.replies()
    # The bytes after a bad START are rescanned: the oversized header's 4 bytes and the corrupt
    # frame's 8 are junk, and the good frame behind them is still found.
    assert [error_of(r)[:1] + error_of(r)[2:] for r in replies[:-1]] == [
        (wire.E_OVERSIZED, "length 1025 above the maximum 1024"),
        (wire.E_JUNK, "4 bytes outside a frame ignored"),
        (wire.E_CRC, "crc32 mismatch on a 9-byte frame"),
        (wire.E_JUNK, "8 bytes outside a frame ignored"),
    ]
    assert replies[-1][:2] == (wire.STATUS_R, 7)


def test_truncated_frame_expires_then_later_frames_work():
    h = Harness()
    h.hello()
    h.svc.receive(wire.frame(wire.STATUS, 5)[:6])
    h.clock.ms += service.FRAME_TIMEOUT_MS + 1
    h.svc.tick()
    assert [error_of(r)[2] for r in h.replies()] == [
        "frame truncated after 6 bytes",
        "5 bytes outside a frame ignored",
    ]
    assert h.send(wire.STATUS)[0][0] == wire.STATUS_R


def test_junk_between_frames_is_reported_once():
    h = Harness()
    h.hello()
    h.svc.receive(b"hello world")
    h.svc.tick()
    (r,) = h.replies()
    assert error_of(r) == (wire.E_JUNK, 0, "11 bytes outside a frame ignored")


def test_heartbeat_silence_aborts_a_running_program():
    h = Harness(heartbeat_ms=500)
    h.hello()
    h.load(program(n=1000))
    h.send(wire.ARM)  # empty payload: the board's default heartbeat
    h.send(wire.START_RUN)
    h.clock.ms = 400
    h.send(wire.HEARTBEAT)
    h.clock.ms = 900
    h.engine.now = 3000
    h.svc.tick()
    assert h.engine.state == "running"
    h.clock.ms = 901
    h.svc.tick()
    assert h.engine.state == "stopped"
    assert h.engine.reason == "heartbeat: host silent for more than 500 ms"
    frames = h.replies()
    kinds = [f[0] for f in frames]
    assert wire.FAULT in kinds
    final = json.loads(frames[-1][2])
    assert (final["state"], final["pulses_delivered"]) == ("stopped", 3)


def test_heartbeat_zero_disables_the_bound():
    h = Harness(heartbeat_ms=500)
    h.hello()
    h.load(program(n=1000))
    h.send(wire.ARM, wire.u32(0))
    h.send(wire.START_RUN)
    h.clock.ms = 100_000
    h.svc.tick()
    assert h.engine.state == "running"


def test_stop_mid_run_returns_status_and_bye_closes_session():
    h = Harness()
    h.hello()
    h.load(program(n=1000))
    h.send(wire.ARM)
    h.send(wire.START_RUN)
    h.engine.now = 2500
    replies = h.send(wire.STOP, b"operator")
    st = json.loads(replies[-1][2])
    assert replies[-1][0] == wire.STATUS_R
    assert (st["state"], st["reason"], st["pulses_delivered"]) == ("stopped", "operator", 3)
    assert h.send(wire.BYE) == [(wire.ACK, h.seq, bytes([wire.BYE]))]
    assert not h.svc.session


@pytest.mark.parametrize(
    "noise", [b"\x03", b"\r\x03", b"\r\x03\x03", b"\r\x01\x04\x03", b"\x03" * 64]
)
@pytest.mark.parametrize("in_session", [False, True])
def test_ctrl_c_and_repl_bytes_are_data_in_every_phase(noise, in_session):
    # Line noise (or mpremote's interrupt) must never stop the firmware: no KeyboardInterrupt,
    # no maintenance, the engine untouched; the bytes are reported as junk.
    h = Harness()
    if in_session:
        h.hello()
    h.svc.receive(noise)
    h.svc.tick()
    assert not h.svc.maintenance and h.svc.session == in_session
    assert h.engine.calls == []
    (r,) = h.replies()
    assert error_of(r) == (wire.E_JUNK, 0, "%d bytes outside a frame ignored" % len(noise))


def test_cr_ctrl_c_while_running_is_data():
    h = Harness()
    h.hello()
    h.load(program(n=1000))
    h.send(wire.ARM)
    h.send(wire.START_RUN)
    h.svc.receive(b"\r\x03")
    assert h.engine.state == "running" and h.svc.session and not h.svc.maintenance


def test_maintenance_request_at_rest_makes_safe_and_ends_the_loop():
    h = Harness()
    h.svc.receive(wire.maintenance_frame())  # also without hello: a session a dead host left
    assert h.replies() == [(wire.ACK, wire.MAINTENANCE_SEQ, bytes([wire.MAINTENANCE]))]
    assert h.svc.maintenance and h.engine.calls == ["stop"]


def test_maintenance_after_a_loaded_program_closes_the_session():
    h = Harness()
    h.hello()
    h.load(program())
    h.svc.receive(wire.maintenance_frame() + wire.frame(wire.HELLO, 9, b"\x02\x00"))
    # the ack, and nothing for the hello behind it: the REPL takes what follows
    assert h.replies() == [(wire.ACK, wire.MAINTENANCE_SEQ, bytes([wire.MAINTENANCE]))]
    assert h.svc.maintenance and not h.svc.session
    assert h.engine.calls == ["load", "stop"]


@pytest.mark.parametrize("phase", ["armed", "running"])
def test_maintenance_is_refused_while_armed_or_running(phase):
    h = Harness()
    h.hello()
    h.load(program(n=1000))
    h.send(wire.ARM)
    if phase == "running":
        h.send(wire.START_RUN)
    h.replies()
    h.svc.receive(wire.maintenance_frame())
    (r,) = [f for f in h.replies() if f[0] == wire.ERROR]
    assert r[1] == wire.MAINTENANCE_SEQ
    assert error_of(r) == (
        wire.E_ORDER,
        wire.MAINTENANCE,
        "maintenance not allowed while %s (allowed while idle or loading or loaded)" % phase,
    )
    assert not h.svc.maintenance and h.engine.state == phase


@pytest.mark.parametrize(
    "payload",
    [b"", b"tmspio maintenance", wire.MAINTENANCE_KEY + b"!", wire.MAINTENANCE_KEY[:-1] + b"X"],
)
def test_maintenance_needs_the_exact_key(payload):
    h = Harness()
    h.svc.receive(wire.frame(wire.MAINTENANCE, 1, payload))
    (r,) = h.replies()
    assert error_of(r) == (
        wire.E_PAYLOAD,
        wire.MAINTENANCE,
        "maintenance payload: not the maintenance key",
    )
    assert not h.svc.maintenance and h.engine.calls == []


def test_the_maintenance_frame_holds_no_byte_a_repl_acts_on():
    # sent to a board already at the REPL (deploy does not know), it must do nothing there
    frame = wire.maintenance_frame()
    assert not set(frame) & {1, 2, 3, 4, 5, 10, 13}


def test_loaded_echoes_the_sha256_of_the_stored_program():
    h = Harness()
    h.hello()
    for n in (2, 3, 4):  # programs differing in one field: the echo differs
        data = program(n=n)
        (r,) = h.load(data)
        assert r[0] == wire.LOADED
        assert wire.parse_loaded(r[2]) == (len(data), hashlib.sha256(data).digest())


def test_long_board_checks_send_progress_frames_with_the_request_seq():
    h = Harness()
    h.hello()
    data = program()

    def slow_load(data, progress=None, owned=False):  # the check takes 1 s of board time
        FakeEngine.load(h.engine, data)
        for k in range(1, 11):
            h.clock.ms += 100
            progress(k * 1024, 10240)

    h.engine.load = slow_load
    h.send(wire.LOAD_BEGIN, wire.load_begin(len(data), wire.crc32(data)))
    h.send(wire.LOAD_DATA, wire.load_data(0, data))
    frames = h.send(wire.LOAD_END)
    # at most one PROGRESS per PROGRESS_MS (250 ms) of board time, then the reply
    assert [(f[0], f[1]) for f in frames] == [(wire.PROGRESS, h.seq)] * 3 + [(wire.LOADED, h.seq)]
    assert [wire.parse_progress(f[2]) for f in frames[:3]] == [
        (3072, 10240),
        (6144, 10240),
        (9216, 10240),
    ]


def test_edge_numbers_restart_at_each_hello_and_arm():
    h = Harness()
    firsts = []
    for session in range(2):
        h.hello()
        h.load(program(n=3))
        h.send(wire.ARM)
        h.engine.now = session * 10**9
        h.send(wire.START_RUN)
        h.engine.now += 10**6
        h.svc.tick()
        firsts.append([wire.parse_events(f[2])[0] for f in h.replies() if f[0] == wire.EVENTS])
        h.send(wire.BYE)
        h.engine.sent = 0
    assert firsts == [[0], [0]]  # 6 edges in the first session; the second starts at 0 again


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes_never_arm_or_start(data):
    h = Harness()
    h.hello()
    h.svc.receive(data)  # never raises: no byte sequence reaches the REPL
    h.clock.ms += 10_000
    h.svc.tick()
    assert "arm" not in h.engine.calls and "start" not in h.engine.calls
    assert h.engine.state == "idle"


_MTYPES = st.sampled_from(sorted(wire.NAMES))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_MTYPES, st.binary(max_size=40)), max_size=12))
def test_well_framed_random_messages_never_start(msgs):
    # Valid frames in any order with random payloads: without a program that passes its CRC
    # and the engine's decode, nothing may be armed or started.
    h = Harness()
    h.hello()
    for mtype, payload in msgs:
        h.svc.receive(wire.frame(mtype, 1, payload))
        h.svc.tick()
    assert "arm" not in h.engine.calls and "start" not in h.engine.calls


def test_an_engine_error_in_poll_stops_the_run_and_is_reported_once():
    h = Harness()
    h.hello()
    h.load(program(n=1000))
    h.send(wire.ARM)
    h.send(wire.START_RUN)

    def broken():
        raise OSError(5, "EIO")

    h.engine.poll = broken
    h.svc.tick()
    h.svc.tick()
    faults = [json.loads(f[2]) for f in h.replies() if f[0] == wire.FAULT]
    assert faults == [{"code": "exception", "text": "firmware exception in poll: OSError: 5 EIO"}]
    assert h.engine.state == "stopped"
    assert h.engine.reason == "firmware exception in poll: OSError: 5 EIO"
    assert h.svc.phase == "loaded"


def test_heartbeat_beyond_the_tick_range_is_refused():
    h = Harness()
    h.hello()
    h.load(program())
    code, _, text = error_of(h.send(wire.ARM, wire.u32(1 << 29))[0])
    assert (code, text) == (
        wire.E_PAYLOAD,
        "arm heartbeat_ms 536870912: allowed 0 (off) or 1..536870911",
    )
    assert h.svc.phase == "loaded" and "arm" not in h.engine.calls
