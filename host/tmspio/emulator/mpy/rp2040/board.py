"""The emulated RP2040 board: virtual sysclk, register bus, GPIO pads, PIO, DMA, watchdog.

Contract: docs/architecture.md §2; timing model and fast path: docs/emulator.md.
Cycle order inside one sysclk cycle t: scheduled callbacks and external drives at t, watchdog,
pin-visibility events, DMA (one transfer), every SM whose divider fires at t (SM0..SM7), then
commit: pin writes (pads change at t + 1), IRQ flags (visible at t + 1), interrupt lines.
CPU-side code (callbacks, the stand-ins) runs between cycles; its bus accesses act at
`board.cycle` before that cycle's hardware step.
"""

import heapq
from array import array

from .dma import DMA, RAM_BASE
from .errors import BoardReset, EmulatorError
from .pads import GPIO_MASK, IO_BANK0, NUM_GPIO, PADS_BANK0, Pads, _alias, _bit
from .pioblock import PIOBlock
from .statemachine import DEP_PINS, INF

__all__ = [
    "ACCESS_CYCLES",
    "BUS_CYCLES",
    "Board",
    "BoardReset",
    "EmulatorError",
    "NUM_GPIO",
    "current",
]

# CPU time the stand-ins charge (cpubus.py): a call making one register access (mem32,
# Pin.value) costs ACCESS_CYCLES, a modelling choice (1 us at 125 MHz), not a measurement of
# MicroPython's real cost (UNVERIFIED); each register access of a call takes BUS_CYCLES, so the
# writes of one call land in order, cycles apart (2 = a Cortex-M0+ LDR/STR; the C code between
# accesses is not counted: a lower bound [modelling choice]).
ACCESS_CYCLES = 125
BUS_CYCLES = 2
PIO_BASES = (0x50200000, 0x50300000)
DMA_BASE = 0x50000000

_current = None


def current():
    """The board the stand-ins act on (created with the defaults on first use)."""
    global _current
    if _current is None:
        _current = Board()
    return _current


