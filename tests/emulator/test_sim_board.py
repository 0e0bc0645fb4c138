"""Board: pads (function select, pulls, overrides, SIO, drives, wires), callbacks, time
control, watchdog reset."""

import pytest
from simrig import IO_BANK0, PADS_BANK0, PIO_BASE, SIO, run_both, setup_sm
from tmspio.emulator.mpy.rp2040 import board as emuboard
from tmspio.emulator.mpy.rp2040.errors import BoardReset, EmulatorError


def test_pulls_decide_an_undriven_pad(board):
    assert board.level(4) == 0  # power-up pull-down
    board.write32(PADS_BANK0 + 4 + 4 * 4, 0x4A)  # IE, pull-up
    assert board.level(4) == 1
    board.write32(PADS_BANK0 + 4 + 4 * 4, 0x4E)  # both pulls: bus keeper holds 1
    assert board.level(4) == 1
    board.drive(4, 0)
    board.drive(4, None)
    assert board.level(4) == 0  # the keeper now holds the last driven level
    board.write32(PADS_BANK0 + 4 + 4 * 4, 0x40)  # no pulls
    assert board.trace(4) == [(0, 0), (0, 1), (0, 0)]


def test_sio_output_and_input_registers(board):
    board.write32(IO_BANK0 + 8 * 6 + 4, 5)  # GPIO6 -> SIO
    board.write32(SIO + 0x024, 1 << 6)  # OE_SET
    board.advance(10)
    board.write32(SIO + 0x014, 1 << 6)  # OUT_SET
    assert board.level(6) == 1 and board.trace(6) == [(0, 0), (10, 1)]
    assert board.read32(SIO + 0x004) >> 6 & 1 == 0  # GPIO_IN sees the pad 2 cycles later
    board.advance(2)
    assert board.read32(SIO + 0x004) >> 6 & 1 == 1
    board.write32(SIO + 0x01C, 1 << 6)  # OUT_XOR
    assert board.level(6) == 0
    board.write32(SIO + 0x014, 1 << 7)  # GPIO7 is not SIO: no effect on its pad
    assert board.level(7) == 0


def test_override_forces_a_pio_output_low_and_drive_loses_to_an_output():
    def build(b):
        setup_sm(
            b, "set pindirs, 1\nset pins, 1\nend:\njmp end", pins=[3], set_base=3, set_count=1
        )
        b.drive(3, 0, at=20)  # contention: the chip's output wins
        b.schedule(40, lambda bb: bb.write32(IO_BANK0 + 8 * 3 + 4, 6 | (2 << 8)))  # OUTOVER low
        b.schedule(60, lambda bb: bb.write32(IO_BANK0 + 8 * 3 + 4, 6 | (2 << 12)))  # OE off
        b.schedule(80, lambda bb: bb.drive(3, None))

    s = run_both(build, [100])[0]
    # pad follows `set pins, 1` at tick 1; forced low at 40; at 60 the output is disabled
    # and the external drive (0) holds it; released at 80 -> pull-down keeps 0
    assert s["traces"][3] == [(0, 0), (2, 1), (40, 0)]


def test_gpio_status_reports_pad_and_output_enable(board):
    setup_sm(
        board, "set pindirs, 1\nset pins, 1\nend:\njmp end", pins=[3], set_base=3, set_count=1
    )
    board.advance(5)
    status = board.read32(IO_BANK0 + 8 * 3)
    assert status == (1 << 8) | (1 << 9) | (1 << 12) | (1 << 13) | (1 << 17) | (1 << 19)


def test_wire_loops_an_output_back_to_an_input_in_the_same_cycle(board):
    board.wire(2, 11)
    setup_sm(
        board,
        "set pindirs, 1\nset pins, 1 [4]\nset pins, 0\nend:\njmp end",
        pins=[2],
        set_base=2,
        set_count=1,
    )
    board.advance(20)
    assert board.trace(11) == board.trace(2) == [(0, 0), (2, 1), (7, 0)]


