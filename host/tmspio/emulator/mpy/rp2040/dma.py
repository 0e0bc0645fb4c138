"""RP2040 DMA model: 12 channels, trigger aliases, DREQ pacing from PIO FIFOs, rings, chaining,
IRQ lines, abort; and the fake RAM that maps Python buffers to bus addresses.

Timing model (a modelling choice, see docs/emulator.md): the DMA acts at the start of a cycle,
before the state machines. At most one transfer per cycle over all channels, channels served
round-robin. A transfer reads and writes in the same cycle. A DREQ is sampled from the FIFO
state left by the previous cycle, so a word an SM pulls in cycle t is replaced in cycle t + 1
(DMA_LATENCY = 1) and an SM can use it in that same cycle.
"""

from .errors import EmulatorError

INF = 1 << 62
M32 = 0xFFFFFFFF
N_CHANNELS = 12
DMA_LATENCY = 1
RAM_BASE = 0x20000000
TREQ_UNPACED = 0x3F

# channel register slots (offset >> 2): (register, is_trigger); 0 READ, 1 WRITE, 2 COUNT, 3 CTRL
_SLOTS = (
    (0, 0), (1, 0), (2, 0), (3, 1),
    (3, 0), (0, 0), (1, 0), (2, 1),
    (3, 0), (2, 0), (0, 0), (1, 1),
    (3, 0), (1, 0), (2, 0), (0, 1),
)  # fmt: skip
_REG_NAMES = ("READ_ADDR", "WRITE_ADDR", "TRANS_COUNT", "CTRL")


class Channel:
    def __init__(self, n):
        self.n = n
        self.read = 0
        self.write = 0
        self.reload = 0
        self.count = 0
        self.ctrl = 0
        self.busy = False


