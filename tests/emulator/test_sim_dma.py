"""DMA: DREQ-paced PIO feeds and drains, underrun, rings, chaining, IRQ line, abort."""

from array import array

import pytest
from simrig import DMA, PIO_BASE, run_both, setup_sm, shiftctrl
from tmspio.emulator.mpy.rp2040 import board as emuboard
from tmspio.emulator.mpy.rp2040.errors import EmulatorError

EN, WORD, INC_R, INC_W, QUIET = 1, 2 << 2, 1 << 4, 1 << 5, 1 << 21
TXF0 = PIO_BASE[0] + 0x010
RXF0 = PIO_BASE[0] + 0x020


def ctrl(treq, chain, *flags):
    v = (treq << 15) | (chain << 11)
    for f in flags:
        v |= f
    return v


def channel(board, n, read, write, count, ctrl_word):
    base = DMA + 0x40 * n
    board.write32(base + 0x00, read)
    board.write32(base + 0x04, write)
    board.write32(base + 0x08, count)
    board.write32(base + 0x0C, ctrl_word)  # CTRL_TRIG starts it


ECHO = "out x, 32\nin x, 32"  # autopull + autopush: one word through per 2 ticks


def test_paced_feed_and_drain_pass_every_word_through_the_state_machine():
    src = array("I", [0x1000 + i for i in range(40)])
    dst = array("I", [0] * 40)
    holder = {}

    def build(b):
        setup_sm(b, ECHO, shiftctrl=shiftctrl(autopull=True, autopush=True), start=False)
        channel(b, 0, b.dma_address(src), TXF0, 40, ctrl(0, 0, EN, WORD, INC_R, QUIET))
        out = array("I", [0] * 40)
        holder[b.single_step] = out
        channel(b, 1, RXF0, b.dma_address(out), 40, ctrl(4, 1, EN, WORD, INC_W, QUIET))
        b.write32(PIO_BASE[0] + 0x2000, 0x101)

    snaps = run_both(build, [30, 200])
    assert list(holder[False]) == list(src) == list(holder[True])
    assert snaps[-1]["dma"][0][2:4] == (0, False) and snaps[-1]["dma"][1][2:4] == (0, False)
    assert snaps[-1]["pio0"]["fdebug"] == 1 << 24  # TXSTALL: the SM now waits for word 41
    del dst


def test_tx_underrun_sets_txstall_which_comes_back_after_a_w1c_while_stalled():
    board = emuboard.Board()
    words = array("I", [1, 2, 3])
    setup_sm(board, "out x, 32 [3]", shiftctrl=shiftctrl(autopull=True), start=False)
    channel(board, 0, board.dma_address(words), TXF0, 3, ctrl(0, 0, EN, WORD, INC_R, QUIET))
    board.write32(PIO_BASE[0] + 0x2000, 0x101)
    board.advance(12)
    assert board.read32(PIO_BASE[0] + 0x008) == 0  # 3 words, 4 ticks each: no stall yet
    board.advance(10)
    assert board.read32(PIO_BASE[0] + 0x008) == 1 << 24
    board.write32(PIO_BASE[0] + 0x008, 1 << 24)
    assert board.read32(PIO_BASE[0] + 0x008) == 0
    board.advance(1)
    assert board.read32(PIO_BASE[0] + 0x008) == 1 << 24
    assert board.pio[0].sm[0].x == 3


def test_write_ring_keeps_the_last_words_of_a_capture():
    ring = array("I", [0, 0, 0, 0])  # 16 bytes, 16-byte aligned by dma_address()
    board = emuboard.Board()
    for i in range(4):
        board.write32(TXF0 + 4 * i, 0)  # unused
    data = array("I", [100 + i for i in range(10)])
    ring_w = (4 << 6) | (1 << 10)  # RING_SIZE 2^4 bytes on the write address
    channel(
        board,
        0,
        board.dma_address(data),
        board.dma_address(ring),
        10,
        ctrl(0x3F, 0, EN, WORD, INC_R, INC_W, QUIET, ring_w),
    )
    board.advance(10)
    assert list(ring) == [108, 109, 106, 107]
    assert board.read32(DMA + 0x04) == board.dma_address(ring) + 8  # wrapped write pointer


