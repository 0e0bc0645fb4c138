"""The self-test's pure part: test program, planned edges, measurement, certificate, files."""

import datetime
import json

import pytest
from tmspio import __version__, firmware, selftest
from tmspio.boards import load_board
from tmspio.errors import InputError

progformat = firmware.progformat()

UTC = datetime.UTC
T0 = datetime.datetime(2026, 11, 26, 4, 30, 0, tzinfo=UTC)
SYSCLK = 125_000_000


def test_program_uses_the_board_limits_in_cycles():
    board = load_board("pico_w")  # 125 MHz: 125 cycles per us; 10 us min width, 1 ms interval
    prog = selftest.selftest_program(board, 2)
    (ch,) = prog.channels
    assert (ch.index, ch.idle_level, ch.delay) == (0, 0, 0)
    assert ch.segments == [
        (10, 1250, 125_000, 625_000, 0),
        (10, 12_500, 375_002, 375_002, 0),
    ]
    assert progformat.decode(progformat.encode(prog)) == prog


def test_program_channel_follows_the_trigger_index():
    board = load_board("xiao_rp2040")  # trigger [0, 1, 2, 3]
    assert selftest.selftest_program(board, 2).channels[0].index == 2
    with pytest.raises(InputError) as e:
        selftest.selftest_program(board, 27)
    assert str(e.value) == "loopback output GPIO27 is not a trigger pin of board 'xiao_rp2040'"


def test_plan_edges_walks_segments_and_gaps():
    ch = progformat.Channel(0, 0, 100, [(2, 10, 50, 200, 0), (1, 5, 0, 30, 0)])
    # onsets 100, 150; last onset + gap 200 -> 350
    assert selftest.plan_edges(ch) == [(100, 1), (110, 0), (150, 1), (160, 0), (350, 1), (355, 0)]
    inverted = progformat.Channel(1, 1, 0, [(1, 4, 0, 9, 0)])
    assert selftest.plan_edges(inverted) == [(0, 0), (4, 1)]


PLAN = [(0, 1), (1250, 0), (125_000, 1), (126_250, 0)]


def shifted(plan, by):
    return [(c + by, lvl) for c, lvl in plan]


def test_perfect_loopback_has_zero_jitter_and_constant_latency():
    start = 1_000_000
    r = selftest.measure(PLAN, shifted(PLAN, start + 3), SYSCLK, start_cycle=start)
    assert r == {
        "edges_planned": 4,
        "edges_measured": 4,
        "edges": [
            [0, 1_000_003, 1],
            [1250, 1_001_253, 0],
            [125_000, 1_125_003, 1],
            [126_250, 1_126_253, 0],
        ],
        "jitter_cycles": 0,
        "jitter_ns": 0.0,
        "latency_reference": "start_event",
        "latency_cycles": {"min": 3, "max": 3},
        "latency_ns": {"min": 24.0, "max": 24.0},
        "reasons": [],
    }


def test_jitter_up_to_one_capture_slot_passes_by_default_more_fails():
    assert selftest.RESOLUTION_CYCLES == selftest.DEFAULT_TOLERANCE_CYCLES == 2
    late = shifted(PLAN, 10)
    late[2] = (late[2][0] + 2, 1)
    r = selftest.measure(PLAN, late, SYSCLK)
    assert (r["jitter_cycles"], r["jitter_ns"], r["reasons"]) == (2, 16.0, [])
    assert (r["latency_reference"], r["latency_cycles"]) == ("not_measured", None)
    late[2] = (late[2][0] + 1, 1)
    r = selftest.measure(PLAN, late, SYSCLK)
    assert r["reasons"] == ["jitter 3 cycles (24 ns) exceeds the tolerance of 2 cycles"]
    r = selftest.measure(PLAN, late, SYSCLK, tolerance_cycles=0)
    assert r["reasons"] == ["jitter 3 cycles (24 ns) exceeds the tolerance of 0 cycles"]


def test_every_test_edge_is_on_the_capture_grid():
    for name in ("pico_w", "feather_rp2040", "xiao_rp2040", "rp2040_zero"):
        board = load_board(name)
        (ch,) = selftest.selftest_program(board, board["loopback"][0][0]).channels
        assert all(c % selftest.RESOLUTION_CYCLES == 0 for c, _ in selftest.plan_edges(ch))


