# Output safety through the GPIO output override (IO_BANK0 GPIOn_CTRL OUTOVER/OEOVER).
# An override acts after the function select, so whatever PIO, SIO or a stale state machine
# does, a pin whose override says "drive idle" shows its idle level. abort() is called from a
# hard IRQ: it only indexes preallocated lists and writes registers (no allocation).
from machine import mem32
from micropython import const

_FUNCSEL_PIO0 = const(6)
_OVER_NORMAL = const(0)
_OVER_INVERT = const(1)
_OVER_LOW = const(2)
_OVER_HIGH = const(3)
_OE_ENABLE = const(3)
_SET = const(0x2000)
_CLR = const(0x3000)

# Per chip: IO_BANK0 base, OUTOVER lsb, OEOVER lsb (pico-sdk hardware_regs io_bank0.h; the
# RP2350 moved the override fields), PIO0/PIO1 base, DMA base and CHAN_ABORT offset.
CHIPS = {
    "rp2040": (0x40014000, 8, 12, 0x50200000, 0x50300000, 0x50000000, 0x444),
    "rp2350": (0x40028000, 12, 14, 0x50200000, 0x50300000, 0x50000000, 0x464),
}


def chip_regs(chip):
    return CHIPS["rp2350" if chip.startswith("rp2350") else "rp2040"]


class SafeOutputs:
    """Forces the trigger outputs and the marker to their idle levels, and releases them."""

    def __init__(self, chip):
        regs = chip_regs(chip)
        self._io = regs[0]
        self._out_lsb = regs[1]
        self._oe_lsb = regs[2]
        self._pio = (regs[3], regs[4])
        self._dma_abort = regs[5] + regs[6]
        # abort plan, filled by plan_abort(): register addresses and values, in write order
        self._addr = []
        self._val = []
        self._n = 0

    def ctrl_addr(self, gpio):
        return self._io + 8 * gpio + 4

    def forced(self, idle, funcsel=_FUNCSEL_PIO0):
        over = _OVER_HIGH if idle else _OVER_LOW
        return funcsel | (over << self._out_lsb) | (_OE_ENABLE << self._oe_lsb)

    def released(self, idle, funcsel=_FUNCSEL_PIO0):
        # PIO works active-high; an idle-high output is inverted at the pad
        over = _OVER_INVERT if idle else _OVER_NORMAL
        return funcsel | (over << self._out_lsb)

    def force(self, gpio, idle):
        """Drive gpio to idle now, keeping its function select."""
        addr = self.ctrl_addr(gpio)
        mem32[addr] = self.forced(idle, mem32[addr] & 0x1F)

    def release(self, gpio, idle):
        mem32[self.ctrl_addr(gpio)] = self.released(idle)

    def plan_abort(self, pins, idles, gen_mask, dma_mask):
        """Precompute abort(): overrides first (outputs idle), then stop the generators
        (PIO0 CTRL clear SM_ENABLE) and their DMA channels (CHAN_ABORT)."""
        addr = []
        val = []
        for i in range(len(pins)):
            addr.append(self.ctrl_addr(pins[i]))
            val.append(self.forced(idles[i]))
        addr.append(self._pio[0] + _CLR)
        val.append(gen_mask)
        addr.append(self._dma_abort)
        val.append(dma_mask)
        self._addr = addr
        self._val = val
        self._n = len(addr)

    def abort(self):
        a = self._addr
        v = self._val
        for i in range(self._n):
            mem32[a[i]] = v[i]

    def start_pios(self, gen_mask, cap_mask):
        """Capture SMs (PIO1) first, then every generator in one CTRL write on the SET alias:
        SM_ENABLE and CLKDIV_RESTART for the same mask, so all channels run in lockstep."""
        if cap_mask:
            mem32[self._pio[1] + _SET] = (cap_mask << 8) | cap_mask
        mem32[self._pio[0] + _SET] = (gen_mask << 8) | gen_mask

    def stop_pio(self, block, mask):
        mem32[self._pio[block] + _CLR] = mask
