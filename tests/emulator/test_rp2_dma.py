"""rp2.DMA on the emulated board: ctrl packing (RP2040 layout), claims, config/trigger aliases,
a DREQ-paced feed into a state machine and the completion IRQ."""

# ruff: noqa: F821 - @asm_pio bodies use DSL names that exist only while they run

from array import array

import pytest
import simrig
from tmspio.emulator import ACCESS_CYCLES, BUS_CYCLES, machine, rp2
from tmspio.emulator.mpy import time as emutime

PIO0 = 0x50200000
DEFAULT_CH0 = (
    1 << 21 | 0x3F << 15 | 1 << 5 | 1 << 4 | 2 << 2 | 1
)  # irq_quiet treq=0x3F incs word en


@pytest.fixture
def board():
    return simrig.standin_board()


def test_pack_ctrl_defaults_and_fields(board):
    first, second = rp2.DMA(), rp2.DMA()
    assert (first.channel, second.channel) == (0, 1)
    assert first.pack_ctrl() == DEFAULT_CH0
    assert second.pack_ctrl() == DEFAULT_CH0 | 1 << 11  # chain_to = own channel (= no chain)
    assert (
        first.pack_ctrl(size=0, inc_write=False, treq_sel=8, busy=1)
        == (DEFAULT_CH0 & ~(3 << 2) & ~(1 << 5) & ~(0x3F << 15)) | 8 << 15
    )
    assert (
        first.pack_ctrl(default=0, ring_size=15, ring_sel=1, bswap=1)
        == 15 << 6 | 1 << 10 | 1 << 22
    )
    assert rp2.DMA.unpack_ctrl(DEFAULT_CH0 | 1 << 24 | 1 << 31) == {
        "enable": 1,
        "high_pri": 0,
        "size": 2,
        "inc_read": 1,
        "inc_write": 1,
        "ring_size": 0,
        "ring_sel": 0,
        "chain_to": 0,
        "treq_sel": 0x3F,
        "irq_quiet": 1,
        "bswap": 0,
        "sniff_en": 0,
        "busy": 1,
        "write_err": 0,
        "read_err": 0,
        "ahb_err": 1,
    }
    with pytest.raises(ValueError, match="^bad field value$"):
        first.pack_ctrl(size=4)
    with pytest.raises(TypeError, match="^unexpected keyword argument 'speed'$"):
        first.pack_ctrl(speed=1)
    with pytest.raises(TypeError, match="^pack_ctrl only takes keyword arguments$"):
        first.pack_ctrl(1)


def test_claims_run_out_and_close_frees(board):
    channels = [rp2.DMA() for _ in range(12)]
    with pytest.raises(OSError) as err:
        rp2.DMA()
    assert err.value.args[0] == 16  # EBUSY
    channels[5].close()
    assert rp2.DMA().channel == 5
    with pytest.raises(ValueError, match="^channel closed$"):
        _ = channels[5].count
    channels[5].close()  # closing twice is harmless


def test_config_attributes_and_registers(board):
    words = array("I", [7, 8, 9])
    sm = rp2.StateMachine(0)
    dma = rp2.DMA()
    ctrl = dma.pack_ctrl(enable=False)
    dma.config(read=words, write=sm, count=3, ctrl=ctrl)
    # A TRANS_COUNT write sets the reload value (CH0_DBG_TCR); reading it gives the remaining
    # count, 0 until the channel is triggered.
    assert (dma.read, dma.write, dma.count, dma.ctrl) == (
        board.dma_address(words),
        PIO0 + 0x10,
        0,
        ctrl,
    )
    assert machine.mem32[0x50000000 + 0x804] == 3
    assert dma.active() is False
    dma.write = 0x20001000
    assert dma.write == 0x20001000


# fmt: off
@rp2.asm_pio(out_init=(rp2.PIO.OUT_LOW,) * 8, out_shiftdir=rp2.PIO.SHIFT_RIGHT)
def paced_out():
    pull()                  # 1 tick
    out(pins, 8)   [30]     # 31 ticks: one byte out per 32 ticks
