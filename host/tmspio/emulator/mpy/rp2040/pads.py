"""GPIO pads of the emulated RP2040 (mixin of board.Board): IO_BANK0 function select and
overrides, PADS_BANK0 pulls/input enable, SIO, external drives and wires, the pad history the
PIO input synchronisers sample, and the edge traces."""

import heapq
from array import array

from .errors import EmulatorError

NUM_GPIO = 30
GPIO_MASK = (1 << NUM_GPIO) - 1
SYNC_STAGES = 2  # input synchroniser flip-flops (bypassable per pin)
IO_BANK0 = 0x40014000
PADS_BANK0 = 0x4001C000
SIO_BASE = 0xD0000000
FUNC_SIO = 5
FUNC_PIO0 = 6
FUNC_PIO1 = 7
FUNC_NULL = 31
PAD_RESET = 0x56  # IE, DRIVE 4 mA, pull-down, Schmitt
TRACE_CHUNK = 256


def _alias(cur, v, alias):
    if alias == 1:
        return cur ^ v
    if alias == 2:
        return cur | v
    if alias == 3:
        return cur & ~v
    return v


def _sio_op(cur, v, op):
    if op == 0:
        return v
    if op == 4:
        return cur | v
    if op == 8:
        return cur & ~v
    return cur ^ v


def _override(v, over):
    """IO_BANK0 OUTOVER/OEOVER on one bit: 0 = peripheral, 1 = inverted, 2 = low, 3 = high."""
    if over < 2:
        return v ^ over
    return over - 2


def _bit(mask, pin, on):
    return (mask | (1 << pin)) if on else (mask & ~(1 << pin))


