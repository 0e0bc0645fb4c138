"""Cycle-exact model of one PIO state machine (RP2040 PIO version 0): `step(now)` executes one
SM tick exactly as the hardware does (pio-and-rp2.md §1-2, §2.13). The fast path that skips the
ticks in between lives in fastpath.py and never changes this function."""

from .errors import EmulatorError
from .fastpath import DEP_FIFO, DEP_IRQ, DEP_PINS, INF, M32, FastPath, mask, rev32, rotl, rotr

__all__ = ["DEP_FIFO", "DEP_IRQ", "DEP_PINS", "INF", "M32", "StateMachine"]


class StateMachine(FastPath):
    def __init__(self, block, index):
        self.block = block
        self.index = index
        self.power_up()

    # -- power-up / configuration --------------------------------------------------------------

    def power_up(self):
        self.pc = 0
        self.x = 0
        self.y = 0
        self.osr = 0
        self.restart()
        self.tx = []
        self.rx = []
        self.enabled = False
        self.div_base = 0
        self.t = 0
        self.wake = INF
        self.plan = None
        self.deps = 0
        self.side_mask = 0
        self.persist = False
        self.quiet = True
        self.set_clkdiv(0x00010000, 0)
        self.set_execctrl(0x0001F000)
        self.set_shiftctrl(0x000C0000)
        self.set_pinctrl(0x14000000)

    def restart(self):
        """CTRL.SM_RESTART: clears shift counters, ISR, delay, IRQ wait, latched instructions."""
        self.isr = 0
        self.icount = 0
        self.ocount = 32
        self.delay = 0
        self.latch = -1
        self.latch_forced = False
        self.stalled = False
        self.irq_waiting = False

    def set_clkdiv(self, v, now):
        v &= 0xFFFFFF00
        whole = v >> 16
        frac = (v >> 8) & 0xFF
        if whole == 0:
            if frac:
                raise EmulatorError(
                    "PIO%d SM%d CLKDIV INT=0 with FRAC=%d: INT=0 means 65536 and needs FRAC=0"
                    % (self.block.index, self.index, frac)
                )
            whole = 65536
        self.clkdiv = v
        self.div256 = whole * 256 + frac
        self.div_base = now  # a divider change restarts the phase (see docs/emulator.md)

    def set_execctrl(self, v):
        if v & (1 << 17):
            raise EmulatorError("PIO EXECCTRL.OUT_STICKY is not modelled")
        if v & (1 << 18):
            raise EmulatorError("PIO EXECCTRL.INLINE_OUT_EN is not modelled")
        if v & 0x60:
            raise EmulatorError("PIO EXECCTRL bits 6:5 are reserved on RP2040 (value 0x%08x)" % v)
        self.execctrl = v & 0x7FFFFFFF
        self.side_en = (v >> 30) & 1
        self.side_pindir = (v >> 29) & 1
        self.jmp_pin = (v >> 24) & 31
        self.wrap_top = (v >> 12) & 31
        self.wrap_bottom = (v >> 7) & 31
        self.loop_starts = -1  # fastpath: recomputed for the new wrap
        self.status_sel = (v >> 4) & 1
        self.status_n = v & 15
        self._decode_sideset()

    def set_shiftctrl(self, v):
        if v & 0xFFFF:
            raise EmulatorError(
                "PIO SHIFTCTRL bits 15:0 are reserved on RP2040 (value 0x%08x)" % v
            )
        old = getattr(self, "shiftctrl", None)
        self.shiftctrl = v
        self.fjoin_rx = (v >> 31) & 1
        self.fjoin_tx = (v >> 30) & 1
        self.pull_thresh = ((v >> 25) & 31) or 32
        self.push_thresh = ((v >> 20) & 31) or 32
        self.out_right = (v >> 19) & 1
        self.in_right = (v >> 18) & 1
        self.autopull = (v >> 17) & 1
        self.autopush = (v >> 16) & 1
        self.tx_cap = 8 if self.fjoin_tx else (0 if self.fjoin_rx else 4)
        self.rx_cap = 8 if self.fjoin_rx else (0 if self.fjoin_tx else 4)
        if old is not None and (old ^ v) & 0xC0000000:
            self.tx = []
            self.rx = []

    def set_pinctrl(self, v):
        ssc = v >> 29
        setc = (v >> 26) & 7
        outc = (v >> 20) & 63
        if ssc > 5:
            raise EmulatorError("PIO PINCTRL.SIDESET_COUNT=%d: allowed 0..5" % ssc)
        if setc > 5:
            raise EmulatorError("PIO PINCTRL.SET_COUNT=%d: allowed 0..5" % setc)
        if outc > 32:
            raise EmulatorError("PIO PINCTRL.OUT_COUNT=%d: allowed 0..32" % outc)
        self.pinctrl = v
        self.ss_count = ssc
        self.set_count = setc
        self.out_count = outc
        self.in_base = (v >> 15) & 31
        self.ss_base = (v >> 10) & 31
        self.set_base = (v >> 5) & 31
        self.out_base = v & 31
        self._decode_sideset()

    def _decode_sideset(self):
        self.loop_starts = -1  # fastpath: the side-set and delay fields change the dry run
        ssc = getattr(self, "ss_count", 0)
        self.delay_mask = mask(5 - ssc)
        self.ss_shift = 13 - ssc
        bits = ssc - 1 if (self.side_en and ssc) else ssc
        self.ss_bits = bits
        self.ss_mask = mask(bits)

    def _advance(self, pc):
        return self.wrap_bottom if pc == self.wrap_top else (pc + 1) & 31

    # -- execution -----------------------------------------------------------------------------

    def step(self, now):
        """One SM tick at cycle `now` (the SM is enabled and its divider fires at `now`)."""
        self.t = now + 1
        self.persist = False
        if self.delay:
            self.delay -= 1
            self._bg_autopull()
            return
        if self.latch >= 0:
            self.execute(self.latch, 2 if self.latch_forced else 1, now)
        else:
            self.execute(self.block.mem[self.pc], 0, now)

    def force(self, ins, now):
        """A write to SMx_INSTR: execute now, ignoring divider, enable and delay."""
        self.stalled = False
        self.latch = -1
        self.execute(ins & 0xFFFF, 2, now)

    def execute(self, ins, kind, now):
        """kind 0: fetched from memory, 1: EXEC'd by OUT/MOV EXEC, 2: forced via SMx_INSTR."""
        blk = self.block
        if not self.stalled and self.ss_count and (not self.side_en or ins & 0x1000):
            n = self.ss_bits
            if n:
                data = (ins >> self.ss_shift) & self.ss_mask
                m = rotl(mask(n), self.ss_base)
                v = rotl(data, self.ss_base)
                blk.side_pending(self.index, m, v, self.side_pindir)
        op = ins >> 13
        jumped = False
        exec_next = -1
        stall = 0  # 1: persistent stall, 2: stall that completes on a later tick anyway
        is_out = False
        if op == 0:  # JMP
            cond = (ins >> 5) & 7
            if cond == 0:
                taken = True
            elif cond == 1:
                taken = self.x == 0
            elif cond == 2:
                taken = self.x != 0
                self.x = (self.x - 1) & M32
            elif cond == 3:
                taken = self.y == 0
            elif cond == 4:
                taken = self.y != 0
                self.y = (self.y - 1) & M32
            elif cond == 5:
                taken = self.x != self.y
            elif cond == 6:
                taken = (blk.inputs(now) >> self.jmp_pin) & 1
            else:
                taken = self.ocount < self.pull_thresh
            if taken:
                self.pc = ins & 31
                jumped = True
        elif op == 1:  # WAIT
            pol = (ins >> 7) & 1
            src = (ins >> 5) & 3
            idx = ins & 31
            if src == 0:
                level = (blk.inputs(now) >> idx) & 1
                self.deps = DEP_PINS
            elif src == 1:
                level = (blk.inputs(now) >> ((idx + self.in_base) & 31)) & 1
                self.deps = DEP_PINS
            elif src == 2:
                flag = self._irq_index(idx)
                level = (blk.irq >> flag) & 1
                self.deps = DEP_IRQ
                if level == pol and pol:
                    blk.irq_clear_pending(flag)
            else:
                raise EmulatorError(
                    "WAIT source 3 (0x%04x) is reserved on RP2040 (JMPPIN is RP2350 only)" % ins
                )
            if level != pol:
                stall = 1
        elif op == 2:  # IN
            n = (ins & 31) or 32
            data = self._source((ins >> 5) & 7, ins, now) & mask(n)
            if self.in_right:
                isr = ((self.isr >> n) | (data << (32 - n))) & M32
            else:
                isr = ((self.isr << n) | data) & M32
            cnt = self.icount + n
            if cnt > 32:
                cnt = 32
            if self.autopush and cnt >= self.push_thresh:
                if len(self.rx) >= self.rx_cap:
                    blk.fdebug |= 1 << self.index  # RXSTALL
                    self.deps = DEP_FIFO
                    stall = 1
                else:
                    self._push(isr)
                    self.isr = 0
                    self.icount = 0
            else:
                self.isr = isr
                self.icount = cnt
        elif op == 3:  # OUT
            is_out = True
            dest = (ins >> 5) & 7
            n = (ins & 31) or 32
            if self.autopull and self.ocount >= self.pull_thresh:
                if self.tx:
                    self.osr = self._pop()
                    self.ocount = 0
                    stall = 2
                else:
                    blk.fdebug |= 1 << (24 + self.index)  # TXSTALL
                    self.deps = DEP_FIFO
                    stall = 1
            else:
                if self.out_right:
                    data = self.osr & mask(n)
                    self.osr = (self.osr >> n) if n < 32 else 0
                else:
                    data = (self.osr >> (32 - n)) & mask(n)
                    self.osr = (self.osr << n) & M32
                cnt = self.ocount + n
                self.ocount = cnt if cnt < 32 else 32
                if dest == 0:
                    self._write_out(data, False)
                elif dest == 1:
                    self.x = data
                elif dest == 2:
                    self.y = data
                elif dest == 4:
                    self._write_out(data, True)
                elif dest == 5:
                    self.pc = data & 31
                    jumped = True
                elif dest == 6:
                    self.isr = data
                    self.icount = n
                elif dest == 7:
                    exec_next = data & 0xFFFF
                if self.autopull and self.ocount >= self.pull_thresh and self.tx:
                    self.osr = self._pop()
                    self.ocount = 0
        elif op == 4:  # PUSH / PULL
            if ins & 0x1F:
                raise EmulatorError(
                    "PUSH/PULL encoding 0x%04x is reserved on RP2040 (bits 4:0 must be 0)" % ins
                )
            ifx = (ins >> 6) & 1
            block = (ins >> 5) & 1
            if ins & 0x80:  # PULL
                if ifx and self.ocount < self.pull_thresh:
                    pass
                elif self.autopull and self.ocount < self.pull_thresh:
                    pass  # with autopull a PULL of a non-empty OSR is a no-op (a fence)
                elif self.tx:
                    self.osr = self._pop()
                    self.ocount = 0
                elif block:
                    blk.fdebug |= 1 << (24 + self.index)  # TXSTALL
                    self.deps = DEP_FIFO
                    stall = 1
                else:
                    self.osr = self.x
                    self.ocount = 0
            else:  # PUSH
                if ifx and self.icount < self.push_thresh:
                    pass
                elif len(self.rx) < self.rx_cap:
                    self._push(self.isr)
                    self.isr = 0
                    self.icount = 0
                elif block:
                    blk.fdebug |= 1 << self.index  # RXSTALL
                    self.deps = DEP_FIFO
                    stall = 1
                else:
                    blk.fdebug |= 1 << self.index
                    self.isr = 0
                    self.icount = 0
        elif op == 5:  # MOV
            dest = (ins >> 5) & 7
            mop = (ins >> 3) & 3
            data = self._source(ins & 7, ins, now)
            if mop == 1:
                data = data ^ M32
            elif mop == 2:
                data = rev32(data)
            elif mop == 3:
                raise EmulatorError("MOV operation 3 (0x%04x) is reserved" % ins)
            if dest == 0:
                self._write_out(data, False)
            elif dest == 1:
                self.x = data
            elif dest == 2:
                self.y = data
            elif dest == 3:
                raise EmulatorError(
                    "MOV destination 3 (0x%04x) is reserved on RP2040 (PINDIRS is RP2350 only)"
                    % ins
                )
            elif dest == 4:
                exec_next = data & 0xFFFF
            elif dest == 5:
                self.pc = data & 31
                jumped = True
            elif dest == 6:
                self.isr = data
                self.icount = 0
            else:
                self.osr = data
                self.ocount = 0
        elif op == 6:  # IRQ
            if ins & 0x80:
                raise EmulatorError("IRQ encoding 0x%04x is reserved (bit 7 set)" % ins)
            flag = self._irq_index(ins & 31)
            if ins & 0x40:
                blk.irq_clear_pending(flag)
            elif ins & 0x20:
                if not self.irq_waiting:
                    blk.irq_set_pending(flag)
                    self.irq_waiting = True
                    stall = 2
                elif (blk.irq >> flag) & 1:
                    self.deps = DEP_IRQ
                    stall = 1
                else:
                    self.irq_waiting = False
            else:
                blk.irq_set_pending(flag)
        else:  # SET
            dest = (ins >> 5) & 7
            data = ins & 31
            if dest == 0 or dest == 4:
                m = rotl(mask(self.set_count), self.set_base)
                blk.out_pending(self.index, m, rotl(data, self.set_base), dest == 4)
            elif dest == 1:
                self.x = data
            elif dest == 2:
                self.y = data
            else:
                raise EmulatorError("SET destination %d (0x%04x) is reserved" % (dest, ins))
        if stall:
            self.stalled = True
            self.persist = stall == 1
            if kind == 2:
                self.latch = ins
                self.latch_forced = True
        else:
            self.stalled = False
            if kind == 0:
                if not jumped:
                    self.pc = self._advance(self.pc)
            elif self.latch >= 0:
                self.latch = -1
                self.latch_forced = False
            if exec_next >= 0:
                self.latch = exec_next
                self.latch_forced = False
            elif kind != 2:
                self.delay = (ins >> 8) & self.delay_mask
        if not is_out:
            self._bg_autopull()

    def _source(self, src, ins, now):
        """IN and MOV sources (same encoding); STATUS (5) exists for MOV only."""
        if src == 0:
            return rotr(self.block.inputs(now), self.in_base)
        if src == 1:
            return self.x
        if src == 2:
            return self.y
        if src == 3:
            return 0
        if src == 6:
            return self.isr
        if src == 7:
            return self.osr
        if src == 5 and ins >> 13 == 5:
            level = len(self.rx) if self.status_sel else len(self.tx)
            return M32 if level < self.status_n else 0
        raise EmulatorError(
            "%s source %d (0x%04x) is reserved" % ("MOV" if ins >> 13 == 5 else "IN", src, ins)
        )

    def _bg_autopull(self):
        if self.autopull and self.ocount >= self.pull_thresh and self.tx:
            self.osr = self._pop()
            self.ocount = 0

    def _irq_index(self, idx):
        if idx & 8:
            raise EmulatorError(
                "IRQ index 0x%02x: bit 3 is reserved on RP2040 (PREV/NEXT are RP2350 only)" % idx
            )
        if idx & 0x10:
            return (idx & 4) | ((idx + self.index) & 3)
        return idx & 7

    def _write_out(self, data, dirs):
        m = rotl(mask(self.out_count), self.out_base)
        self.block.out_pending(self.index, m, rotl(data, self.out_base), dirs)

    def _pop(self):
        v = self.tx.pop(0)
        self.block.fifo_changed()
        return v

    def _push(self, v):
        self.rx.append(v)
        self.block.fifo_changed()

    # -- inspection ----------------------------------------------------------------------------

    def state(self):
        """Architectural state as a dict (used by tests to compare fast and single-step runs)."""
        return {
            "pc": self.pc,
            "x": self.x,
            "y": self.y,
            "isr": self.isr,
            "icount": self.icount,
            "osr": self.osr,
            "ocount": self.ocount,
            "delay": self.delay,
            "latch": self.latch,
            "stalled": self.stalled,
            "irq_waiting": self.irq_waiting,
            "tx": list(self.tx),
            "rx": list(self.rx),
            "enabled": self.enabled,
        }