class Memory:
    """Python buffers (array, bytearray, memoryview) registered at fake SRAM addresses."""

    def __init__(self):
        self.regions = []  # [base, end, obj, itemsize]
        self.next = RAM_BASE
        self.last = None

    def address(self, obj):
        for r in self.regions:
            if r[2] is obj:
                return r[0]
        n = len(obj)
        if n == 0:
            raise EmulatorError("dma_address: the buffer is empty")
        nbytes = len(bytes(memoryview(obj)))
        base = self.next
        self.next += (nbytes + 15) & ~15
        self.regions.append([base, base + nbytes, obj, nbytes // n])
        return base

    def find(self, addr):
        r = self.last
        if r is not None and r[0] <= addr < r[1]:
            return r
        for r in self.regions:
            if r[0] <= addr < r[1]:
                self.last = r
                return r
        return None

    def read(self, r, addr, size):
        off = addr - r[0]
        obj = r[2]
        isz = r[3]
        if addr + size > r[1]:
            raise EmulatorError(
                "memory read of %d bytes at 0x%08x runs past the buffer" % (size, addr)
            )
        if isz == size and off % size == 0:
            return obj[off // size] & ((1 << (8 * size)) - 1)
        if isz == 1:
            v = 0
            for i in range(size):
                v |= (obj[off + i] & 0xFF) << (8 * i)
            return v
        raise EmulatorError(
            "a %d-byte access at offset %d of a buffer of %d-byte items is not modelled"
            % (size, off, isz)
        )

    def write(self, r, addr, value, size):
        off = addr - r[0]
        obj = r[2]
        isz = r[3]
        if addr + size > r[1]:
            raise EmulatorError(
                "memory write of %d bytes at 0x%08x runs past the buffer" % (size, addr)
            )
        value &= (1 << (8 * size)) - 1
        if isz == size and off % size == 0:
            try:
                obj[off // size] = value
            except OverflowError:  # signed array on CPython: store the same bit pattern
                obj[off // size] = value - (1 << (8 * size))
            return
        if isz == 1:
            for i in range(size):
                obj[off + i] = (value >> (8 * i)) & 0xFF
            return
        raise EmulatorError(
            "a %d-byte access at offset %d of a buffer of %d-byte items is not modelled"
            % (size, off, isz)
        )


class DMA:
    def __init__(self, board):
        self.board = board
        self.memory = Memory()
        self.power_up()

    def power_up(self):
        self.ch = [Channel(n) for n in range(N_CHANNELS)]
        self.intr = 0
        self.inte = [0, 0]
        self.intf = [0, 0]
        self.line = [0, 0]
        self.rr = 0
        self.wake = INF

    # -- transfers -----------------------------------------------------------------------------

    def run(self, t):
        """Cycle t: at most one transfer; then decide when the DMA can act next. A channel is
        ready when busy, enabled and its DREQ asserted (unpaced, an RX FIFO with data, a TX
        FIFO with room): that test is written out in both loops, which run once per DMA
        cycle (a method call each time cost more than the test)."""
        chans = self.ch
        pio = self.board.pio
        n = self.rr
        for _ in range(N_CHANNELS):
            c = chans[n]
            n = n + 1 if n + 1 < N_CHANNELS else 0
            if c.busy and c.ctrl & 1:  # ready: see above
                treq = (c.ctrl >> 15) & 0x3F
                if treq != TREQ_UNPACED:
                    sm = pio[treq >> 3].sm[treq & 3]
                    if not (len(sm.rx) > 0 if treq & 4 else len(sm.tx) < sm.tx_cap):
                        continue
                self.rr = n
                self._transfer(c)
                break
        self.wake = INF
        for c in chans:
            if c.busy and c.ctrl & 1:
                treq = (c.ctrl >> 15) & 0x3F
                if treq != TREQ_UNPACED:
                    sm = pio[treq >> 3].sm[treq & 3]
                    if not (len(sm.rx) > 0 if treq & 4 else len(sm.tx) < sm.tx_cap):
                        continue
                self.wake = t + 1
                break

    def _transfer(self, c):
        ctrl = c.ctrl
        size = 1 << ((ctrl >> 2) & 3)
        b = self.board
        v = b.dma_read(c.read, size)
        if ctrl & (1 << 22):  # BSWAP
            if size == 4:
                v = ((v & 0xFF) << 24) | ((v & 0xFF00) << 8) | ((v >> 8) & 0xFF00) | (v >> 24)
            elif size == 2:
                v = ((v & 0xFF) << 8) | (v >> 8)
        b.dma_write(c.write, v, size)
        ring = (ctrl >> 6) & 15
        ring_write = (ctrl >> 10) & 1
        if ctrl & 0x10:
            c.read = self._inc(c.read, size, ring if not ring_write else 0)
        if ctrl & 0x20:
            c.write = self._inc(c.write, size, ring if ring_write else 0)
        c.count -= 1
        if c.count == 0:
            c.busy = False
            if not ctrl & (1 << 21):
                self.intr |= 1 << c.n
            chain = (ctrl >> 11) & 15
            if chain != c.n:
                self._start(self.ch[chain])

    def _inc(self, addr, size, ring):
        if ring:
            m = (1 << ring) - 1
            return (addr & ~m & M32) | ((addr + size) & m)
        return (addr + size) & M32

    def _start(self, c):
        # "the channel will start if it is currently enabled and not already busy" (RP2040
        # MULTI_CHAN_TRIGGER description; the same for trigger aliases and CHAIN_TO)
        if not c.ctrl & 1 or c.busy:
            return
        ctrl = c.ctrl
        treq = (ctrl >> 15) & 0x3F
        if treq != TREQ_UNPACED and treq > 15:
            raise EmulatorError(
                "DMA channel %d TREQ_SEL=%d is not modelled; allowed: 0..15 (PIO0/PIO1 FIFOs) "
                "or 63 (unpaced)" % (c.n, treq)
            )
        c.count = c.reload
        c.busy = c.count > 0  # a trigger with TRANS_COUNT 0 does nothing [unverified]
        if c.busy:
            self.wake = self.board.cycle

    # -- interrupt lines -----------------------------------------------------------------------

    def ints(self, line):
        return (self.intr | self.intf[line]) & self.inte[line]

    # -- bus -----------------------------------------------------------------------------------

    def alias_kind(self, off):
        if off in (0x400, 0x40C, 0x41C):
            return "w1c"
        return "rw"

    def read(self, off, now):
        if off < 0x40 * N_CHANNELS:
            c = self.ch[off >> 6]
            reg = _SLOTS[(off & 0x3F) >> 2][0]
            if reg == 0:
                return c.read
            if reg == 1:
                return c.write
            if reg == 2:
                return c.count
            return c.ctrl | ((1 << 24) if c.busy else 0)
        if off == 0x400:
            return self.intr
        if off in (0x404, 0x414):
            return self.inte[(off >> 4) & 1]
        if off in (0x408, 0x418):
            return self.intf[(off >> 4) & 1]
        if off in (0x40C, 0x41C):
            return self.ints((off >> 4) & 1)
        if off in (0x430, 0x444):
            return 0  # MULTI_CHAN_TRIGGER, CHAN_ABORT: strobes; an abort completes at once
        if off == 0x448:
            return N_CHANNELS
        if 0x800 <= off < 0x800 + 0x40 * N_CHANNELS and off & 0x3F == 4:
            return self.ch[(off - 0x800) >> 6].reload  # CHx_DBG_TCR
        raise EmulatorError("DMA register at offset 0x%03x is not modelled" % off)

    def write(self, off, v, now):
        v &= M32
        if off < 0x40 * N_CHANNELS:
            c = self.ch[off >> 6]
            reg, trig = _SLOTS[(off & 0x3F) >> 2]
            if reg == 0:
                c.read = v
            elif reg == 1:
                c.write = v
            elif reg == 2:
                c.reload = v
            else:
                if v & (1 << 23):
                    raise EmulatorError("DMA CTRL.SNIFF_EN is not modelled (channel %d)" % c.n)
                if v & 2:
                    raise EmulatorError(
                        "DMA CTRL.HIGH_PRIORITY is not modelled (channel %d)" % c.n
                    )
                if (v >> 2) & 3 == 3:
                    raise EmulatorError("DMA CTRL.DATA_SIZE=3 is reserved (channel %d)" % c.n)
                c.ctrl = v & 0x007FFFFF  # BUSY and error bits are read-only
            if trig and v:  # a zero written to a trigger alias is a null trigger
                self._start(c)
            self.wake = now
        elif off == 0x400 or off == 0x40C or off == 0x41C:
            self.intr &= ~v
        elif off in (0x404, 0x414):
            self.inte[(off >> 4) & 1] = v & 0xFFFF
        elif off in (0x408, 0x418):
            self.intf[(off >> 4) & 1] = v & 0xFFFF
        elif off == 0x430:
            for c in self.ch:
                if v & (1 << c.n):
                    self._start(c)
        elif off == 0x444:
            for c in self.ch:
                if v & (1 << c.n):
                    c.busy = False
        else:
            raise EmulatorError("DMA register at offset 0x%03x is not modelled" % off)