class Pads:
    def _power_up_io(self):
        self._gpio_ctrl = [FUNC_NULL] * NUM_GPIO
        self._pads_reg = [PAD_RESET] * NUM_GPIO
        self._pads_vsel = 0
        self._sio_out = 0
        self._sio_oe = 0
        self._decode_io()

    def _decode_io(self):
        fs = [0, 0, 0]
        ov = [0, 0, 0, 0]
        oe = [0, 0, 0, 0]
        pu = pd = ie = od = 0
        for p in range(NUM_GPIO):
            c = self._gpio_ctrl[p]
            f = c & 31
            if f == FUNC_SIO:
                fs[0] |= 1 << p
            elif f == FUNC_PIO0:
                fs[1] |= 1 << p
            elif f == FUNC_PIO1:
                fs[2] |= 1 << p
            ov[(c >> 8) & 3] |= 1 << p
            oe[(c >> 12) & 3] |= 1 << p
            r = self._pads_reg[p]
            pu |= ((r >> 3) & 1) << p
            pd |= ((r >> 2) & 1) << p
            ie |= ((r >> 6) & 1) << p
            od |= ((r >> 7) & 1) << p
        self._fs = fs
        self._ov = ov
        self._oev = oe
        self._pu = pu
        self._pd = pd
        self._ie = ie
        self._od = od

    def _compute_pads(self):
        fs = self._fs
        p0 = self.pio[0]
        p1 = self.pio[1]
        out = (self._sio_out & fs[0]) | (p0.pad_out & fs[1]) | (p1.pad_out & fs[2])
        oe = (self._sio_oe & fs[0]) | (p0.pad_oe & fs[1]) | (p1.pad_oe & fs[2])
        ov = self._ov
        out = (out & ov[0]) | (~out & ov[1]) | ov[3]
        e = self._oev
        oe = ((oe & e[0]) | (~oe & e[1]) | e[3]) & ~self._od & GPIO_MASK
        und = ~oe & GPIO_MASK
        ext = self._ext_mask & und
        # pull-up and pull-down together act as a bus keeper: the pad keeps its last level
        pull = (self._pu & ~self._pd) | (self._pu & self._pd & self.pads)
        return (out & oe) | (self._ext_val & ext) | (pull & und & ~ext)

    def _update_pads(self, c):
        for _ in range(8):
            new = self._compute_pads()
            old = self.pads
            if new == old:
                return
            self.pads = new
            self._pad_hist.append((c, new))
            if len(self._pad_hist) > 64:
                self._prune_hist(c)
            changed = new ^ old
            heapq.heappush(self._env, c + SYNC_STAGES + 1)
            if self.pio[0].bypass or self.pio[1].bypass:
                heapq.heappush(self._env, c + 1)
            p = 0
            while changed >> p:
                if (changed >> p) & 1:
                    level = (new >> p) & 1
                    if (self._traced >> p) & 1:
                        chunks = self._traces[p]
                        if len(chunks[-1]) >= TRACE_CHUNK:
                            chunks.append(array("q"))
                        chunks[-1].append(c)
                    for h in self._watch:
                        w = self._watch[h]
                        if w[0] == p and (w[2] if level else w[3]):
                            self._pending_cb.append((w[1], (p, c)))
                p += 1
            rewired = False
            for src, dst in self._wires:
                if (changed >> src) & 1:
                    self._ext_mask |= 1 << dst
                    self._ext_val = _bit(self._ext_val, dst, (new >> src) & 1)
                    rewired = True
            if not rewired:
                return
        raise EmulatorError("wires form a loop that never settles")

    def _prune_hist(self, c):
        h = self._pad_hist
        i = len(h) - 1
        while i > 0 and h[i][0] >= c - 8:
            i -= 1
        self._pad_hist = h[i:]

    def _pad_at(self, c):
        h = self._pad_hist
        i = len(h) - 1
        while i > 0 and h[i][0] > c:
            i -= 1
        return h[i][1]

    def pio_inputs(self, bypass, u):
        """The 32-bit GPIO input vector a PIO SM samples at cycle u (§1.10 model: pad(u - 3)
        through the synchroniser, pad(u - 1) when bypassed)."""
        v = self._pad_at(u - SYNC_STAGES - 1)
        if bypass:
            v = (v & ~bypass) | (self._pad_at(u - 1) & bypass)
        return v & self._ie

    def _io_read(self, addr):
        off = addr & 0xFFF
        if addr & 0xFFFFC000 == IO_BANK0:
            n = off >> 3
            if n < NUM_GPIO:
                if off & 4:
                    return self._gpio_ctrl[n]
                return self._gpio_status(n)
            raise EmulatorError("IO_BANK0 register at offset 0x%03x is not modelled" % off)
        if off == 0:
            return self._pads_vsel
        n = (off >> 2) - 1
        if 0 <= n < NUM_GPIO:
            return self._pads_reg[n]
        raise EmulatorError("PADS_BANK0 register at offset 0x%03x is not modelled" % off)

    def _gpio_status(self, n):
        """GPIOn_STATUS: OUTFROMPERI (8) and OEFROMPERI (12) from the selected function,
        OUTTOPAD (9) and OETOPAD (13) after OUTOVER/OEOVER (the pad's OD acts after them),
        INFROMPAD (17) the pad level, INTOPERI (19) the level through input enable; IRQFROMPAD
        and IRQTOPROC (24, 26) read 0: GPIO interrupts are not modelled."""
        f = self._gpio_ctrl[n] & 31
        out = oe = 0
        for func, blk_out, blk_oe in (
            (FUNC_SIO, self._sio_out, self._sio_oe),
            (FUNC_PIO0, self.pio[0].pad_out, self.pio[0].pad_oe),
            (FUNC_PIO1, self.pio[1].pad_out, self.pio[1].pad_oe),
        ):
            if f == func:
                out = (blk_out >> n) & 1
                oe = (blk_oe >> n) & 1
        ctrl = self._gpio_ctrl[n]
        out_to = _override(out, (ctrl >> 8) & 3)
        oe_to = _override(oe, (ctrl >> 12) & 3)
        level = (self.pads >> n) & 1
        in_to = level & (self._ie >> n)
        return out << 8 | out_to << 9 | oe << 12 | oe_to << 13 | level << 17 | in_to << 19

    def _io_write(self, addr, value, alias):
        off = addr & 0xFFF
        is_io = addr & 0xFFFFC000 == IO_BANK0
        if is_io:
            n = off >> 3
            if n >= NUM_GPIO:
                raise EmulatorError("IO_BANK0 register at offset 0x%03x is not modelled" % off)
            if not off & 4:
                return  # GPIOn_STATUS is read-only
            value = _alias(self._gpio_ctrl[n], value, alias)
            f = value & 31
            if f not in (FUNC_SIO, FUNC_PIO0, FUNC_PIO1, FUNC_NULL):
                raise EmulatorError(
                    "IO_BANK0 GPIO%d_CTRL FUNCSEL=%d is not modelled; allowed: 5 (SIO), "
                    "6 (PIO0), 7 (PIO1), 31 (NULL)" % (n, f)
                )
            if value & 0x30030000:
                raise EmulatorError(
                    "IO_BANK0 GPIO%d_CTRL INOVER/IRQOVER (0x%08x) are not modelled" % (n, value)
                )
            self._gpio_ctrl[n] = value & 0x3331F
        else:
            if off == 0:
                self._pads_vsel = _alias(self._pads_vsel, value, alias) & 1
                return
            n = (off >> 2) - 1
            if not 0 <= n < NUM_GPIO:
                raise EmulatorError("PADS_BANK0 register at offset 0x%03x is not modelled" % off)
            self._pads_reg[n] = _alias(self._pads_reg[n], value, alias) & 0xFF
            for blk in self.pio:  # input enables change what the SMs see
                for sm in blk.sm:
                    sm.interrupt(self.cycle)
        self._decode_io()
        self._update_pads(self.cycle)

    def _sio_read(self, addr):
        off = addr - SIO_BASE
        if off == 0x004:
            return self._pad_at(self.cycle - SYNC_STAGES) & self._ie
        if off == 0x000:
            return 0  # CPUID: the firmware runs on core 0
        if off == 0x010:
            return self._sio_out
        if off == 0x020:
            return self._sio_oe
        raise EmulatorError("SIO register at offset 0x%03x is not modelled" % off)

    def _sio_write(self, addr, v):
        off = addr - SIO_BASE
        v &= GPIO_MASK
        if 0x010 <= off <= 0x01C:
            self._sio_out = _sio_op(self._sio_out, v, off & 0xC)
        elif 0x020 <= off <= 0x02C:
            self._sio_oe = _sio_op(self._sio_oe, v, off & 0xC)
        else:
            raise EmulatorError("SIO register at offset 0x%03x is not modelled" % off)
        self._update_pads(self.cycle)
