"""Edges are numbered per session (issue 9 item 3): a board left connected, as a real Pico is,
runs session after session (and a self-test) with no false "edges lost on the link"; a real loss
is reported exactly, in summary.json and on the console. The real firmware on the emulated board.
"""

import json

import pytest
from tmspio import cli, link
from tmspio.emulator.serial_board import SerialBoard

pytestmark = pytest.mark.timeout(300)

PROTOCOL = """\
name = "ten"
title = "10 pulses at 10 Hz"
family = "rtms"
pulse_width = "1 ms"
channels = [ { name = "tms", polarity = "active-high" } ]
intensity = { percent = 50, reference = "RMT" }

[timing]
inter_pulse_interval = "100 ms"
pulses_in_burst = 10
"""


@pytest.fixture(scope="module")
def board():
    with SerialBoard(speed="max") as b:
        yield b


def _run(capsys, path, out):
    rc = cli.main(["run", str(path), "--port", board_path[0], "--out", str(out), "--quiet"])
    cap = capsys.readouterr()
    return rc, json.loads((out / "summary.json").read_text()), cap.err


board_path = [None]


def test_three_sessions_and_a_selftest_on_one_board_report_no_fault(board, tmp_path, capsys):
    board_path[0] = board.path
    path = tmp_path / "ten.toml"
    path.write_text(PROTOCOL)
    for k in range(3):
        rc, summary, err = _run(capsys, path, tmp_path / f"run{k}")
        assert (rc, summary["pulses_delivered"], summary["faults"]) == (0, 10, [])
        assert "fault" not in err
        if k == 1:  # a self-test between sessions streams edges of its own
            assert cli.main(["selftest", "--port", board.path, "--yes"]) == 0
            assert "selftest PASS" in capsys.readouterr().out


def test_a_lost_events_frame_is_reported_exactly(board, tmp_path, capsys, monkeypatch):
    board_path[0] = board.path
    path = tmp_path / "ten.toml"
    path.write_text(PROTOCOL)
    dropped = []
    dispatch = link.Link._dispatch

    def lossy(self, mtype, seq, payload):
        if mtype == link.wire.EVENTS and not dropped:
            first, recs = link.wire.parse_events(payload)
            if first > 0:  # the second EVENTS frame or later: lose it
                dropped.append((first, len(recs)))
                return None
        return dispatch(self, mtype, seq, payload)

    monkeypatch.setattr(link.Link, "_dispatch", lossy)
    rc, summary, err = _run(capsys, path, tmp_path / "lossy")
    ((first, n),) = dropped
    text = f"edges {first}..{first + n - 1} lost on the link"
    assert summary["faults"] == [{"code": "link", "text": text}]
    assert f"fault (link): {text}\n" in err
    assert rc == 0  # the board ran the program; the log says which edges it lacks
