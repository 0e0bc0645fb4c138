"""The command loop's SYNC and FIRE (firmware/service.py) against the fake engine: the board's own
limits refuse a fire whatever the host sends, each with its exact text."""

import json

import progformat
import service
import wire
from test_service import Harness, error_of

LIMITS = {
    "max_pulses": 100000,
    "min_interval_us": 1000,
    "max_rate_hz": 2,
    "max_rate_window_s": 1,
}


def one_pulse(index=0):
    return progformat.encode(
        progformat.Program(125_000_000, [progformat.Channel(index, 0, 10, [(1, 100, 0, 200, 0)])])
    )


def harness(program=None):
    h = Harness(heartbeat_ms=500)
    h.svc.cfg["limits"] = dict(LIMITS)
    h.hello()
    h.load(program or one_pulse())
    return h


def fire(h, hb=500, beat=True):
    """FIRE as the host sends it: its heartbeat frames keep coming (beat=False: a stale fire)."""
    if beat:
        h.send(wire.HEARTBEAT)
    return h.send(wire.FIRE, wire.u32(hb))


def test_sync_answers_the_board_clock_in_microseconds():
    h = harness()
    h.clock.ms = 1234
    (r,) = h.send(wire.SYNC)
    assert (r[0], r[1], wire.parse_u64(r[2], "sync")) == (wire.SYNC_R, h.seq, 1_234_000)


def test_fire_arms_and_starts_the_one_pulse_program_and_acks_the_start_times():
    h = harness()
    h.clock.ms = 2000
    replies = fire(h)
    assert replies[0] == (
        wire.ACK,
        h.seq,
        bytes([wire.FIRE]) + wire.started(2_000_000, 2_000_000, 2_000_000),
    )
    assert h.engine.calls[-2:] == ["arm", "start"]
    assert service._FIRES == [2_000_000]


def test_fire_below_the_minimum_interval_is_refused_by_the_board():
    h = harness()
    h.clock.ms = 10
    fire(h)
    h.engine.now = 10_000
    h.svc.tick()  # the pulse ends: the program is done
    assert h.engine.state == "done"
    h.replies()
    service._CLK[0] = lambda: 10_000 + 999  # 999 us after the first fire, same ms
    (r,) = fire(h)
    assert error_of(r) == (
        wire.E_LIMIT,
        wire.FIRE,
        "fire: 999 us after the previous fire, below limits.min_interval_us = 1000 us",
    )
    assert h.engine.calls.count("start") == 1


def test_fire_above_the_rate_limit_is_refused_by_the_board():
    h = harness()
    for ms in (100, 400):
        h.clock.ms = ms
        assert fire(h)[0][0] == wire.ACK
        h.engine.now += 10_000
        h.svc.tick()
        h.replies()
    h.clock.ms = 1099  # a third pulse 999 ms after the first: 3 within 1 s
    (r,) = fire(h)
    assert error_of(r) == (
        wire.E_LIMIT,
        wire.FIRE,
        "fire: 3 pulses within 1 s would exceed limits.max_rate_hz = 2 over "
        "limits.max_rate_window_s = 1",
    )
    h.clock.ms = 1100  # exactly 1 s after the first: allowed
    assert fire(h)[0][0] == wire.ACK
    assert h.engine.calls.count("start") == 3


def test_a_late_fire_after_host_silence_is_refused():
    h = harness()
    h.clock.ms = 100
    h.send(wire.HEARTBEAT)
    h.clock.ms = 601  # 501 ms of silence before the fire, bound 500 ms
    (r,) = fire(h, beat=False)
    assert error_of(r) == (
        wire.E_LIMIT,
        wire.FIRE,
        "fire: the host was silent for 501 ms before it, above heartbeat_ms = 500; "
        "a late command is not obeyed",
    )
    assert "start" not in h.engine.calls


def test_fire_needs_a_one_pulse_program_and_a_heartbeat():
    three = progformat.encode(
        progformat.Program(125_000_000, [progformat.Channel(0, 0, 10, [(3, 100, 1000, 5000, 0)])])
    )
    h = harness(three)
    (r,) = fire(h)
    assert error_of(r) == (
        wire.E_LIMIT,
        wire.FIRE,
        "fire: the loaded program has 3 pulses; fire starts only a one-pulse program",
    )
    h = harness()
    (r,) = fire(h, hb=0)
    assert error_of(r) == (
        wire.E_LIMIT,
        wire.FIRE,
        "fire heartbeat_ms 0: a fire needs the heartbeat on a board in real time; "
        "allowed 1..%d" % wire.MAX_HEARTBEAT_MS,
    )
    assert "start" not in h.engine.calls


def test_fire_before_load_is_out_of_order():
    h = Harness()
    h.hello()
    (r,) = h.send(wire.FIRE, wire.u32(500))
    assert error_of(r) == (
        wire.E_ORDER,
        wire.FIRE,
        "fire not allowed while idle (allowed while loaded)",
    )


def test_status_says_when_the_engine_waits_for_its_trigger():
    h = harness()
    h.engine.waiting_for_trigger = lambda: h.engine.state == "running" and h.engine.now < 5
    h.send(wire.ARM)
    frames = h.send(wire.START_RUN)
    states = [json.loads(f[2]) for f in frames if f[0] == wire.STATE]
    assert [(s["state"], s["waiting_trigger"]) for s in states] == [("running", True)]
    h.engine.now = 6
    h.svc.tick()
    states = [json.loads(f[2]) for f in h.replies() if f[0] == wire.STATE]
    assert [(s["state"], s["waiting_trigger"]) for s in states] == [("running", False)]
