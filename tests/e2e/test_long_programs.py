"""Every wait on the link follows the work (issue 9 item 5): a board that takes long to check a
program keeps the host waiting with PROGRESS frames, a board that cannot is reached by scaling
the timeouts, and the error says which knob to turn. The 100,000-pulse program that used to die
on `no reply to load-end ... within 3.003 s` loads on the real firmware (emulated board)."""

import os
import time

import pytest
from tmspio import link
from tmspio.errors import InputError
from tmspio.emulator.serial_board import SerialBoard

from boards import FAKE_BOARD, fake_flash

pytestmark = pytest.mark.timeout(300)

HZ = 125_000_000
MS = HZ // 1000


def _program(n, period=10 * MS, width=1 * MS):
    pf = link.progformat
    return pf.Program(HZ, [pf.Channel(0, 0, 0, [(n, width, period, 2 * width, 0)])])


def _slow_board(tmp_path, check_s, silent=False):
    import json

    flash = fake_flash(str(tmp_path / "flash"))
    with open(os.path.join(flash, "board.json"), "w") as f:
        json.dump(dict(FAKE_BOARD, fake_check_s=check_s, fake_check_silent=silent), f)
    return SerialBoard(flash=flash, standins=False)


def test_a_long_check_is_kept_alive_by_progress_frames(tmp_path):
    seen = []
    with _slow_board(tmp_path, 6) as b, link.connect(b.path, hello_timeout=20) as conn:
        conn.on_progress = lambda done, total: seen.append((done, total))
        data = link.progformat.encode(_program(1000))
        sha = conn.load(data)  # 6 s of checking, twice the 3 s silence the host allows
        assert conn.status()["state"] == "loaded"
    assert len(sha) == 64
    # one PROGRESS frame per 250 ms of checking at most, counting up to the total
    assert 12 <= len(seen) <= 24
    assert [t for d, t in seen] == [1000] * len(seen)
    dones = [d for d, t in seen]
    assert dones == sorted(dones) and 0 < dones[0] and dones[-1] <= 1000


def test_a_silent_slow_board_names_the_knob_and_a_scale_reaches_it(tmp_path):
    data = link.progformat.encode(_program(1000))
    timeout = link.REPLY_TIMEOUT_S + len(data) / 20000
    with _slow_board(tmp_path, 5, silent=True) as b:
        with link.connect(b.path, hello_timeout=20) as conn:
            with pytest.raises(link.LinkError) as e:
                conn.load(data)
        assert str(e.value) == (
            f"no reply to load-end from {b.path} within {timeout:g} s; for a slower board or "
            "link raise every timeout with --timeout-scale N or TMSPIO_TIMEOUT_SCALE=N (now 1)")
        with link.connect(b.path, hello_timeout=20, scale=3) as conn:
            assert conn.load(data) is not None
            assert conn.status()["state"] == "loaded"


def test_the_scale_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("TMSPIO_TIMEOUT_SCALE", "50")
    assert link.timeout_scale() == 50.0
    assert link.timeout_scale("2.5") == 2.5
    monkeypatch.setenv("TMSPIO_TIMEOUT_SCALE", "fast")
    with pytest.raises(InputError) as e:
        link.timeout_scale()
    assert str(e.value) == "TMSPIO_TIMEOUT_SCALE = 'fast': a number > 0 (1 = a Pico on USB)"
    with pytest.raises(InputError) as e:
        link.timeout_scale("0")
    assert str(e.value) == "--timeout-scale = '0': a number > 0 (1 = a Pico on USB)"


def test_a_100000_pulse_program_loads_and_runs_on_the_real_firmware():
    prog = _program(100_000)
    with SerialBoard(speed="max") as b, link.connect(b.path, hello_timeout=30) as conn:
        progress = []
        conn.on_progress = lambda done, total: progress.append(done)
        conn.load(prog)  # the board checks 100,000 onsets: seconds, kept alive by PROGRESS
        assert progress and progress[-1] <= 100_000
        conn.run(heartbeat_ms=0)
        onsets = []
        while len(onsets) < 500:  # the first 500 pulses, each on its planned cycle
            time.sleep(0.1)
            onsets = [c for s, lv, c in list(conn.edges) if s == 0 and lv == 1]
        st = conn.stop("enough")
    assert st["state"] == "stopped" and st["pulses_planned"] == 100_000
    assert [c - onsets[0] for c in onsets[:500]] == [k * 10 * MS for k in range(500)]