class Board(Pads):
    def __init__(self, chip="rp2040", sysclk=125_000_000, single_step=False):
        if chip != "rp2040":
            raise EmulatorError(
                "chip %r is not modelled; allowed: 'rp2040' (RP2350 PIO v1, 3 blocks and "
                "48 GPIOs are not implemented)" % (chip,)
            )
        self.chip = chip
        self.sysclk = sysclk
        self.single_step = bool(single_step)
        self.cycle = 0
        self.reset_cause = None
        self.pio = [PIOBlock(self, 0), PIOBlock(self, 1)]
        self.dma = DMA(self)
        self._sms = self.pio[0].sm + self.pio[1].sm
        self._active = []  # the enabled SMs, SM0..SM7 order (active_changed)
        self._seq = 0
        self._schedule = []  # heap of (cycle, seq, callback)
        self._drives = []  # heap of (cycle, seq, pin, level or None)
        self._env = []  # heap of cycles at which a pad change becomes visible to the SMs
        self._ext_mask = 0
        self._ext_val = 0
        self._wires = []  # (src, dst)
        self._watch = {}  # handle -> (pin, callback, rising, falling, cpu)
        self._irq_watch = []  # (kind, block, line, callback)
        self._next_handle = 1
        self._pending_cb = []
        self._cb_active = False
        self._cb_count = 0  # callbacks run so far (run_to_callback)
        self._in_cycle = False
        self._commit = []  # blocks with pending pin/IRQ writes
        self._fifo_dirty = False
        self._wd_deadline = None
        self._wd_timeout = 0
        self._power_up_io()
        self.pads = 0
        self.pads = self._compute_pads()
        self._pad_hist = [(0, self.pads)]
        # per pin: the power-up level, then the cycles of every change in small array chunks
        # (levels alternate); small chunks keep MicroPython's heap from fragmenting
        self._trace0 = [(0, (self.pads >> p) & 1) for p in range(NUM_GPIO)]
        self._traces = [[array("q")] for _ in range(NUM_GPIO)]
        self._traced = GPIO_MASK

    def activate(self):
        global _current
        _current = self
        return self

    # -- public API: pins ------------------------------------------------------------------------

    def _check_pin(self, pin, what="pin"):
        if not isinstance(pin, int) or not 0 <= pin < NUM_GPIO:
            raise EmulatorError("%s %r: allowed 0..%d" % (what, pin, NUM_GPIO - 1))

    def level(self, pin):
        self._check_pin(pin)
        return (self.pads >> pin) & 1

    def trace(self, pin):
        self._check_pin(pin)
        if not (self._traced >> pin) & 1:
            raise EmulatorError("pin %d is not traced (see set_tracing())" % pin)
        start, level = self._trace0[pin]
        out = [(start, level)]
        for chunk in self._traces[pin]:
            for c in chunk:
                level ^= 1
                out.append((c, level))
        return out

    def set_tracing(self, pins=None):
        """Record edges only on `pins` (None: all). A long session on MicroPython's 2 MB heap
        should trace only what it reads. A newly traced pin starts at (now, level now)."""
        m = GPIO_MASK
        if pins is not None:
            m = 0
            for p in pins:
                self._check_pin(p)
                m |= 1 << p
        for p in range(NUM_GPIO):
            if (m >> p) & 1 and not (self._traced >> p) & 1:
                self._trace0[p] = (self.cycle, (self.pads >> p) & 1)
            if not (m >> p) & 1:
                self._traces[p] = [array("q")]
        self._traced = m

    def drive(self, pin, level, at=None):
        """External input on `pin` from cycle `at` (default now); level None releases it."""
        self._check_pin(pin)
        if level not in (0, 1, None):
            raise EmulatorError("drive level %r: allowed 0, 1 or None (release)" % (level,))
        if at is None or at == self.cycle:
            self._apply_drive(pin, level, self.cycle)
            self._after_cpu_access()
            return
        if at < self.cycle:
            raise EmulatorError("drive at cycle %d is in the past (now %d)" % (at, self.cycle))
        self._seq += 1
        heapq.heappush(self._drives, (at, self._seq, pin, level))

    def _apply_drive(self, pin, level, c):
        self._ext_mask = _bit(self._ext_mask, pin, level is not None)
        self._ext_val = _bit(self._ext_val, pin, level == 1)
        self._update_pads(c)

    def wire(self, src, dst):
        """A jumper from pad `src` to input pad `dst`: dst follows src in the same cycle."""
        self._check_pin(src, "wire source")
        self._check_pin(dst, "wire destination")
        self._wires.append((src, dst))
        self._apply_drive(dst, (self.pads >> src) & 1, self.cycle)
        self._after_cpu_access()

    def watch_edges(self, pin, callback, rising=True, falling=True, cpu=False):
        """callback(pin, cycle) at the cycle the pad changes. cpu=True hooks belong to the
        firmware (Pin.irq) and are dropped by a reset. Returns a handle for unwatch()."""
        self._check_pin(pin)
        h = self._next_handle
        self._next_handle += 1
        self._watch[h] = (pin, callback, rising, falling, cpu)
        return h

    def unwatch(self, handle):
        self._watch.pop(handle, None)

    def watch_pio_irq(self, block, callback, line=0):
        """callback(block, line) when PIO `block`'s IRQ`line` INTS goes from 0 to non-zero."""
        if block not in (0, 1) or line not in (0, 1):
            raise EmulatorError(
                "watch_pio_irq(%r, line=%r): allowed block 0..1, line 0..1" % (block, line)
            )
        self._irq_watch.append(("pio", block, line, callback))

    def watch_dma_irq(self, callback, line=0):
        """callback(line) when DMA INTS`line` goes from 0 to non-zero."""
        if line not in (0, 1):
            raise EmulatorError("watch_dma_irq(line=%r): allowed 0..1" % (line,))
        self._irq_watch.append(("dma", 0, line, callback))

    def schedule(self, at_cycle, callback):
        """callback(board) when the clock reaches at_cycle (before that cycle's hardware step)."""
        if at_cycle < self.cycle:
            raise EmulatorError(
                "schedule at cycle %d is in the past (now %d)" % (at_cycle, self.cycle)
            )
        self._seq += 1
        heapq.heappush(self._schedule, (at_cycle, self._seq, callback))

    def dma_address(self, obj):
        """Fake SRAM address of a Python buffer so DMA (and read32/write32) can reach it."""
        return self.dma.memory.address(obj)

    # -- watchdog / reset ----------------------------------------------------------------------

    def watchdog_start(self, timeout_cycles):
        if timeout_cycles <= 0:
            raise EmulatorError("watchdog timeout %r cycles: must be > 0" % (timeout_cycles,))
        self._wd_timeout = timeout_cycles
        self._wd_deadline = self.cycle + timeout_cycles

    def watchdog_feed(self):
        if self._wd_deadline is not None:
            self._wd_deadline = self.cycle + self._wd_timeout

    def reset(self, cause):
        """Hardware back to its power-up state at the current cycle (the clock keeps counting;
        traces, external drives, wires, test-side watchers and schedules survive)."""
        now = self.cycle
        self.reset_cause = cause
        for blk in self.pio:
            blk.power_up(now)
        self.dma.power_up()
        self._power_up_io()
        self._wd_deadline = None
        self._irq_watch = []
        for h in list(self._watch):
            if self._watch[h][4]:
                del self._watch[h]
        self._commit = []
        self._pending_cb = []
        self._active = []
        self._update_pads(now)
        self._pending_cb = []

    # -- hardware notifications ----------------------------------------------------------------

    def commit_needed(self, blk):
        if blk not in self._commit:
            self._commit.append(blk)

    def active_changed(self):
        self._fifo_dirty = True  # the DMA re-checks DREQs; the lines are re-evaluated
        self._active = [sm for sm in self._sms if sm.enabled]

    # -- bus -----------------------------------------------------------------------------------

    def _device(self, addr):
        hi = addr & 0xFFFFC000
        if hi == PIO_BASES[0]:
            return self.pio[0]
        if hi == PIO_BASES[1]:
            return self.pio[1]
        if hi == DMA_BASE:
            return self.dma
        if hi == IO_BANK0 or hi == PADS_BANK0:
            return self
        return None

    def read32(self, addr):
        addr &= 0xFFFFFFFF
        if addr & 3:
            raise EmulatorError("bus read at 0x%08x: address must be 4-aligned" % addr)
        if addr >> 28 == 0xD:
            return self._sio_read(addr)
        mem = self.dma.memory
        if RAM_BASE <= addr < mem.next:  # every registered buffer lies there
            r = mem.find(addr)
            if r is not None:
                return mem.read(r, addr, 4)
        dev = self._device(addr)
        if dev is None:
            raise EmulatorError("bus read at 0x%08x: no modelled register there" % addr)
        if dev is self:
            v = self._io_read(addr & 0xFFFFCFFF)
        else:
            v = dev.read(addr & 0xFFF, self.cycle)
        self._after_cpu_access()
        return v

    def write32(self, addr, value):
        addr &= 0xFFFFFFFF
        value &= 0xFFFFFFFF
        if addr & 3:
            raise EmulatorError("bus write at 0x%08x: address must be 4-aligned" % addr)
        if addr >> 28 == 0xD:
            self._sio_write(addr, value)
            self._after_cpu_access()
            return
        r = self.dma.memory.find(addr)
        if r is not None:
            self.dma.memory.write(r, addr, value, 4)
            return
        dev = self._device(addr)
        if dev is None:
            raise EmulatorError("bus write at 0x%08x: no modelled register there" % addr)
        alias = (addr >> 12) & 3
        off = addr & 0xFFF
        if dev is self:
            self._io_write(addr & 0xFFFFCFFF, value, alias)
        elif alias == 0:
            dev.write(off, value, self.cycle)
        else:
            kind = dev.alias_kind(off)
            if kind == "none":
                raise EmulatorError(
                    "atomic %s alias write at 0x%08x: not modelled for this register"
                    % (("XOR", "SET", "CLR")[alias - 1], addr)
                )
            if kind == "w1c":
                if alias != 3:
                    dev.write(off, value, self.cycle)
            else:
                cur = dev.read(off, self.cycle)
                dev.write(off, _alias(cur, value, alias), self.cycle)
        self._after_cpu_access()

    def _after_cpu_access(self):
        if self._fifo_dirty:
            self._fifo_dirty = False
            if self.dma.wake > self.cycle:
                self.dma.wake = self.cycle
        if not self._in_cycle:
            self._check_irq_lines()
            self._flush_callbacks()

    def dma_read(self, addr, size):
        mem = self.dma.memory
        r = mem.find(addr)
        if r is not None:
            return mem.read(r, addr, size)
        v = self.read32(addr & ~3)
        if size == 4:
            return v
        return (v >> (8 * (addr & 3))) & ((1 << (8 * size)) - 1)

    def dma_write(self, addr, value, size):
        mem = self.dma.memory
        r = mem.find(addr)
        if r is not None:
            mem.write(r, addr, value, size)
            return
        if size == 1:
            value = (value & 0xFF) * 0x01010101  # narrow writes to IO are replicated
        elif size == 2:
            value = (value & 0xFFFF) * 0x00010001
        self.write32(addr & ~3, value)

    # -- time ----------------------------------------------------------------------------------

    def cpu(self, cycles):
        """Model CPU time: the hardware runs while the firmware spends `cycles`. As in
        run_to_callback(), summarised SMs are not brought up to date at the end (that
        catch-up was most of the cost of a firmware register access): the bus syncs what it
        reads, plans never touch FIFOs or pins, and board.advance(0) brings every SM to the
        present for a test that inspects the model directly."""
        self.bus_gap(cycles)

    def bus_gap(self, cycles):
        """CPU time between the bus accesses of one stand-in call (cpubus.py)."""
        target = self.cycle + cycles
        while self.cycle < target:
            t = self._next_event()
            if t >= target:
                self.cycle = target
                return
            self._process(t)

    def advance(self, cycles):
        if cycles < 0:
            raise EmulatorError("advance(%r): cycles must be >= 0" % (cycles,))
        self._run_to(self.cycle + cycles)

    def run(self, cycles=None, until=None, max_cycles=None):
        """Advance `cycles`, or until `until(board)` is true (checked after every cycle in
        which something happened; returns False if cycles/max_cycles ran out first)."""
        if until is None:
            if cycles is None:
                raise EmulatorError("run() needs cycles or until")
            self.advance(cycles)
            return True
        limit = cycles if cycles is not None else max_cycles
        limit = INF if limit is None else self.cycle + limit
        while not until(self):
            if self.cycle >= limit:
                return False
            if self._idle():
                if limit < INF:
                    self._run_to(limit)
                    return False
                raise EmulatorError(
                    "run(until=...) can never finish: the board is idle at cycle %d" % self.cycle
                )
            t = self._next_event()
            self._run_to(min(t + 1, limit))
        return True

    def run_to_callback(self, limit):
        """Advance towards cycle `limit`; return early, right after the first cycle in which a
        callback ran (an edge or interrupt-line watcher, a scheduled callback), so that the
        caller can run what the callback queued (time.run_servicing: soft IRQ handlers, which
        only callbacks can queue). Unlike run() and advance(), lagging summarised SMs are not
        brought up to date at the end: whatever reads them goes through the bus, which syncs
        what it reads (the stand-ins); board.advance(0) brings every SM to the present."""
        seen = self._cb_count
        dma = self.dma
        while self.cycle < limit:
            # self._next_event(), inline: this loop runs once per hardware event
            t = self.cycle
            if not (self.single_step or self._commit):
                n = dma.wake
                for sm in self._active:
                    if sm.wake < n:
                        n = sm.wake
                if self._schedule and self._schedule[0][0] < n:
                    n = self._schedule[0][0]
                if self._drives and self._drives[0][0] < n:
                    n = self._drives[0][0]
                if self._env and self._env[0] < n:
                    n = self._env[0]
                if self._wd_deadline is not None and self._wd_deadline < n:
                    n = self._wd_deadline
                if n > t:
                    t = n
            if t >= limit:
                self.cycle = limit
                return
            self._process(t)
            if self._cb_count != seen:
                return

    def run_until_idle(self, max_cycles):
        """Advance until nothing can happen any more; returns the cycle."""
        limit = self.cycle + max_cycles
        while not self._idle():
            if self.cycle >= limit:
                raise EmulatorError("board still busy after %d cycles" % max_cycles)
            t = self._next_event()
            self._run_to(min(t + 1, limit))
        return self.cycle

    def _idle(self):
        if self._schedule or self._drives or self._env or self._commit:
            return False
        if self._wd_deadline is not None or self.dma.wake < INF:
            return False
        for sm in self._active:
            if not sm.quiet:
                return False
        return True

    def _next_event(self):
        t = self.cycle
        if self.single_step or self._commit:
            return t
        n = INF
        for sm in self._active:
            w = sm.wake
            if w < n:
                n = w
        if self.dma.wake < n:
            n = self.dma.wake
        if self._schedule and self._schedule[0][0] < n:
            n = self._schedule[0][0]
        if self._drives and self._drives[0][0] < n:
            n = self._drives[0][0]
        if self._env and self._env[0] < n:
            n = self._env[0]
        if self._wd_deadline is not None and self._wd_deadline < n:
            n = self._wd_deadline
        return n if n > t else t

    def _run_to(self, target):
        while self.cycle < target:
            t = self._next_event()
            if t >= target:
                self.cycle = target
                break
            self._process(t)
        now = self.cycle
        for sm in self._active:  # closed-form catch-up so board.pio[i].sm[j] reads the present
            if sm.plan is not None and sm.t < now:
                sm.sync(now)

    def _process(self, t):
        self.cycle = t
        while self._schedule and self._schedule[0][0] <= t:
            cb = heapq.heappop(self._schedule)[2]
            self._cb_count += 1
            cb(self)
            if self.cycle != t:
                return
        if self._drives and self._drives[0][0] <= t:
            while self._drives and self._drives[0][0] <= t:
                d = heapq.heappop(self._drives)
                self._ext_mask = _bit(self._ext_mask, d[2], d[3] is not None)
                self._ext_val = _bit(self._ext_val, d[2], d[3] == 1)
            self._update_pads(t)
            self._flush_callbacks()
            if self.cycle != t:
                return
        if self._wd_deadline is not None and t >= self._wd_deadline:
            self.reset("watchdog")
            raise BoardReset("watchdog", t)
        env = self._env
        if env and env[0] <= t:
            while env and env[0] <= t:
                heapq.heappop(env)
            replan = not self.single_step
            for sm in self._active:
                if sm.deps & DEP_PINS and sm.wake > t:
                    sm.interrupt(t, replan)
        self._in_cycle = True
        try:
            self._hardware_cycle(t)
        finally:
            self._in_cycle = False
        if self._irq_watch:
            self._check_irq_lines()
        if self._pending_cb:
            self._flush_callbacks()

    def _hardware_cycle(self, t):
        if self.dma.wake <= t:
            self.dma.run(t)
            if self._fifo_dirty:
                self._fifo_dirty = False
        stepped = []
        single = self.single_step
        for sm in self._active:
            if sm.wake <= t if not single else sm.next_tick(t) == t:
                sm.sync(t)
                sm.plan = None
                # sm.next_tick(t) == t; inline for an undivided clock
                if (t >= sm.div_base) if sm.div256 == 256 else sm.next_tick(t) == t:
                    sm.step(t)
                    stepped.append(sm)
        outputs = False
        commit = self._commit
        if commit:
            self._commit = []
            for blk in commit:
                if blk.commit_outputs(t, stepped):
                    outputs = True
        for sm in stepped:
            sm.make_plan()
            if single:
                sm.plan = None
                sm.wake = sm.next_tick(sm.t)
        for blk in commit:
            blk.commit_irq(t)
        if self._fifo_dirty:
            self._fifo_dirty = False
            if self.dma.wake > t + 1:
                self.dma.wake = t + 1
        self.cycle = t + 1
        if outputs:
            self._update_pads(t + 1)

    def _check_irq_lines(self):
        if not self._irq_watch:
            return
        for kind, block, line, cb in self._irq_watch:
            dev = self.pio[block] if kind == "pio" else self.dma
            on = 1 if dev.ints(line) else 0
            if on and not dev.line[line]:
                self._pending_cb.append((cb, (block, line) if kind == "pio" else (line,)))
        for dev in (self.pio[0], self.pio[1], self.dma):
            dev.line = [1 if dev.ints(0) else 0, 1 if dev.ints(1) else 0]

    def _flush_callbacks(self):
        """Deliver edge and interrupt-line callbacks. They do not nest: events raised while one
        runs (e.g. during its cpu() time) are delivered after it returns, in order, like
        interrupts of equal priority; the edge callbacks still get their edge's cycle."""
        if self._cb_active:
            return
        self._cb_active = True
        try:
            while self._pending_cb:
                cb, args = self._pending_cb.pop(0)
                self._cb_count += 1
                cb(*args)
        finally:
            self._cb_active = False
