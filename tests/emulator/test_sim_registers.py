"""Register map effects (pio-and-rp2.md §3) and error cases for unmodelled features."""

import pytest
from simrig import CLR_ALIAS, IO_BANK0, PIO_BASE, SET_ALIAS, XOR_ALIAS, setup_sm, shiftctrl
from tmspio.emulator.mpy.rp2040 import board as emuboard
from tmspio.emulator.mpy.rp2040.errors import EmulatorError

P0 = PIO_BASE[0]
SM0 = P0 + 0xC8


def test_reset_values(board):
    assert board.read32(P0 + 0x004) == 0x0F000F00  # FSTAT: all FIFOs empty
    assert board.read32(P0 + 0x044) == 0x00200404  # DBG_CFGINFO
    assert board.read32(SM0 + 0) == 0x00010000
    assert board.read32(SM0 + 4) == 0x0001F000
    assert board.read32(SM0 + 8) == 0x000C0000
    assert board.read32(SM0 + 20) == 0x14000000
    assert board.read32(IO_BANK0 + 4) == 0x1F
    assert board.read32(0x4001C000 + 4) == 0x56


def test_fifo_levels_overflow_and_underflow_flags(board):
    for v in range(5):
        board.write32(P0 + 0x010, v)
    assert board.read32(P0 + 0x00C) == 4  # FLEVEL TX0 = 4
    assert board.read32(P0 + 0x004) == 0x0E010F00  # TX0 full and not empty, TX1-3 empty
    assert board.read32(P0 + 0x008) == 1 << 16  # TXOVER: the fifth write was dropped
    assert board.pio[0].sm[0].tx == [0, 1, 2, 3]
    assert board.read32(P0 + 0x024) == 0 and board.read32(P0 + 0x008) == (1 << 16) | (1 << 9)
    board.write32(P0 + 0x008, 1 << 16)  # W1C one flag, the other stays
    assert board.read32(P0 + 0x008) == 1 << 9
    board.write32(P0 + SET_ALIAS + 0x008, 1 << 9)  # SET alias of a W1C register clears too
    assert board.read32(P0 + 0x008) == 0


def test_joined_tx_fifo_is_8_deep_and_changing_the_join_flushes(board):
    board.write32(SM0 + 8, shiftctrl(join_tx=True))
    for v in range(9):
        board.write32(P0 + 0x010, v)
    assert board.read32(P0 + 0x00C) == 8
    assert board.read32(P0 + 0x004) & 0x00010001 == 0x00010001  # TX full, RX reads full
    board.write32(SM0 + 8, shiftctrl())
    assert board.read32(P0 + 0x00C) == 0


def test_atomic_aliases_on_a_plain_register(board):
    board.write32(SM0 + 20, 0x0000_00F0)
    board.write32(SM0 + 20 + SET_ALIAS, 0x0000_0003)
    assert board.read32(SM0 + 20) == 0xF3
    board.write32(SM0 + 20 + CLR_ALIAS, 0x0000_0030)
    assert board.read32(SM0 + 20) == 0xC3
    board.write32(SM0 + 20 + XOR_ALIAS, 0x0000_00FF)
    assert board.read32(SM0 + 20) == 0x3C
    with pytest.raises(EmulatorError, match="atomic SET alias write at 0x50202010"):
        board.write32(P0 + SET_ALIAS + 0x010, 1)


def test_ctrl_reads_enables_only_and_restart_strobes_clear_state(board):
    setup_sm(board, "in x, 5\nnop", start=False)
    board.write32(SM0 + 16, 0xE03F)  # set x, 31
    board.write32(SM0 + 16, 0x4025)  # in x, 5 (forced)
    assert board.pio[0].sm[0].icount == 5
    board.write32(P0, 0x11)  # enable SM0 + SM_RESTART
    assert board.read32(P0) == 0x1
    assert (board.pio[0].sm[0].icount, board.pio[0].sm[0].isr) == (0, 0)
    assert board.pio[0].sm[0].x == 31  # X survives a restart


def test_addr_and_instr_read_back_the_pc(board):
    words = setup_sm(board, "set x, 1\nset x, 2\nset x, 3", start=True)
    board.advance(2)
    assert board.read32(SM0 + 12) == 2
    assert board.read32(SM0 + 16) == words[2]


def test_pio_irq_line_calls_back_at_the_cycle_the_flag_is_raised(board):
    hits = []
    board.watch_pio_irq(0, lambda blk, line: hits.append((blk, line, board.cycle)))
    board.write32(P0 + 0x12C, 0x100)  # IRQ0_INTE: SM flag 0
    setup_sm(board, "nop [9]\nirq 0\nend:\njmp end")
    board.advance(30)
    # the IRQ runs at tick 10, the flag is committed at the end of that cycle
    assert hits == [(0, 0, 11)]
    assert board.read32(P0 + 0x134) == 0x100  # IRQ0_INTS
    assert board.read32(P0 + 0x128) & 0xF00 == 0x100  # INTR
    board.write32(P0 + 0x030, 1)
    assert board.read32(P0 + 0x134) == 0