# fmt: on


def test_dreq_paced_feed_into_a_state_machine(board):
    sm = rp2.StateMachine(0, paced_out, freq=125_000, out_base=0)  # 1 tick = 1000 cycles
    words = array("I", [1, 0] * 6)
    done = []
    dma = rp2.DMA()
    dma.irq(lambda d: done.append((d.channel, d.irq().flags(), board.cycle)), hard=True)
    ctrl = dma.pack_ctrl(inc_write=False, treq_sel=0, irq_quiet=False)  # DREQ_PIO0_TX0
    dma.config(read=words, write=sm, count=len(words), ctrl=ctrl, trigger=True)
    assert dma.active() is True
    sm.active(1)
    emutime.sleep_ms(5)
    edges = board.trace(0)[1:]
    assert [level for _, level in edges] == [1, 0] * 6
    assert [b[0] - a[0] for a, b in zip(edges, edges[1:])] == [32000] * 11
    assert (dma.count, dma.active(), dma.read - board.dma_address(words)) == (0, False, 48)
    assert len(done) == 1 and done[0][:2] == (0, 1)
    # After the last word the SM stalls on PULL: FDEBUG.TXSTALL for SM0 (bit 24).
    assert machine.mem32[PIO0 + 0x8] & (1 << 24)


def test_registers_view_reads_and_writes_the_channel_block(board):
    dma = rp2.DMA()
    rp2.DMA()
    regs = rp2.DMA().registers  # channel 2
    assert len(regs) == 16
    regs[1] = 0x20000040  # WRITE_ADDR
    regs[4] = 0  # AL1_CTRL
    assert machine.mem32[0x50000000 + 0x80 + 4] == 0x20000040 and regs[-15] == 0x20000040
    tail = regs[3:]
    assert len(tail) == 13 and tail[0] == regs[3]
    dma.config(write=tail)  # a slice is an address, as a memoryview slice is on the device
    assert dma.write == 0x50000000 + 0x80 + 12
    with pytest.raises(IndexError):
        _ = regs[16]


def test_soft_reset_closes_claimed_channels(board):
    sm = rp2.StateMachine(0, paced_out, freq=125_000, out_base=0)
    words = array("I", [1, 0] * 6)
    dma = rp2.DMA()
    ctrl = dma.pack_ctrl(inc_write=False, treq_sel=0)
    dma.config(read=words, write=sm, count=len(words), ctrl=ctrl, trigger=True)
    sm.active(1)
    emutime.sleep_us(100)
    assert dma.active() is True
    rp2.soft_reset()  # gc_sweep_all finalises the DMA object: DMA.close()
    # READ/WRITE_ADDR, CTRL (BUSY clear) and the count reload are zero; TRANS_COUNT keeps the
    # remaining count of the aborted transfer (7 of 12 words left after 100 us).
    assert [board.read32(0x50000000 + off) for off in (0x0, 0x4, 0xC, 0x804, 0x8)] == [
        0,
        0,
        0,
        0,
        7,
    ]
    assert board.read32(0x50200000) == 0  # the claimed SM is disabled
    assert rp2.DMA().channel == 0  # the claim is gone


def test_every_call_that_touches_a_register_costs_cpu_time(board):
    dma = rp2.DMA()
    sm = rp2.StateMachine(0, paced_out, out_base=0)
    start = board.cycle
    dma.read = 0x20000040
    assert dma.read == 0x20000040
    dma.registers[0] = 0x20000000
    assert dma.registers[0] == 0x20000000
    assert board.cycle - start == 4 * ACCESS_CYCLES
    start = board.cycle
    dma.irq(lambda d: None)  # INTS0 W1C, INTE0 SET: two accesses
    sm.irq(lambda s: None)  # IRQ0_INTE read-modify-write: two accesses
    assert board.cycle - start == 2 * (ACCESS_CYCLES + BUS_CYCLES)
