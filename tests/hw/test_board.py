"""Handshake, self-test, an iTBS run with loopback capture and the e-stop — on the emulated board
always, on a real board when TMSPIO_HW_PORT is set (rig: tests/hw/README.md)."""

import tomllib

import pytest
from tmspio import boards, compiler, firmware, link, selftest
from tmspio.protocols import library, parser

wire = link.wire
HELLO_FIELDS = {"wire", "firmware", "board", "chip", "sysclk_hz", "limits", "heartbeat_ms"}
ITBS_TRAINS = 2  # 60 pulses, last onset 11.84 s: both burst and inter-train intervals occur


def connect(target):
    conn = link.connect(target.port)
    board = boards.load_board(conn.info["board"])
    return conn, board


def run_to_rest(conn, program, heartbeat_ms, timeout=120):
    conn.load(program)
    since = len(conn.states)
    conn.run(heartbeat_ms)
    return selftest._wait_at_rest(conn, since, timeout)


def test_handshake_reports_the_board_file(target):
    conn, board = connect(target)
    with conn:
        info = conn.info
        assert HELLO_FIELDS <= set(info)
        assert info["wire"] == wire.WIRE_VERSION
        assert info["firmware"].startswith(link.COMPATIBLE_FIRMWARE)
        assert (info["chip"], info["sysclk_hz"]) == (board["chip"], board["sysclk_hz"])
        assert info["limits"] == board["limits"]
        if target.emulated:
            assert info["board"] == "emulated"


def test_selftest_certificate(target, tmp_path):
    conn, board = connect(target)
    with conn:
        cert = selftest.run_selftest(conn, board, heartbeat_ms=target.heartbeat_ms())
    pairs = len(board["loopback"])
    planned = 4 * selftest.PULSES_PER_SEGMENT * pairs
    assert (cert["edges_planned"], cert["edges_measured"]) == (planned, planned)
    assert cert["reasons"] == []
    assert cert["verdict"] == "pass"
    # Latency is measured from the run's time zero when the board reports it (architecture §5
    # start_cycle), else from the board's capture of its own trigger output.
    reported = cert["loopback"][0]["start_cycle"] is not None
    assert cert["latency_reference"] == ("start_event" if reported else "output_edge")
    assert cert["latency_cycles"]["min"] >= 0
    assert cert["jitter_cycles"] <= target.jitter_tolerance()
    if target.emulated:  # cycle-exact: every edge at the same distance from its plan
        assert cert["jitter_cycles"] == 0
        assert cert["jitter_ns"] == 0.0
        # An ideal wire, and "on time" means cycle - start_cycle == planned cycle.
        assert cert["latency_cycles"] == {"min": 0, "max": 0}
    path = tmp_path / "cert.json"
    selftest.write_certificate(cert, str(path))
    assert selftest.load_certificate(str(path)) == cert


def short_itbs():
    with open(library.path_of("itbs"), "rb") as f:
        data = tomllib.load(f)
    data["timing"]["trains_in_protocol"] = ITBS_TRAINS
    return parser.from_dict(data, "itbs (%d trains)" % ITBS_TRAINS)


def test_itbs_run_with_loopback_capture(target):
    conn, board = connect(target)
    out, inp = board["loopback"][0]
    channel = board["pins"]["trigger"].index(out)
    source = {"confirm_in": wire.SRC_CONFIRM, "trigger_in": wire.SRC_TRIGGER_IN}[
        boards.role_of(board, inp)
    ]
    compiled = compiler.compile_protocol(short_itbs(), board["sysclk_hz"])
    assert channel == 0, "the loopback jumper must start at trigger[0], the iTBS channel"
    with conn:
        status = run_to_rest(conn, compiled.program, target.heartbeat_ms())
        edges = list(conn.edges)
    planned = compiled.channel_cycles[0]
    assert len(planned) == 3 * 10 * ITBS_TRAINS
    assert status["state"] == "done"
    assert (status["pulses_planned"], status["pulses_delivered"]) == (len(planned), len(planned))
    # Capture cycles count from the start of the run (generators and capture start together).
    rising = [cycle for src, level, cycle in edges if src == source and level == 1]
    driven = [cycle for src, level, cycle in edges if src == channel and level == 1]
    assert len(rising) == len(driven) == len(planned)
    # Every onset seen through the jumper sits at the same distance from its planned cycle
    # (within one capture sample on hardware), and never before its own output edge.
    offsets = [r - p for r, p in zip(rising, planned)]
    assert max(offsets) - min(offsets) <= target.jitter_tolerance()
    assert min(offsets) >= 0
    assert min(r - d for r, d in zip(rising, driven)) >= 0
    if target.emulated:
        assert len(set(offsets)) == 1
        assert rising == driven  # an ideal wire: the input follows the output pad


def test_estop_aborts_the_run_and_leaves_outputs_idle(target):
    conn, board = connect(target)
    driver = target.estop_driver(board)
    if driver is None and not target.emulated:
        pytest.skip(
            "no e-stop jumper on this rig: wire a spare trigger output to the e-stop input and "
            "set TMSPIO_HW_ESTOP_DRIVER=<its GPIO> (tests/hw/README.md)"
        )
    assert driver is not None, "boards/emulated.json needs rig.estop_driver (architecture §6)"
    assert driver in board["pins"]["trigger"], "the e-stop driver must be a trigger output"
    out, inp = board["loopback"][0]
    pins = board["pins"]["trigger"]
    us = selftest.cycles_per_us(board["sysclk_hz"])
    period = 1000 * us  # 1 kHz train on the loopback channel
    press_at = 5 * period + period // 2  # the e-stop rises between pulses 5 and 6
    pf = firmware.progformat()
    train = pf.Channel(pins.index(out), 0, 0, [(20, 10 * us, period, period, 0)])
    press = pf.Channel(pins.index(driver), 0, press_at, [(1, 5 * period, 0, 20 * period, 0)])
    program = pf.Program(board["sysclk_hz"], sorted([train, press], key=lambda c: c.index))
    with conn:
        status = run_to_rest(conn, program, target.heartbeat_ms())
        edges = list(conn.edges)
        assert (status["state"], status["reason"]) == ("stopped", "estop")
        source = wire.SRC_CONFIRM if inp == board["pins"]["confirm_in"] else wire.SRC_TRIGGER_IN
        seen = [(cycle, level) for src, level, cycle in edges if src == source]
        onsets = [c for c, level in seen if level == 1]
        assert len(onsets) == 6  # pulses 0..5; the e-stop came before pulse 6
        assert onsets[-1] < press_at
        assert seen[-1][1] == 0  # the trigger line ended idle
        # The abort forced the e-stop driver idle too, so the "button" reads released again
        # and the board may be armed for the next run.
        conn.load(program)
        conn.arm(target.heartbeat_ms())
        conn.stop("test done")