def test_unpaced_copy_moves_one_word_per_cycle_then_chains_and_interrupts():
    board = emuboard.Board()
    a = array("I", [1, 2, 3, 4, 5])
    b = array("I", [0] * 5)
    c = array("I", [0] * 5)
    hits = []
    board.watch_dma_irq(lambda line: hits.append((line, board.cycle, board.read32(DMA + 0x40C))))
    board.write32(DMA + 0x404, 0b10)  # INTE0: channel 1 only
    # channel 1 is configured first (not triggered); channel 0 chains to it
    base1 = DMA + 0x40
    board.write32(base1 + 0x00, board.dma_address(b))
    board.write32(base1 + 0x04, board.dma_address(c))
    board.write32(base1 + 0x08, 5)
    board.write32(base1 + 0x10, ctrl(0x3F, 1, EN, WORD, INC_R, INC_W))  # AL1_CTRL: no trigger
    channel(
        board,
        0,
        board.dma_address(a),
        board.dma_address(b),
        5,
        ctrl(0x3F, 1, EN, WORD, INC_R, INC_W, QUIET),
    )
    board.advance(4)
    assert list(b) == [1, 2, 3, 4, 0]
    board.advance(6)
    assert list(b) == [1, 2, 3, 4, 5] and list(c) == [1, 2, 3, 4, 5]
    assert hits == [(0, 10, 0b10)]
    board.write32(DMA + 0x40C, 0b10)  # W1C through INTS0
    assert board.read32(DMA + 0x400) == 0


def test_abort_stops_a_paced_channel_and_trigger_alias_restarts_it():
    board = emuboard.Board()
    words = array("I", list(range(10)))
    setup_sm(board, "nop", start=False)
    channel(board, 0, board.dma_address(words), TXF0, 10, ctrl(0, 0, EN, WORD, INC_R, QUIET))
    board.advance(5)
    assert board.read32(PIO_BASE[0] + 0x00C) == 4  # TX level 4, DMA waits for space
    assert board.read32(DMA + 0x0C) >> 24 & 1 == 1  # BUSY
    board.write32(DMA + 0x444, 1)
    assert board.read32(DMA + 0x0C) >> 24 & 1 == 0
    assert board.read32(DMA + 0x08) == 6
    board.write32(DMA + 0x1C, 2)  # AL1_TRANS_COUNT_TRIG: two more words once there is room
    board.read32(RXF0)  # (empty read: RXUNDER, data undefined)
    assert board.read32(PIO_BASE[0] + 0x008) == 1 << 8


def test_byte_sized_dma_write_to_a_fifo_is_replicated_across_the_word():
    board = emuboard.Board()
    data = bytearray([0xA5, 0x3C])
    channel(board, 0, board.dma_address(data), TXF0, 2, ctrl(0x3F, 0, EN, INC_R, QUIET))
    board.advance(3)
    assert board.pio[0].sm[0].tx == [0xA5A5A5A5, 0x3C3C3C3C]


def test_halfword_array_and_memoryview_buffers():
    board = emuboard.Board()
    src = array("H", [0x1234, 0xBEEF, 0x0042])
    dst = bytearray(6)
    view = memoryview(dst)
    channel(board, 0, board.dma_address(src), board.dma_address(view), 3,
            ctrl(0x3F, 0, EN, 1 << 2, INC_R, INC_W, QUIET))  # fmt: skip
    board.advance(3)
    assert bytes(dst) == bytes([0x34, 0x12, 0xEF, 0xBE, 0x42, 0x00])
    assert board.dma_address(view) == board.dma_address(view)  # stable per object
    with pytest.raises(EmulatorError, match="4-byte access at offset 0 of a buffer of 2-byte"):
        board.read32(board.dma_address(src))


def test_a_trigger_of_a_busy_channel_is_ignored():
    board = emuboard.Board()
    words = array("I", range(10))
    # SM0 is not running: the DREQ-paced channel fills the TX FIFO (4 words) and stays busy
    channel(board, 0, board.dma_address(words), TXF0, 10, ctrl(0, 0, EN, WORD, INC_R, QUIET))
    board.advance(20)
    assert (board.read32(DMA + 0x08), board.read32(DMA + 0x10) >> 24 & 1) == (6, 1)
    board.write32(DMA + 0x430, 1)  # MULTI_CHAN_TRIGGER
    board.write32(DMA + 0x1C, 3)  # AL1_TRANS_COUNT_TRIG: sets the reload value only
    board.advance(20)
    assert board.read32(DMA + 0x08) == 6  # not restarted at 10 (nor 3)
    assert board.read32(DMA + 0x804) == 3  # CH0_DBG_TCR: the next trigger's count
    assert list(board.pio[0].sm[0].tx) == [0, 1, 2, 3]
