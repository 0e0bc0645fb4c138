"""make test-rp2, the long programs: 10 pulses at 10 Hz and three iTBS bursts through the
unchanged host CLI on the real MicroPython v1.28 rp2 port (TMSPIO_RP2_IMAGE in rp2040py), with
boards/pico.json's clock set to 24 MHz (conftest.board24: rp2040py steps every PIO cycle, and a
second of pulses at 125 MHz costs minutes of wall time). Every generator edge in its state
machine's own cycles and every edge the firmware reported are compared with the plan."""

import pytest
from rp2checks import SLOW_HZ, TRIG, check_captures, check_generators, program, run

pytestmark = pytest.mark.timeout(900)


def test_ten_pulses_at_10_hz(board24, tmp_path, capsys):
    summary, events = run(board24, "ten-10hz", tmp_path, capsys)
    assert (summary["pulses_delivered"], summary["faults"]) == (10, [])
    assert (summary["sysclk_hz"], summary["max_abs_deviation_ns"]) == (SLOW_HZ, 0)
    prog = program("ten-10hz", SLOW_HZ)
    seen = check_generators(board24, "ten-10hz", prog)
    assert len(seen[TRIG[0]]) == 20
    assert seen[TRIG[0]][2]["sm"][0] - seen[TRIG[0]][0]["sm"][0] == SLOW_HZ // 10  # 100 ms
    check_captures(events, prog)


def test_three_itbs_bursts(board24, tmp_path, capsys):
    summary, events = run(board24, "itbs-3", tmp_path, capsys)
    assert (summary["pulses_delivered"], summary["faults"]) == (9, [])
    assert (summary["sysclk_hz"], summary["max_abs_deviation_ns"]) == (SLOW_HZ, 0)
    prog = program("itbs-3", SLOW_HZ)
    seen = check_generators(board24, "itbs-3", prog)
    assert len(seen[TRIG[0]]) == 18
    check_captures(events, prog)