def test_input_sync_bypass_and_dbg_padout(board):
    board.write32(P0 + 0x038, 0x5)
    assert board.read32(P0 + 0x038) == 0x5
    setup_sm(board, "set pindirs, 3\nset pins, 2\nend:\njmp end", set_count=2, pins=[0, 1])
    board.advance(5)
    assert board.read32(P0 + 0x03C) == 2 and board.read32(P0 + 0x040) == 3


@pytest.mark.parametrize(
    "word,message",
    [
        (0x2060, "WAIT source 3"),
        (0xA05B, "MOV operation 3"),
        (0x4080, "IN source 4"),
        (0xA064, "MOV source 4"),
        (0xA061, "MOV destination 3"),
        (0xC008, "IRQ index 0x08: bit 3 is reserved"),
        (0xC080, "IRQ encoding 0xc080 is reserved"),
        (0x8010, "PUSH/PULL encoding 0x8010 is reserved"),
        (0xE060, "SET destination 3"),
    ],
)
def test_reserved_encodings_raise_when_executed(board, word, message):
    setup_sm(board, [word, 0xA042])
    with pytest.raises(EmulatorError, match=message):
        board.advance(1)


@pytest.mark.parametrize(
    "addr,value,message",
    [
        (SM0 + 4, 1 << 17, "OUT_STICKY is not modelled"),
        (SM0 + 4, 1 << 18, "INLINE_OUT_EN is not modelled"),
        (SM0 + 0, 0x0000_8000, "CLKDIV INT=0 with FRAC=128"),
        (SM0 + 20, 6 << 29, "SIDESET_COUNT=6: allowed 0..5"),
        (IO_BANK0 + 4, 2, "FUNCSEL=2 is not modelled"),
        (IO_BANK0 + 4, 0x10005, "INOVER/IRQOVER"),
        (0x50000000 + 0x0C, 1 | (20 << 15), "TREQ_SEL=20 is not modelled"),
        (0x50000000 + 0x0C, 3, "HIGH_PRIORITY is not modelled"),
        (0x40050000, 0, "no modelled register there"),
        (0xD0000040, 0, "SIO register at offset 0x040 is not modelled"),
        (P0 + 0x146, 0, "address must be 4-aligned"),
    ],
)
def test_unmodelled_features_raise(board, addr, value, message):
    if addr == 0x50000000 + 0x0C:
        board.write32(0x50000008, 1)
    with pytest.raises(EmulatorError, match=message):
        board.write32(addr, value)


def test_unmodelled_chip_and_misuse_raise():
    with pytest.raises(EmulatorError, match="chip 'rp2350' is not modelled"):
        emuboard.Board(chip="rp2350")
    b = emuboard.Board()
    with pytest.raises(EmulatorError, match="drive at cycle 0 is in the past"):
        b.advance(5)
        b.drive(3, 1, at=0)
    with pytest.raises(EmulatorError, match="pin 30: allowed 0..29"):
        b.level(30)
    with pytest.raises(EmulatorError, match="cycles must be >= 0"):
        b.advance(-1)


def test_gpio_status_shows_the_signals_before_and_after_the_overrides(board):
    pads3 = 0x4001C000 + 4 + 4 * 3
    board.write32(0xD0000014, 1 << 3)  # SIO OUT_SET
    board.write32(0xD0000024, 1 << 3)  # SIO OE_SET
    board.write32(IO_BANK0 + 8 * 3 + 4, 5 | 2 << 12)  # FUNCSEL SIO, OEOVER = disable
    # out from SIO 1 and to the pad 1; OE from SIO 1 but 0 to the pad: the pull-down wins
    assert board.level(3) == 0
    assert board.read32(IO_BANK0 + 8 * 3) == 1 << 8 | 1 << 9 | 1 << 12
    board.write32(IO_BANK0 + 8 * 3 + 4, 5 | 1 << 8)  # OUTOVER = invert: pad driven low
    board.write32(pads3 + CLR_ALIAS, 1 << 2)  # no pull-down
    board.write32(pads3 + SET_ALIAS, 1 << 3)  # pull-up
    assert board.level(3) == 0
    assert board.read32(IO_BANK0 + 8 * 3) == 1 << 8 | 1 << 12 | 1 << 13
    board.write32(pads3 + SET_ALIAS, 1 << 7)  # pad OD: acts after OETOPAD, the pull-up wins
    assert board.level(3) == 1
    assert board.read32(IO_BANK0 + 8 * 3) == 1 << 8 | 1 << 12 | 1 << 13 | 1 << 17 | 1 << 19