def test_missing_extra_wrong_level_and_early_edges_fail():
    r = selftest.measure(PLAN, shifted(PLAN[:3], 5), SYSCLK, start_cycle=0)
    assert r["reasons"] == ["1 of 4 planned edges missing"]
    r = selftest.measure(PLAN, shifted(PLAN, 5) + [(500_000, 1)], SYSCLK, start_cycle=0)
    assert r["reasons"] == ["1 unplanned edges captured"]
    flipped = shifted(PLAN, 5)
    flipped[1] = (flipped[1][0], 1)
    r = selftest.measure(PLAN, flipped, SYSCLK, start_cycle=0)
    assert r["reasons"] == [
        "1 edges have the wrong level (first: edge 1 at cycle 1255 is 1, planned 0)"
    ]
    r = selftest.measure(PLAN, shifted(PLAN, 5), SYSCLK, start_cycle=7)
    assert r["latency_cycles"] == {"min": -2, "max": -2}
    assert r["reasons"] == [
        "an edge arrived 2 cycles before it was commanded (wrong wiring or crosstalk)"
    ]


def test_latency_against_the_boards_own_output_capture():
    outputs = shifted(PLAN, 40)
    captured = shifted(PLAN, 44)
    captured[3] = (captured[3][0] + 1, 0)
    r = selftest.measure(PLAN, captured, SYSCLK, outputs=outputs)
    assert r["latency_reference"] == "output_edge"
    assert r["latency_cycles"] == {"min": 4, "max": 5}
    assert r["latency_ns"] == {"min": 32.0, "max": 40.0}


def test_ns_conversion_at_other_clocks():
    assert selftest.ns(3, 150_000_000) == 20.0
    assert selftest.ns(1, 133_000_000) == 7.5


def make_cert(**measure_kw):
    board = load_board("pico_w")
    r = selftest.measure(PLAN, shifted(PLAN, 3), SYSCLK, start_cycle=0, **measure_kw)
    return selftest.certificate(board, "0.1.0", [(2, 11, r)], "emulator", T0)


def test_certificate_fields_and_summary():
    cert = make_cert()
    assert cert["format"] == "tmspio-selftest/1"
    assert cert["created_utc"] == "2026-11-26T04:30:00Z"
    assert (cert["board"], cert["chip"], cert["firmware_version"]) == ("pico_w", "rp2040", "0.1.0")
    assert cert["host_version"] == __version__
    assert (cert["resolution_cycles"], cert["tolerance_cycles"]) == (2, 2)
    assert (cert["edges_planned"], cert["edges_measured"]) == (4, 4)
    assert (cert["jitter_cycles"], cert["jitter_ns"]) == (0, 0.0)
    assert cert["latency_cycles"] == {"min": 3, "max": 3}
    assert cert["verdict"] == "pass"
    (loop,) = cert["loopback"]
    assert (loop["output_role"], loop["input_role"]) == ("trigger[0]", "confirm_in")
    assert loop["output_pin"] == "GPIO2 = GP2 (pin 4)"
    assert cert["summary"] == (
        "selftest PASS: board pico_w, firmware 0.1.0, 125000000 Hz, 4/4 edges, "
        "latency 3..3 cycles (24..24 ns), jitter 0 cycles (0 ns)"
    )


def test_failed_certificate_names_the_first_reason():
    board = load_board("pico_w")
    r = selftest.measure(PLAN, shifted(PLAN[:2], 3), SYSCLK)
    cert = selftest.certificate(board, "0.1.0", [(2, 11, r)], "/dev/ttyACM0", T0)
    assert cert["verdict"] == "fail"
    assert cert["reasons"] == ["GPIO2->GPIO11: 2 of 4 planned edges missing"]
    assert cert["summary"] == (
        "selftest FAIL: board pico_w, firmware 0.1.0, 125000000 Hz, 2/4 edges, "
        "latency not measured, jitter 0 cycles (0 ns); GPIO2->GPIO11: 2 of 4 planned edges missing"
    )
    empty = selftest.certificate(board, "0.1.0", [], "emulator", T0)
    assert empty["verdict"] == "fail"
    assert empty["reasons"] == ["no loopback pair was measured"]


def test_certificate_file_round_trip_and_errors(tmp_path):
    cert = make_cert()
    path = tmp_path / "sub" / "cert.json"
    selftest.write_certificate(cert, str(path))
    assert selftest.load_certificate(str(path)) == cert
    assert path.read_text().endswith("}\n")
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"format": "something"}))
    with pytest.raises(InputError) as e:
        selftest.load_certificate(str(other))
    assert str(e.value) == (
        "%s: format: 'something' is not a self-test certificate (expected 'tmspio-selftest/1')"
        % other
    )
    partial = dict(cert)
    del partial["verdict"]
    other.write_text(json.dumps(partial))
    with pytest.raises(InputError) as e:
        selftest.load_certificate(str(other))
    assert str(e.value) == "%s: missing field 'verdict'" % other