def test_edge_callbacks_run_at_the_edge_cycle_and_may_spend_cpu_time(board):
    seen = []

    def on_edge(pin, cycle):
        seen.append((pin, cycle, board.cycle))
        board.cpu(emuboard.ACCESS_CYCLES)  # an IRQ handler takes time; hardware keeps running
        seen.append(("after", board.cycle))

    board.watch_edges(5, on_edge, rising=True, falling=False)
    board.drive(5, 1, at=100)
    board.drive(5, 0, at=150)
    board.drive(5, 1, at=400)
    board.advance(1000)
    a = emuboard.ACCESS_CYCLES
    assert seen == [(5, 100, 100), ("after", 100 + a), (5, 400, 400), ("after", 400 + a)]
    assert board.cycle == 1000


def test_schedule_run_until_and_idle(board):
    hits = []
    board.schedule(77, lambda b: hits.append(b.cycle))
    assert board.run(until=lambda b: bool(hits)) is True
    assert hits == [77] and board.cycle == 78
    setup_sm(board, "set x, 3\nloop:\njmp x-- loop [7]\npull block")
    assert board.run_until_idle(10_000) == 78 + 1 + 4 * 8 + 1
    with pytest.raises(EmulatorError, match="can never finish: the board is idle"):
        board.run(until=lambda b: False)
    assert board.run(cycles=50, until=lambda b: False) is False


def test_watchdog_expiry_resets_the_hardware_and_raises_board_reset(board):
    setup_sm(
        board, "set pindirs, 1\nset pins, 1\nend:\njmp end", pins=[3], set_base=3, set_count=1
    )
    board.watchdog_start(1000)
    board.advance(600)
    board.watchdog_feed()
    board.advance(999)
    with pytest.raises(BoardReset) as info:
        board.advance(10)
    assert (info.value.cause, info.value.cycle, board.cycle) == ("watchdog", 1600, 1600)
    assert board.reset_cause == "watchdog"
    assert board.read32(PIO_BASE[0]) == 0  # SMs disabled
    assert board.read32(IO_BANK0 + 8 * 3 + 4) == 0x1F
    assert board.trace(3) == [(0, 0), (2, 1), (1600, 0)]
    assert not isinstance(info.value, Exception)


def test_run_until_idle_stops_at_the_same_cycle_in_both_modes():
    from array import array

    results = []
    for single in (False, True):
        b = emuboard.Board(single_step=single)
        words = array("I", [5, 9, 2])
        setup_sm(b, "pull block\nmov x, osr\nloop:\njmp x-- loop [1]\nset pins, 1",
                 clkdiv=(1 << 16) | (64 << 8))  # fmt: skip
        b.write32(0x50000000, b.dma_address(words))
        b.write32(0x50000004, PIO_BASE[0] + 0x010)
        b.write32(0x50000008, 3)
        b.write32(0x5000000C, 1 | (2 << 2) | (1 << 4) | (1 << 21))
        results.append((b.run_until_idle(100_000), b.pio[0].sm[0].state()))
    assert results[0] == results[1]
    assert results[0][1]["pc"] == 0 and results[0][1]["stalled"] is True


def test_tracing_can_be_limited_to_the_pins_a_session_reads(board):
    board.set_tracing([2])
    board.drive(2, 1, at=10)
    board.drive(3, 1, at=10)
    board.advance(20)
    assert board.trace(2) == [(0, 0), (10, 1)]
    with pytest.raises(EmulatorError, match="pin 3 is not traced"):
        board.trace(3)
    board.set_tracing(None)
    board.drive(3, 0, at=30)
    board.advance(20)
    assert board.trace(3) == [(20, 1), (30, 0)]


def test_callbacks_do_not_nest_events_during_a_handler_wait_for_it(board):
    calls = []

    def on_edge(pin, cycle):
        calls.append((cycle, board.cycle))
        board.cpu(125)  # longer than the 50-cycle spacing of the edges

    board.watch_edges(8, on_edge)
    for k in range(6):
        board.drive(8, (k + 1) % 2, at=100 + 50 * k)
    board.advance(2000)
    # each edge is delivered with its own cycle, once the previous handler has returned
    assert calls == [(100 + 50 * k, 100 + 125 * k) for k in range(6)]
