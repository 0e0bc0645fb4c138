"""One PIO block (RP2040): registers (pio-and-rp2.md §3.2-3.3), FIFOs, IRQ flags, output
registers with the per-cycle pin-write priority, and the two system interrupt lines."""

from .errors import EmulatorError
from .pads import SYNC_STAGES
from .statemachine import DEP_FIFO, DEP_IRQ, M32, StateMachine

CFGINFO_RP2040 = 0x00200404  # IMEM_SIZE=32, SM_COUNT=4, FIFO_DEPTH=4

_NAMES = {
    0x000: "CTRL",
    0x004: "FSTAT",
    0x008: "FDEBUG",
    0x00C: "FLEVEL",
    0x030: "IRQ",
    0x034: "IRQ_FORCE",
    0x038: "INPUT_SYNC_BYPASS",
    0x03C: "DBG_PADOUT",
    0x040: "DBG_PADOE",
    0x044: "DBG_CFGINFO",
    0x128: "INTR",
    0x12C: "IRQ0_INTE",
    0x130: "IRQ0_INTF",
    0x134: "IRQ0_INTS",
    0x138: "IRQ1_INTE",
    0x13C: "IRQ1_INTF",
    0x140: "IRQ1_INTS",
}
_SM_REGS = ("CLKDIV", "EXECCTRL", "SHIFTCTRL", "ADDR", "INSTR", "PINCTRL")


def reg_name(off):
    if off in _NAMES:
        return _NAMES[off]
    if 0x010 <= off < 0x020:
        return "TXF%d" % ((off - 0x010) >> 2)
    if 0x020 <= off < 0x030:
        return "RXF%d" % ((off - 0x020) >> 2)
    if 0x048 <= off < 0x0C8:
        return "INSTR_MEM%d" % ((off - 0x048) >> 2)
    if 0x0C8 <= off < 0x128:
        n, r = divmod(off - 0x0C8, 0x18)
        return "SM%d_%s" % (n, _SM_REGS[r >> 2])
    return "offset 0x%03x" % off