def test_certificate_problems_before_a_session():
    cert = make_cert()
    later = T0 + datetime.timedelta(seconds=600)
    assert selftest.certificate_problems(cert, "pico_w", "0.1.0", later, 3600) == []
    assert selftest.certificate_problems(cert, "pico", "0.3.0", later, 300) == [
        "it certifies board 'pico_w', not 'pico'",
        "it was made with firmware '0.1.0', the board runs '0.3.0'",
        "it is 600 s old (limit 300 s)",
    ]
    earlier = T0 - datetime.timedelta(seconds=5)
    assert selftest.certificate_problems(cert, "pico_w", "0.1.0", earlier, 3600) == [
        "it is dated in the future (2026-11-26T04:30:00Z)"
    ]


class FakeLink:
    """A stand-in for tmspio.link.Link: plays the loaded program back as captured edges."""

    def __init__(self, board, latency=3, drop=(), start=5_000, capture_outputs=False):
        self.info = {"board": board["name"], "firmware": "0.1.0", "sysclk_hz": board["sysclk_hz"]}
        self.port = "fake://"
        self.board = board
        self.latency, self.drop, self.start = latency, drop, start
        self.capture_outputs = capture_outputs
        self.states, self.edges, self.loaded = [], [], []
        self.calls = []

    def require_at_rest(self):
        self.calls.append("require_at_rest")

    def load(self, prog):
        self.calls.append("load")
        self.loaded.append(progformat.decode(progformat.encode(prog)))

    def run(self, heartbeat_ms=None):
        self.heartbeat_ms = heartbeat_ms
        (ch,) = self.loaded[-1].channels
        self.edges = []
        inp = self.board["loopback"][len(self.loaded) - 1][1]
        src = 5 if inp == self.board["pins"]["confirm_in"] else 6
        for i, (t, level) in enumerate(selftest.plan_edges(ch)):
            if self.capture_outputs:
                self.edges.append((ch.index, level, self.start + t + 1))
            if i not in self.drop:
                self.edges.append((src, level, self.start + t + self.latency))
        n = ch.pulses()
        self.states += [{"state": "loaded"}]  # reported late, after the run was requested
        self.states += [{"state": "armed"}, {"state": "running"}]
        self.states.append(
            {
                "state": "done",
                "start_cycle": self.start,
                "pulses_planned": n,
                "pulses_delivered": n,
            }
        )


def test_run_selftest_through_a_link():
    board = load_board("pico_w")
    link = FakeLink(board)
    cert = selftest.run_selftest(link, now=T0)
    assert cert["verdict"] == "pass"
    assert (cert["edges_planned"], cert["edges_measured"]) == (40, 40)
    assert cert["latency_cycles"] == {"min": 3, "max": 3}
    assert cert["jitter_cycles"] == 0
    assert cert["port"] == "fake://"
    assert cert["loopback"][0]["run_state"] == "done"
    assert link.loaded[0] == selftest.selftest_program(board, 2)
    assert link.calls[:2] == ["require_at_rest", "load"]  # a busy board is refused first


def test_run_selftest_reports_dropped_edges_and_mismatches():
    board = load_board("xiao_rp2040")
    cert = selftest.run_selftest(FakeLink(board, drop=(7,)), now=T0)
    assert cert["verdict"] == "fail"
    assert cert["reasons"][0] == "GPIO0->GPIO27: 1 of 40 planned edges missing"
    wrong = FakeLink(board)
    wrong.info["board"] = "pico"
    with pytest.raises(selftest.SelftestError) as e:
        selftest.run_selftest(wrong, board, now=T0)
    assert str(e.value) == (
        "the board reports board file 'pico' but the self-test was given 'xiao_rp2040'"
    )
    slow = FakeLink(board)
    slow.info["sysclk_hz"] = 48_000_000
    with pytest.raises(selftest.SelftestError) as e:
        selftest.run_selftest(slow, now=T0)
    assert str(e.value) == (
        "the board runs at 48000000 Hz but board file 'xiao_rp2040' says 125000000 Hz"
    )


class _NeverDone:
    """A link whose run never comes to rest (a board far slower than real time)."""

    scale = 4.0
    info = {"board": "pico", "sysclk_hz": 125_000_000, "firmware": "0.3.0"}

    def __init__(self):
        self.states, self.edges, self.stopped = [], [], []

    def require_at_rest(self):
        pass

    def load(self, prog):
        pass

    def run(self, heartbeat_ms=None):
        self.states.append({"state": "running"})

    def stop(self, reason):
        self.stopped.append(reason)


def test_the_run_wait_follows_the_links_timeout_scale(monkeypatch):
    monkeypatch.setattr(selftest, "RUN_TIMEOUT_S", 0.05)
    link = _NeverDone()
    with pytest.raises(selftest.SelftestError) as e:
        selftest.run_selftest(link, load_board("pico"))
    assert str(e.value) == ("the self-test program did not finish within 0.2 s (state 'running')")
    assert link.stopped == ["self-test timed out"]
