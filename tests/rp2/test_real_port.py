"""The unchanged firmware, deployed as `tmspio deploy` writes it (boards/pico.json, 125 MHz), on
the real MicroPython v1.28 rp2 port (TMSPIO_RP2_IMAGE booted in rp2040py), driven by the
unchanged host CLI through a pty: self-test, a paired pulse, trigger mode, an e-stop mid-train,
a corrupted load and a program the board refuses (the long programs: test_real_port_long.py).

Every generator edge is compared with the plan (firmware/plan.py) in its state machine's own
cycles (rp2040py's PIO is exact in those, not in emulated nanoseconds), and every edge the
firmware captured and reported (events.jsonl) with the plan in the capture's cycles. The tests
share one booted board and run in file order (the e-stop test releases its e-stop)."""

import hashlib
import os

import pytest
import wire
from rp2checks import (
    ESTOP,
    HZ,
    RP2040PY_TRIGGER_TO_ONSET,
    SCALE,
    TRIG,
    TRIG_IN,
    T,
    check_captures,
    check_generators,
    pf,
    program,
    run,
)
from tmspio import cli, firmware, link

pytestmark = pytest.mark.timeout(900)


def test_deploy_files_are_what_tmspio_deploy_writes(board):
    # main.py as source, every other firmware module as armv6m .mpy, the board file
    mods = [n[:-3] for n in os.listdir(firmware.FIRMWARE_DIR) if n.endswith(".py")]
    want = ["board.json", "main.py"] + [m + ".mpy" for m in mods if m != "main"]
    assert board.files == sorted(want)
    assert "engine.mpy" in board.files and "wire.mpy" in board.files


def test_selftest_passes(board, capsys):
    board.command(mark="selftest")
    rc = cli.main(["selftest", "--port", board.path, "--yes", "--timeout-scale", SCALE])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "selftest PASS: board pico, firmware 0.3.0, 125000000 Hz, 40/40 edges" in out
    assert "jitter 0 cycles (0 ns)" in out


def test_a_paired_pulse_on_two_channels(board, tmp_path, capsys):
    summary, events = run(board, "paired", tmp_path, capsys)
    assert (summary["pulses_delivered"], summary["faults"]) == (2, [])
    assert summary["max_abs_deviation_ns"] == 0
    prog = program("paired")
    seen = check_generators(board, "paired", prog)
    # the second channel's onset is 3 ms after the first's, in both state machines' counts
    (a, _), (b, _) = seen[TRIG[0]], seen[TRIG[1]]
    assert b["sm"][1] - a["sm"][1] == 3 * HZ // 1000
    check_captures(events, prog)


def test_trigger_mode_with_an_injected_edge(board, tmp_path, capsys):
    board.command(trigger={"pin": TRIG_IN, "level": 1, "hold_ns": 100_000})
    summary, events = run(board, "triggered", tmp_path, capsys)
    assert (summary["pulses_delivered"], summary["faults"]) == (3, [])
    prog = program("triggered")
    drives = [d for d in board.events("drive", after="triggered") if d["pin"] == TRIG_IN]
    assert [d["level"] for d in drives] == [1, 0]
    # plan cycle 0 = the trigger's pad edge; the generators' counts there are the injection's
    # minus what the real chip adds and rp2040py does not (RP2040PY_TRIGGER_TO_ONSET)
    lag = T.TRIGGER_LATENCY - RP2040PY_TRIGGER_TO_ONSET
    zero = {"sm": [c - lag for c in drives[0]["sm"]]}
    check_generators(board, "triggered", prog, zero=zero, triggers=[0])
    trig = [(e["cycle"], e["level"]) for e in events if e.get("source") == "trigger_in"]
    assert [lvl for _, lvl in trig] == [1, 0]
    pulses = [e for e in events if e.get("source") != "trigger_in"]
    offset = check_captures(pulses, prog, triggers=[0])
    # the captured trigger edge, against plan zero: the same rp2040py lag, to one capture slot
    assert 0 <= trig[0][0] - offset - lag < T.CAP_SLOT
    assert summary["max_abs_deviation_ns"] == 0