class PIOBlock:
    def __init__(self, board, index):
        self.board = board
        self.index = index
        self.sm = [StateMachine(self, i) for i in range(4)]
        self.power_up(0)

    def power_up(self, now):
        self.mem = [0] * 32
        for sm in self.sm:
            sm.loop_starts = -1
        self.irq = 0
        self.irq_set = 0
        self.irq_clr = 0
        self.fdebug = 0
        self.bypass = 0
        self.pad_out = 0
        self.pad_oe = 0
        self.pending = []
        self.inte = [0, 0]
        self.intf = [0, 0]
        self.line = [0, 0]
        for sm in self.sm:
            sm.power_up()
            sm.div_base = now
            sm.t = now

    # -- services for the state machines -------------------------------------------------------

    def inputs(self, u):
        """The GPIO input vector an SM of this block samples at cycle u (Pads.pio_inputs;
        inline without bypassed pins: every jmp-pin test of a plan reads it)."""
        b = self.board
        if self.bypass:
            return b.pio_inputs(self.bypass, u)
        c = u - SYNC_STAGES - 1
        h = b._pad_hist
        i = len(h) - 1
        while i > 0 and h[i][0] > c:
            i -= 1
        return h[i][1] & b._ie

    def irq_set_pending(self, flag):
        self.irq_set |= 1 << flag
        self.board.commit_needed(self)

    def irq_clear_pending(self, flag):
        self.irq_clr |= 1 << flag
        self.board.commit_needed(self)

    def out_pending(self, sm, m, v, dirs):
        self.pending.append((sm * 2, m, v, dirs))
        self.board.commit_needed(self)

    def side_pending(self, sm, m, v, dirs):
        self.pending.append((sm * 2 + 1, m, v, dirs))
        self.board.commit_needed(self)

    def fifo_changed(self):
        self.board._fifo_dirty = True  # the DMA re-checks its DREQs (once per FIFO access)

    # -- end of a cycle ------------------------------------------------------------------------

    def commit_outputs(self, t, stepped):
        """Apply this cycle's pin writes: per SM OUT/SET first, then side-set; higher SM last.
        An SM whose loop plan rewrites side-set pins another SM touched this cycle is stepped
        for real first, so the hardware priority decides exactly as in single-step."""
        pend = self.pending
        if not pend:
            return False
        for sm in self.sm:
            if sm.side_mask and sm.plan is not None and sm.wake > t:
                for p in pend:
                    if p[0] >> 1 != sm.index and p[1] & sm.side_mask:
                        sm.interrupt(t)
                        if sm.wake == t:
                            sm.step(t)
                            stepped.append(sm)
                        break
        pend.sort(key=_first)
        out = self.pad_out
        oe = self.pad_oe
        for _, m, v, dirs in pend:
            if dirs:
                oe = (oe & ~m) | (v & m)
            else:
                out = (out & ~m) | (v & m)
        self.pending = []
        changed = out != self.pad_out or oe != self.pad_oe
        self.pad_out = out
        self.pad_oe = oe
        return changed

    def commit_irq(self, t):
        """IRQ flag changes of cycle t become visible to every SM at t + 1."""
        if not (self.irq_set or self.irq_clr):
            return False
        new = (self.irq & ~self.irq_clr) | self.irq_set
        self.irq_set = 0
        self.irq_clr = 0
        if new == self.irq:
            return False
        self.irq = new
        for sm in self.sm:
            if sm.deps & DEP_IRQ or sm.irq_waiting:
                sm.interrupt(t + 1)
        return True

    # -- interrupt lines -----------------------------------------------------------------------

    def intr(self):
        v = (self.irq & 15) << 8
        for sm in self.sm:
            if sm.rx:
                v |= 1 << sm.index
            if len(sm.tx) < sm.tx_cap:
                v |= 1 << (4 + sm.index)
        return v

    def ints(self, line):
        return (self.intr() | self.intf[line]) & self.inte[line]

    # -- bus -----------------------------------------------------------------------------------

    def alias_kind(self, off):
        if off in (0x008, 0x030):
            return "w1c"
        if 0x010 <= off < 0x030 or 0x048 <= off < 0x0C8:
            return "none"
        if 0x0D8 <= off < 0x128 and (off - 0x0D8) % 0x18 == 0:
            return "none"
        return "rw"

    def _sync_all(self, now):
        for sm in self.sm:
            sm.sync(now)

    def _interrupt_all(self, now):
        for sm in self.sm:
            sm.interrupt(now)

    def read(self, off, now):
        if off == 0x000:
            v = 0
            for sm in self.sm:
                if sm.enabled:
                    v |= 1 << sm.index
            return v
        if off == 0x004:
            v = 0
            for sm in self.sm:
                i = sm.index
                if len(sm.rx) >= sm.rx_cap:
                    v |= 1 << i
                if not sm.rx:
                    v |= 1 << (8 + i)
                if len(sm.tx) >= sm.tx_cap:
                    v |= 1 << (16 + i)
                if not sm.tx:
                    v |= 1 << (24 + i)
            return v
        if off == 0x008:
            return self.fdebug
        if off == 0x00C:
            v = 0
            for sm in self.sm:
                v |= (len(sm.tx) | (len(sm.rx) << 4)) << (8 * sm.index)
            return v
        if 0x010 <= off < 0x020:
            return 0  # TXF is write-only
        if 0x020 <= off < 0x030:
            sm = self.sm[(off - 0x020) >> 2]
            if not sm.rx:
                self.fdebug |= 1 << (8 + sm.index)  # RXUNDER; the data is undefined: 0 here
                return 0
            v = sm.rx.pop(0)
            self._fifo_touched(sm, now)
            return v
        if off == 0x030:
            return self.irq
        if off == 0x034:
            return 0
        if off == 0x038:
            return self.bypass
        if off == 0x03C:
            return self.pad_out
        if off == 0x040:
            return self.pad_oe
        if off == 0x044:
            return CFGINFO_RP2040
        if 0x048 <= off < 0x0C8:
            return 0  # instruction memory is write-only
        if 0x0C8 <= off < 0x128:
            n, r = divmod(off - 0x0C8, 0x18)
            sm = self.sm[n]
            if r == 0:
                return sm.clkdiv
            if r == 4:
                stalled = sm.latch >= 0 and sm.latch_forced
                return sm.execctrl | (0x80000000 if stalled else 0)
            if r == 8:
                return sm.shiftctrl
            sm.sync(now)
            if r == 12:
                return sm.pc
            if r == 16:
                return self.mem[sm.pc]
            return sm.pinctrl
        if off == 0x128:
            return self.intr()
        if 0x12C <= off <= 0x140:
            line, r = divmod(off - 0x12C, 12)
            if r == 0:
                return self.inte[line]
            if r == 4:
                return self.intf[line]
            return self.ints(line)
        raise EmulatorError("PIO%d register %s is not modelled" % (self.index, reg_name(off)))

    def write(self, off, v, now):
        v &= M32
        if off == 0x000:
            self._sync_all(now)
            for sm in self.sm:
                bit = 1 << sm.index
                if (v >> 4) & bit:
                    sm.restart()
                if (v >> 8) & bit:
                    sm.div_base = now
                sm.enabled = bool(v & bit)
            self._interrupt_all(now)
            self.board.active_changed()
        elif off == 0x008:
            self.fdebug &= ~v
            self._sync_all(now)
            self._interrupt_all(now)
        elif 0x010 <= off < 0x020:
            sm = self.sm[(off - 0x010) >> 2]
            if len(sm.tx) >= sm.tx_cap:
                self.fdebug |= 1 << (16 + sm.index)  # TXOVER: the write is dropped
                return
            sm.tx.append(v)
            self._fifo_touched(sm, now)
        elif 0x020 <= off < 0x030 or off in (0x004, 0x00C, 0x03C, 0x040, 0x044, 0x128):
            return  # read-only registers ignore writes
        elif off == 0x030 or off == 0x034:
            self._sync_all(now)
            if off == 0x030:
                self.irq &= ~v & 0xFF
            else:
                self.irq |= v & 0xFF
            self._interrupt_all(now)
        elif off == 0x038:
            self._sync_all(now)
            self.bypass = v
            self._interrupt_all(now)
        elif 0x048 <= off < 0x0C8:
            self._sync_all(now)
            self.mem[(off - 0x048) >> 2] = v & 0xFFFF
            for sm in self.sm:
                sm.loop_starts = -1
            self._interrupt_all(now)
        elif 0x0C8 <= off < 0x128:
            n, r = divmod(off - 0x0C8, 0x18)
            sm = self.sm[n]
            self._sync_all(now)
            if r == 0:
                sm.set_clkdiv(v, now)
            elif r == 4:
                sm.set_execctrl(v & 0x7FFFFFFF)
            elif r == 8:
                old = (len(sm.tx), len(sm.rx))
                sm.set_shiftctrl(v)
                if old != (len(sm.tx), len(sm.rx)):
                    self.fifo_changed()
            elif r == 16:
                sm.force(v, now)
            elif r == 20:
                sm.set_pinctrl(v)
            self._interrupt_all(now)
        elif 0x12C <= off <= 0x140:
            line, r = divmod(off - 0x12C, 12)
            if r == 0:
                self.inte[line] = v & 0xFFF
            elif r == 4:
                self.intf[line] = v & 0xFFF
        else:
            raise EmulatorError("PIO%d register %s is not modelled" % (self.index, reg_name(off)))

    def _fifo_touched(self, sm, now):
        self.fifo_changed()
        if sm.deps & DEP_FIFO or sm.plan is None:
            sm.interrupt(now)


def _first(p):
    return p[0]
