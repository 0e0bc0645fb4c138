"""time / select / micropython stand-ins: ticks semantics of MicroPython's rp2 port, sleeps
advancing the board, poll() on a pipe advancing the board until input or timeout, pacing."""

import os

import pytest
import simrig
from tmspio.emulator import emuselect, emutime, machine
from tmspio.emulator.mpy import micropython as mp_standin
from tmspio.emulator.mpy import softirq

PERIOD = 1 << 30


@pytest.fixture
def board():
    return simrig.standin_board()


def test_sleeps_advance_the_board_and_never_end_early(board):
    emutime.sleep_ms(2)
    assert board.cycle == 250_000
    emutime.sleep_us(3)
    assert board.cycle == 250_375
    emutime.sleep(0.5)
    assert board.cycle == 250_375 + 62_500_000
    emutime.sleep_ms(-5)  # negative: no sleep (modtime.c)
    emutime.sleep_us(0)
    assert board.cycle == 250_375 + 62_500_000
    board.sysclk = 48_000_001  # a sleep rounds up to whole cycles
    start = board.cycle
    emutime.sleep_us(1)
    assert board.cycle - start == 49


def test_ticks_are_30_bit_and_cpu_ticks_are_microseconds(board):
    emutime.sleep_ms(1500)
    assert (emutime.ticks_ms(), emutime.ticks_us(), emutime.ticks_cpu()) == (
        1500,
        1_500_000,
        1_500_000,
    )
    board.advance(125 * (PERIOD - 1_500_000) - 1)  # one cycle short of the 2**30 us wrap
    assert emutime.ticks_us() == PERIOD - 1
    board.advance(1)
    assert emutime.ticks_us() == 0 and emutime.ticks_ms() == PERIOD // 1000


def test_ticks_diff_and_ticks_add_wrap_like_modtime_c():
    assert emutime.ticks_diff(5, PERIOD - 5) == 10
    assert emutime.ticks_diff(PERIOD - 5, 5) == -10
    assert emutime.ticks_diff(PERIOD // 2, 0) == -(PERIOD // 2)  # range is [-2**29, 2**29)
    assert emutime.ticks_diff(PERIOD // 2 - 1, 0) == PERIOD // 2 - 1
    assert emutime.ticks_add(PERIOD - 1, 2) == 1
    assert emutime.ticks_add(0, -1) == PERIOD - 1
    assert emutime.ticks_add(10, PERIOD // 2 - 1) == 10 + PERIOD // 2 - 1
    for delta in (PERIOD // 2, -(PERIOD // 2)):
        with pytest.raises(OverflowError, match="^ticks interval overflow$"):
            emutime.ticks_add(0, delta)


def test_poll_times_out_in_emulated_time(board):
    r, w = os.pipe()
    try:
        poller = emuselect.poll()
        poller.register(r, emuselect.POLLIN)
        assert poller.poll(25) == []
        assert board.cycle == 25 * 125_000
        assert poller.poll(0) == []
        assert board.cycle == 25 * 125_000
        os.write(w, b"x")
        assert poller.poll(1000) == [(r, emuselect.POLLIN)]
        assert board.cycle == 25 * 125_000  # ready at once: no time passes
    finally:
        os.close(r)
        os.close(w)


def test_poll_runs_soft_handlers(board):
    seen = []
    machine.Pin(5, machine.Pin.IN).irq(lambda p: seen.append(board.cycle))
    board.drive(5, 1, at=10_000)
    r, w = os.pipe()
    try:
        poller = emuselect.poll()
        poller.register(r, emuselect.POLLIN)
        poller.poll(1)
    finally:
        os.close(r)
        os.close(w)
    # The wait services the scheduler: the handler runs right after the edge's cycle.
    assert seen == [10_001]


def test_pacing_waits_host_time(board):
    emutime.set_speed(10.0)  # 10 x real time: 50 ms emulated ~ 5 ms host
    start = emutime.host_seconds()
    emutime.sleep_ms(1)  # anchors the pace
    emutime.sleep_ms(50)
    elapsed = emutime.host_seconds() - start
    assert elapsed >= 0.005
    with pytest.raises(ValueError, match=r"^speed 0: expected None or a positive number$"):
        emutime.set_speed(0)


def test_speed_from_the_environment(monkeypatch):
    monkeypatch.setenv("TMSPIO_EMU_SPEED", "2.5")
    assert emutime._read_speed() == 2.5
    monkeypatch.setenv("TMSPIO_EMU_SPEED", "max")
    assert emutime._read_speed() is None
    monkeypatch.setenv("TMSPIO_EMU_SPEED", "fast")
    with pytest.raises(
        ValueError,
        match=r"^TMSPIO_EMU_SPEED='fast': expected 'max' or a "
        r"positive number \(1 = real time\)$",
    ):
        emutime._read_speed()


def test_micropython_standin_schedule_and_passthroughs():
    softirq.clear()
    seen = []
    for i in range(8):
        mp_standin.schedule(seen.append, i)
    with pytest.raises(RuntimeError, match="^schedule queue full$"):
        mp_standin.schedule(seen.append, 8)
    softirq.run_pending()
    assert seen == list(range(8))
    assert mp_standin.const(7) == 7
    assert mp_standin.native(len) is len
    with pytest.raises(SyntaxError, match="viper"):
        mp_standin.viper(len)
    mp_standin.kbd_intr(-1)
    assert mp_standin.kbd_intr_char() == -1
    mp_standin.kbd_intr(3)
    assert mp_standin.heap_lock() == 0 and mp_standin.heap_unlock() == 0


def test_a_soft_handler_may_sleep_while_more_edges_arrive(board):
    seen = []

    def slow(pin):
        seen.append(("start", board.cycle))
        emutime.sleep_us(100)  # edges during this sleep queue up; handlers never nest
        seen.append(("end", board.cycle))

    machine.Pin(6, machine.Pin.IN).irq(slow, trigger=machine.Pin.IRQ_RISING)
    start = board.cycle
    for i in range(3):
        board.drive(6, 1, at=start + 1000 + 5000 * i)
        board.drive(6, 0, at=start + 3000 + 5000 * i)
    emutime.sleep_ms(1)
    first = start + 1001
    assert seen == [
        ("start", first),
        ("end", first + 12500),
        ("start", first + 12500),
        ("end", first + 25000),
        ("start", first + 25000),
        ("end", first + 37500),
    ]