def test_an_estop_mid_train_cuts_the_pulse_and_ends_the_run(board, tmp_path, capsys):
    board.command(estop={"pin": TRIG[0], "level": 1, "count": 2, "delay_ns": 20_000})
    summary, events = run(board, "estop-train", tmp_path, capsys, rc=1)
    assert summary["aborted"] is True
    assert summary["reason"] == "estop"
    recs = board.events(after="estop-train")
    press = [r for r in recs if r["e"] == "drive" and r["pin"] == ESTOP]
    assert [r["level"] for r in press] == [1]
    out = [r for r in recs if r["e"] == "edge" and r["pin"] == TRIG[0]]
    assert [r["level"] for r in out] == [1, 0, 1, 0]  # 2 of 3 pulses, the second cut short
    rise, fall = out[2], out[3]
    width = program("estop-train").channels[0].segments[0][1]
    assert rise["cycle"] < press[0]["cycle"] < fall["cycle"]
    assert fall["sm"][0] - rise["sm"][0] < width
    response = fall["cycle"] - press[0]["cycle"]
    print(f"e-stop response: {response} emulated sysclk cycles from the pad to the output idle")
    assert 0 < response < 125_000  # well inside 1 ms
    board.command(drive={str(ESTOP): 0})  # released: the next test arms again


def _forge(data):
    body = bytearray(data[:-4])
    body[pf.HEADER_SIZE + pf.CHANNEL_SIZE] ^= 0x01  # segment 0's count: one bit
    return bytes(body) + wire.struct.pack("<I", pf.crc32(bytes(body)) & 0xFFFFFFFF)


class _Interposer:
    """Forwards frames; LOAD_DATA carries `forged` (re-framed with a valid frame CRC), and
    LOAD_BEGIN announces it too if `announce`."""

    def __init__(self, ser, forged, announce):
        self.ser, self.forged, self.announce = ser, forged, announce
        self._dec = wire.Decoder()

    def __getattr__(self, name):
        return getattr(self.ser, name)

    def write(self, data):
        for item in self._dec.feed(data):
            if item[0] == "frame":
                mtype, seq, payload = item[1:4]
                if mtype == wire.LOAD_BEGIN and self.announce:
                    payload = wire.load_begin(len(self.forged), wire.crc32(self.forged))
                elif mtype == wire.LOAD_DATA:
                    payload = wire.load_data(0, self.forged)
                self.ser.write(wire.frame(mtype, seq, payload))
        return len(data)


def _prog_bytes(width=HZ // 1000):
    return pf.encode(pf.Program(HZ, [pf.Channel(0, 0, 0, [(3, width, HZ // 10, HZ // 5, 0)])]))


def test_a_load_with_a_corrupted_byte_is_refused(board):
    data = _prog_bytes()
    flipped = bytearray(data)
    flipped[pf.HEADER_SIZE + pf.CHANNEL_SIZE] ^= 0x01
    flipped = bytes(flipped)
    # one byte changed after the host computed the CRC32 it announced: the board refuses
    lk = link.Link(_Interposer(link.open_port(board.path), flipped, False), board.path, SCALE)
    try:
        lk.hello()
        with pytest.raises(link.BoardRefused) as e:
            lk.load(data)
        assert str(e.value) == (
            "board refused load-end (payload): load-end crc32 0x%08x: announced 0x%08x"
            % (wire.crc32(flipped) & 0xFFFFFFFF, wire.crc32(data) & 0xFFFFFFFF)
        )
    finally:
        lk.close()
    bad = _forge(data)
    # every checksum made to match (a corrupting adapter): the SHA-256 echo catches it
    lk = link.Link(_Interposer(link.open_port(board.path), bad, True), board.path, SCALE)
    try:
        lk.hello()
        with pytest.raises(link.LinkError) as e:
            lk.load(data)
        assert str(e.value).startswith(
            f"the board stored a different program: {len(bad)} bytes with sha256 "
            f"{hashlib.sha256(bad).hexdigest()}"
        )
    finally:
        lk.close()


def test_a_program_the_board_must_refuse(board):
    # 20 ms pulses: the host's own checks are bypassed (link API); pico.json allows 10 ms
    data = _prog_bytes(width=20 * HZ // 1000)
    with link.connect(board.path, scale=SCALE) as lk:
        with pytest.raises(link.BoardRefused) as e:
            lk.load(data)
        assert str(e.value) == (
            "board refused load-end (engine): limit: channels[0].segments[0].width = 2500000 "
            "cycles (20000.000 us) is above limits.max_width_us = 10000 us"
        )
        assert lk.load(_prog_bytes()) == hashlib.sha256(_prog_bytes()).hexdigest()
