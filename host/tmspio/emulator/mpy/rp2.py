"""`rp2` of the emulated board: PIO, StateMachine, DMA, asm_pio (MicroPython v1.28.0).

Every operation is the register sequence of ports/rp2/rp2_pio.c / rp2_dma.c and the pico-sdk
2.2.0 helpers they call, done through the board's bus, so `machine.mem32` sees the same state.
Software bookkeeping (claimed state machines, instruction-memory masks, DMA claims, IRQ
handlers) lives here per board and is cleared by soft_reset() (what rp2_pio_deinit /
rp2_dma_deinit do on a soft reset).

Deliberate divergences (EmulatorError here; the device silently misbehaves):
* `StateMachine(..., pull_thresh=32 / push_thresh=32)` and any shift override that does not
  fit its field: v1.28 writes the value unmasked (32 << 25 sets FJOIN_TX; push_thresh=32
  sets PULL_THRESH bit 0).
* A program's out_init/set_init/sideset_init without the matching *_base, or a *_base without
  the *_init: the pin group gets COUNT 0 (writes reach no pin) and, for side-set, the side
  bits are executed as delay.
Reproduced quirks: the divider floor (div256 = sysclk * 256 // freq), freq=0 meaning /65536,
the SM left disabled after init, the start PC = program start (not wrap_target),
`remove_program()` of a program that is not loaded being a no-op, PIO flags not cleared by a
soft reset, soft IRQ handlers dropped when the queue (depth 8) is full.
Not reproduced: StateMachine.irq().flags()/trigger() indexing the wrong IRQ object (v1.28 bug);
here they return this state machine's values.
"""

try:
    from . import emuboard, pioasm, softirq
    from .emuerror import EmulatorError
except ImportError:
    import emuboard
    import pioasm
    import softirq
    from emuerror import EmulatorError

PIOASMError = pioasm.PIOASMError
asm_pio = pioasm.asm_pio
asm_pio_encode = pioasm.asm_pio_encode

_UNSET = object()
_ENOMEM = 12
_EBUSY = 16

# ---- register map (pico-sdk 2.2.0 hardware_regs) ---------------------------------------------
PIO_BASES = (0x50200000, 0x50300000, 0x50400000)
XOR_ALIAS = 0x1000
SET_ALIAS = 0x2000
CLR_ALIAS = 0x3000
CTRL = 0x000
FSTAT = 0x004
FDEBUG = 0x008
FLEVEL = 0x00C
TXF0 = 0x010
RXF0 = 0x020
IRQ_REG = 0x030
INSTR_MEM0 = 0x048
SM0_CLKDIV = 0x0C8
SM_STRIDE = 0x18
CLKDIV = 0x0
EXECCTRL = 0x4
SHIFTCTRL = 0x8
ADDR = 0xC
INSTR = 0x10
PINCTRL = 0x14
# IRQ0_INTE / IRQ0_INTS moved on RP2350 (RXFx_PUTGETy took their place)
IRQ0_INTE = {"rp2040": 0x12C, "rp2350": 0x170}
IRQ0_INTS = {"rp2040": 0x134, "rp2350": 0x178}

EXECCTRL_SIDE_EN = 1 << 30
EXECCTRL_OUT_STICKY = 1 << 17
SHIFTCTRL_FJOIN_RX = 1 << 31

IO_BANK0 = {"rp2040": 0x40014000, "rp2350": 0x40028000}
PADS_BANK0 = {"rp2040": 0x4001C000, "rp2350": 0x40038000}
PADS_IE = 1 << 6
PADS_OD = 1 << 7
PADS_ISO = 1 << 8  # RP2350 only
GPIO_FUNC_PIO0 = 6

DMA_BASE = 0x50000000
DMA_CH_STRIDE = 0x40
DMA_READ_ADDR = 0x00
DMA_WRITE_ADDR = 0x04
DMA_TRANS_COUNT = 0x08
DMA_CTRL_TRIG = 0x0C
DMA_AL1_CTRL = 0x10
DMA_AL1_TRANS_COUNT_TRIG = 0x1C
DMA_AL2_WRITE_ADDR_TRIG = 0x2C
DMA_AL3_READ_ADDR_TRIG = 0x3C
DMA_INTE0 = 0x404
DMA_INTS0 = 0x40C
DMA_MULTI_CHAN_TRIGGER = {"rp2040": 0x430, "rp2350": 0x450}
DMA_CHAN_ABORT = {"rp2040": 0x444, "rp2350": 0x464}
DMA_CHANNELS = {"rp2040": 12, "rp2350": 16}
NUM_PIOS = {"rp2040": 2, "rp2350": 3}


def _board():
    return emuboard.current()


def _chip(board):
    chip = board.chip
    if chip not in NUM_PIOS:
        raise EmulatorError("rp2: chip {!r} is not modelled (rp2040, rp2350)".format(chip))
    return chip


def _rd(board, addr):
    return board.read32(addr) & 0xFFFFFFFF


def _wr(board, addr, value):
    board.write32(addr, value & 0xFFFFFFFF)


def _pin_number(pin, what):
    if isinstance(pin, int) and not isinstance(pin, bool):
        number = pin
    elif hasattr(pin, "_id"):
        number = pin._id
    else:
        raise TypeError("{}: expected a Pin or a GPIO number, got {!r}".format(what, pin))
    if not 0 <= number < 48:
        raise ValueError("{}: GPIO {} does not exist".format(what, number))
    return number


# ---- per-board software state --------------------------------------------------------------


class _State:
    def __init__(self, board):
        self.board = board
        npio = NUM_PIOS[_chip(board)]
        self.used = [0] * npio  # SDK _used_instruction_space
        self.managed = [0] * npio  # rp2_pio_instruction_memory_usage_mask
        self.loaded = [[] for _ in range(npio)]  # program lists holding reserved memory
        self.released = [[] for _ in range(npio)]  # lists whose memory remove_program() freed
        self.imem = [[-1] * 32 for _ in range(npio)]  # words this module wrote (write-only)
        self.sdk_claimed = [0] * npio  # SDK SM claims (one bit per SM)
        self.claimed = 0  # rp2_state_machine_claimed_mask (bit per global SM id)
        self.initial_pc = [0] * (npio * 4)
        self.pio_irq = [None] * npio
        self.sm_irq = [None] * (npio * 4)
        self.dma_claimed = 0
        self.dma_irq = {}
        self.irq_hooked = False


_states = [None]


def _state():
    board = _board()
    st = _states[0]
    if st is None or st.board is not board:
        st = _State(board)
        _states[0] = st
    if not st.irq_hooked:
        _hook_irqs(st)
    return st


def soft_reset():
    """rp2_pio_deinit + rp2_dma_deinit: disable/unclaim our SMs, forget our programs and IRQs.

    Hardware registers are left alone except the enable bits of claimed SMs (as on the device:
    IRQ flags, FIFOs and instruction memory survive a soft reset).
    """
    st = _states[0]
    if st is None:
        return
    board = st.board
    for sm_id in range(len(st.initial_pc)):
        if st.claimed & (1 << sm_id):
            pio_base = PIO_BASES[sm_id // 4]
            _wr(board, pio_base + CTRL, _rd(board, pio_base + CTRL) & ~(1 << (sm_id % 4)))
    # The soft reset's gc_sweep_all runs every DMA object's finaliser, DMA.close(): the
    # channel is reset and aborted, so no transfer outlives the program that set it up.
    chip = _chip(board)
    for channel in range(DMA_CHANNELS[chip]):
        if st.dma_claimed & (1 << channel):
            _close_channel(board, chip, channel)
    _states[0] = None


# ---- interrupts ----------------------------------------------------------------------------


def _hook_irqs(st):
    """Have the board call us when a PIO block's IRQ0 line or DMA_IRQ_0 goes high."""
    board = st.board
    st.irq_hooked = True
    for index in range(len(st.used)):
        board.watch_pio_irq(index, _make_pio_isr(st, index), line=0)
    board.watch_dma_irq(_make_dma_isr(st), line=0)


def _charge(board):
    """CPU time of one call into the port (emuboard.ACCESS_CYCLES per stand-in call)."""
    board.cpu(emuboard.ACCESS_CYCLES)


def _dispatch(irq, arg):
    softirq.dispatch(irq, arg)


def _make_pio_isr(st, index):
    def isr(block, line):
        if _states[0] is not st:
            return  # stale hook of a state that a soft reset dropped
        board = st.board
        base = PIO_BASES[index]
        chip = _chip(board)
        ints = _rd(board, base + IRQ0_INTS[chip])
        # Acknowledge SM0-3 flags enabled on IRQ0 before calling any handler (rp2_pio.c).
        _wr(board, base + IRQ_REG, ints >> 8)
        irq = st.pio_irq[index]
        if irq is not None and ints & irq._trigger:
            irq._flags = ints & irq._trigger
            _dispatch(irq, PIO(index))
        for sm in range(4):
            irq = st.sm_irq[index * 4 + sm]
            if irq is not None and (ints >> (8 + sm)) & irq._trigger:
                irq._flags = 1
                _dispatch(irq, StateMachine(index * 4 + sm))

    return isr


def _make_dma_isr(st):
    def isr(line):
        if _states[0] is not st:
            return
        board = st.board
        ints = _rd(board, DMA_BASE + DMA_INTS0)
        for channel in range(DMA_CHANNELS[_chip(board)]):
            if ints & (1 << channel):
                irq = st.dma_irq.get(channel)
                if irq is not None:
                    _wr(board, DMA_BASE + DMA_INTS0, 1 << channel)
                    irq._parent._irq_flag = 1
                    _dispatch(irq, irq._parent)

    return isr


class _IRQ:
    """The mp_irq object returned by .irq(): flags() and trigger()."""

    def __init__(self, parent):
        self._parent = parent
        self._handler = None
        self._hard = False
        self._flags = 0
        self._trigger = 0

    def flags(self):
        return self._flags

    def trigger(self, new_trigger=None):
        if new_trigger is None:
            return self._trigger
        self._flags = 0
        self._trigger = new_trigger
        return 0


class _DMAIRQ(_IRQ):
    """rp2_dma_irq_info: flags() is the channel's irq_flag, trigger() its INTS0 bit."""

    def flags(self):
        return self._parent._irq_flag

    def trigger(self, new_trigger=None):
        if new_trigger is None:
            return 1 if _rd(_board(), DMA_BASE + DMA_INTS0) & (1 << self._parent._channel) else 0
        board = _board()
        self._parent._irq_flag = 0
        alias = SET_ALIAS if new_trigger else CLR_ALIAS
        _wr(board, DMA_BASE + DMA_INTE0 + alias, 1 << self._parent._channel)
        return 0


# ---- PIO -----------------------------------------------------------------------------------


class PIO:
    IN_LOW = 0
    IN_HIGH = 1
    OUT_LOW = 2
    OUT_HIGH = 3
    SHIFT_LEFT = 0
    SHIFT_RIGHT = 1
    JOIN_NONE = 0
    JOIN_TX = 1
    JOIN_RX = 2
    IRQ_SM0 = 0x100
    IRQ_SM1 = 0x200
    IRQ_SM2 = 0x400
    IRQ_SM3 = 0x800

    def __init__(self, id):
        if not isinstance(id, int) or not 0 <= id < NUM_PIOS[_chip(_board())]:
            raise ValueError("invalid PIO")
        self._index = id
        self._base = PIO_BASES[id]

    def __repr__(self):
        return "PIO(%d)" % self._index

    def __eq__(self, other):
        return isinstance(other, PIO) and other._index == self._index

    def __hash__(self):
        return self._index

    def add_program(self, prog):
        st = _state()
        data = _prog_data(prog)
        length = len(data)
        offset = _find_offset(st.used[self._index], length)
        if offset < 0:
            raise OSError(_ENOMEM)
        board = st.board
        for i in range(length):
            instr = data[i]
            if instr >> 13 == 0:  # JMP: relocate the absolute target
                instr += offset
            _wr(board, self._base + INSTR_MEM0 + 4 * (offset + i), instr)
            st.imem[self._index][offset + i] = instr
        mask = ((1 << length) - 1) << offset
        st.used[self._index] |= mask
        st.managed[self._index] |= mask
        prog[pioasm.PROG_OFFSET_PIO0 + self._index] = offset
        _forget(st.released[self._index], prog)
        st.loaded[self._index].append(prog)
        _charge(board)

    def remove_program(self, prog=None):
        st = _state()
        length, offset = 32, 0
        if prog is not None:
            length = len(_prog_data(prog))
            offset = _offset_here(st, prog, self._index)
            prog[pioasm.PROG_OFFSET_PIO0 + self._index] = -1
            if offset < 0:
                return  # v1.28: the unsigned check never fires and the mask shifts out to 0
            _forget(st.loaded[self._index], prog)
        mask = (((1 << length) - 1) << offset) & 0xFFFFFFFF
        st.used[self._index] &= ~mask
        st.managed[self._index] &= ~mask
        if prog is None:
            # v1.28 frees the memory but leaves every list's offset in place: a later
            # StateMachine(..., prog) trusts it and runs whatever that memory holds then.
            st.released[self._index].extend(st.loaded[self._index])
            st.loaded[self._index] = []

    def state_machine(self, id, *args, **kw):
        if not isinstance(id, int) or not 0 <= id < 4:
            raise ValueError("invalid StateMachine")
        return StateMachine(self._index * 4 + id, *args, **kw)

    def irq(self, handler=_UNSET, trigger=_UNSET, hard=_UNSET):
        st = _state()
        irq = st.pio_irq[self._index]
        if irq is None:
            irq = _IRQ(self)
            st.pio_irq[self._index] = irq
        if handler is _UNSET and trigger is _UNSET and hard is _UNSET:
            return irq
        irq._handler = None if handler is _UNSET else handler
        irq._hard = False if hard is _UNSET else bool(hard)
        irq._flags = 0
        irq._trigger = 0xF00 if trigger is _UNSET else trigger
        if irq._handler is not None:
            board = st.board
            _wr(board, self._base + IRQ0_INTE[_chip(board)], irq._trigger)
        return irq


def _prog_data(prog):
    if not isinstance(prog, list) or len(prog) != pioasm.PROG_MAX_FIELDS:
        n = len(prog) if isinstance(prog, (list, tuple)) else "?"
        raise ValueError(
            "requested length {} but object has length {}".format(pioasm.PROG_MAX_FIELDS, n)
        )
    return prog[pioasm.PROG_DATA]


def _offset_here(st, prog, pio):
    """The program's offset in this PIO of this board, as MicroPython would use it.

    * Loaded here: its offset.
    * Freed by remove_program() (no argument), offset left in the list: v1.28 trusts it. If the
      memory still holds the program that is harmless and reproduced; if other code was loaded
      over it since, the device would run that code: EmulatorError.
    * Never loaded on this board in this soft-reset generation (the list outlived its board in
      host code): the offset is stale, treated as -1 (the program is loaded again).
    """
    offset = prog[pioasm.PROG_OFFSET_PIO0 + pio]
    if offset < 0 or any(p is prog for p in st.loaded[pio]):
        return offset
    if any(p is prog for p in st.released[pio]):
        data = prog[pioasm.PROG_DATA]
        for i in range(len(data)):
            instr = data[i] + offset if data[i] >> 13 == 0 else data[i]
            if offset + i > 31 or st.imem[pio][offset + i] != instr:
                raise EmulatorError(
                    "PIO({}): this program's list still says offset {} after "
                    "remove_program(), but other code was loaded there since: MicroPython "
                    "v1.28 would run that code; remove programs individually or assemble "
                    "again".format(pio, offset)
                )
        return offset
    prog[pioasm.PROG_OFFSET_PIO0 + pio] = -1
    return -1


def _forget(programs, prog):
    for i in range(len(programs)):
        if programs[i] is prog:
            programs.pop(i)
            return


def _find_offset(used, length):
    """SDK find_offset_for_program: the highest free offset, searching downwards."""
    if length > 32:
        return -1
    mask = (1 << length) - 1
    for i in range(32 - length, -1, -1):
        if not used & (mask << i):
            return i
    return -1


# ---- StateMachine --------------------------------------------------------------------------

_SHIFT_OVERRIDES = (
    # keyword, lsb, width
    ("in_shiftdir", 18, 1),
    ("out_shiftdir", 19, 1),
    ("push_thresh", 20, 5),
    ("pull_thresh", 25, 5),
)


class StateMachine:
    def __init__(self, id, *args, **kw):
        st = _state()
        if not isinstance(id, int) or not 0 <= id < len(st.initial_pc):
            raise ValueError("invalid StateMachine")
        self._id = id
        self._pio = id // 4
        self._sm = id % 4
        self._base = PIO_BASES[self._pio]
        self._smbase = self._base + SM0_CLKDIV + SM_STRIDE * self._sm
        if not st.claimed & (1 << id):
            if st.sdk_claimed[self._pio] & (1 << self._sm):
                raise ValueError("StateMachine claimed by external resource")
            st.sdk_claimed[self._pio] |= 1 << self._sm
            st.claimed |= 1 << id
        if args or kw:
            self.init(*args, **kw)

    def __repr__(self):
        return "StateMachine(%d)" % self._id

    def __eq__(self, other):
        return isinstance(other, StateMachine) and other._id == self._id

    def __hash__(self):
        return self._id

    # FIFO addresses for the buffer protocol (DMA write=sm / read=sm)
    def txf_address(self):
        return self._base + TXF0 + 4 * self._sm

    def rxf_address(self):
        return self._base + RXF0 + 4 * self._sm

    def init(
        self,
        prog,
        freq=-1,
        *,
        in_base=None,
        out_base=None,
        set_base=None,
        jmp_pin=None,
        sideset_base=None,
        in_shiftdir=None,
        out_shiftdir=None,
        push_thresh=None,
        pull_thresh=None,
    ):
        st = _state()
        board = st.board
        chip = _chip(board)
        _prog_data(prog)
        offset = _offset_here(st, prog, self._pio)
        if offset < 0:
            PIO(self._pio).add_program(prog)
            offset = prog[pioasm.PROG_OFFSET_PIO0 + self._pio]
        st.initial_pc[self._id] = offset

        clkdiv = _clkdiv(freq, board.sysclk)

        # pio_sm_init(pio, sm, offset, NULL)
        self._set_enabled(board, False)
        self._write_config(board, 0x10000, 0x1F000, 0x000C0000, 0)
        _wr(board, self._smbase + SHIFTCTRL + XOR_ALIAS, SHIFTCTRL_FJOIN_RX)
        _wr(board, self._smbase + SHIFTCTRL + XOR_ALIAS, SHIFTCTRL_FJOIN_RX)
        _wr(board, self._base + FDEBUG, 0x01010101 << self._sm)
        _wr(board, self._base + CTRL + SET_ALIAS, 1 << (4 + self._sm))
        _wr(board, self._base + CTRL + SET_ALIAS, 1 << (8 + self._sm))
        _wr(board, self._smbase + INSTR, offset)  # jmp offset

        execctrl = (prog[pioasm.PROG_EXECCTRL] & 0xFFFFFFFF) + (offset << 12) + (offset << 7)
        shiftctrl = prog[pioasm.PROG_SHIFTCTRL] & 0xFFFFFFFF
        pinctrl = 0
        if in_base is not None:
            pinctrl = (pinctrl & ~(0x1F << 15)) | (_pin_number(in_base, "in_base") << 15)
        out_cfg = _pin_group("out", prog[pioasm.PROG_OUT_PINS], out_base)
        if out_cfg is not None:
            pinctrl = (pinctrl & ~0x3F0001F) | (out_cfg[1] << 20) | out_cfg[0]
        set_cfg = _pin_group("set", prog[pioasm.PROG_SET_PINS], set_base)
        if set_cfg is not None:
            pinctrl = (pinctrl & ~0x1C0003E0) | (set_cfg[1] << 26) | (set_cfg[0] << 5)
        jmp = -1
        if jmp_pin is not None:
            jmp = _pin_number(jmp_pin, "jmp_pin")
            execctrl = (execctrl & ~(0x1F << 24)) | ((jmp & 0x1F) << 24)
        side_cfg = _pin_group("sideset", prog[pioasm.PROG_SIDESET_PINS], sideset_base)
        if side_cfg is not None:
            count = side_cfg[1]
            if execctrl & EXECCTRL_SIDE_EN:
                count += 1  # the optional-side-set enable bit counts
            pinctrl |= count << 29
            pinctrl = (pinctrl & ~(0x1F << 10)) | (side_cfg[0] << 10)
        overrides = (in_shiftdir, out_shiftdir, push_thresh, pull_thresh)
        for (name, lsb, width), value in zip(_SHIFT_OVERRIDES, overrides):
            if value is None:
                continue
            if not isinstance(value, int) or not 0 <= value < (1 << width):
                raise EmulatorError(
                    "StateMachine.init({}={!r}): MicroPython v1.28 writes this unmasked into "
                    "SHIFTCTRL and corrupts the neighbouring field (32 << 25 sets FJOIN_TX); "
                    "allowed 0..{} (0 means 32 for thresholds)".format(
                        name, value, (1 << width) - 1
                    )
                )
            shiftctrl = (shiftctrl & ~(((1 << width) - 1) << lsb)) | (value << lsb)
        self._write_config(board, clkdiv, execctrl, shiftctrl, pinctrl)

        if out_cfg is not None:
            self._init_gpio(board, chip, out_cfg)
        if set_cfg is not None:
            self._init_gpio(board, chip, set_cfg)
        if chip == "rp2350" and jmp >= 0:
            pads = PADS_BANK0[chip] + 4 + 4 * jmp
            if _rd(board, pads) & PADS_ISO:
                _gpio_set_function(board, chip, jmp, GPIO_FUNC_PIO0 + self._pio)
        if side_cfg is not None:
            self._init_gpio(board, chip, side_cfg)
        _charge(board)

    def _write_config(self, board, clkdiv, execctrl, shiftctrl, pinctrl):
        # pio_sm_set_config order: CLKDIV, SHIFTCTRL, EXECCTRL, PINCTRL
        _wr(board, self._smbase + CLKDIV, clkdiv)
        _wr(board, self._smbase + SHIFTCTRL, shiftctrl)
        _wr(board, self._smbase + EXECCTRL, execctrl)
        _wr(board, self._smbase + PINCTRL, pinctrl)

    def _set_enabled(self, board, enabled):
        ctrl = _rd(board, self._base + CTRL)
        ctrl = (ctrl & ~(1 << self._sm)) | ((1 if enabled else 0) << self._sm)
        _wr(board, self._base + CTRL, ctrl)

    def _init_gpio(self, board, chip, cfg):
        """asm_pio_init_gpio: levels, then directions, by forced SET instructions; FUNCSEL."""
        base, count, pindirs, pinvals = cfg
        pinmask = _rotl(~(-1 << count) & 0xFFFFFFFF, base)
        self._force_pins(board, 0xE000, _rotl(pinvals, base), pinmask)  # set pins, v
        self._force_pins(board, 0xE080, _rotl(pindirs, base), pinmask)  # set pindirs, v
        for i in range(32):
            if pinmask & (1 << i):
                _gpio_set_function(board, chip, i, GPIO_FUNC_PIO0 + self._pio)

    def _force_pins(self, board, set_instr, values, mask):
        """pio_sm_set_pins_with_mask / pio_sm_set_pindirs_with_mask (pico-sdk pio.c)."""
        pinctrl_saved = _rd(board, self._smbase + PINCTRL)
        execctrl_saved = _rd(board, self._smbase + EXECCTRL)
        _wr(board, self._smbase + EXECCTRL + CLR_ALIAS, EXECCTRL_OUT_STICKY)
        while mask:
            pin = 0
            while not mask & (1 << pin):
                pin += 1
            _wr(board, self._smbase + PINCTRL, (1 << 26) | (pin << 5))
            _wr(board, self._smbase + INSTR, set_instr | ((values >> pin) & 1))
            mask &= mask - 1
        _wr(board, self._smbase + PINCTRL, pinctrl_saved)
        _wr(board, self._smbase + EXECCTRL, execctrl_saved)

    def active(self, value=None):
        board = _board()
        if value is not None:
            self._set_enabled(board, value)
        result = bool((_rd(board, self._base + CTRL) >> self._sm) & 1)
        _charge(board)
        return result

    def restart(self):
        st = _state()
        _wr(st.board, self._base + CTRL + SET_ALIAS, 1 << (4 + self._sm))
        _wr(st.board, self._smbase + INSTR, st.initial_pc[self._id])
        _charge(st.board)

    def exec(self, instr):
        board = _board()
        if not isinstance(instr, int):
            count = _rd(board, self._smbase + PINCTRL) >> 29
            opt = 1 if _rd(board, self._smbase + EXECCTRL) & EXECCTRL_SIDE_EN else 0
            instr = asm_pio_encode(instr, count, opt)
        _wr(board, self._smbase + INSTR, instr)
        _charge(board)

    def _rx_empty(self, board):
        return (_rd(board, self._base + FSTAT) >> (8 + self._sm)) & 1

    def _tx_full(self, board):
        return (_rd(board, self._base + FSTAT) >> (16 + self._sm)) & 1

    def get(self, buf=None, shift=0):
        board = _board()
        if buf is None:
            self._wait(board, self._rx_empty, "get", "RX FIFO empty")
            value = (_rd(board, self._base + RXF0 + 4 * self._sm) >> shift) & 0xFFFFFFFF
            _charge(board)
            return value
        code = _typecode(buf, writable=True)
        kind = "b" if code == "bytearray" else code.lower()
        if kind not in ("b", "h", "i"):
            raise ValueError("unsupported buffer type")
        bits = {"b": 8, "h": 16, "i": 32}[kind]
        signed = code in ("b", "h", "i")  # elements store the low bits as the array's type
        for i in range(len(buf)):
            self._wait(board, self._rx_empty, "get", "RX FIFO empty")
            value = (_rd(board, self._base + RXF0 + 4 * self._sm) >> shift) & ((1 << bits) - 1)
            if signed and value >> (bits - 1):
                value -= 1 << bits
            buf[i] = value
        _charge(board)
        return buf

    def put(self, value, shift=0):
        board = _board()
        if isinstance(value, int):
            words = ((value & 0xFFFFFFFF),)
        else:
            typecode = _typecode(value, writable=False)
            if typecode not in ("B", "H", "I", "bytearray"):
                raise ValueError("unsupported buffer type")
            words = value
        for word in words:
            self._wait(board, self._tx_full, "put", "TX FIFO full")
            _wr(board, self._base + TXF0 + 4 * self._sm, (word << shift) & 0xFFFFFFFF)
        _charge(board)

    def _wait(self, board, blocked, what, condition):
        """Busy-wait as the C loop does (mp_event_handle_nowait), advancing the board."""
        if not blocked(board):
            return
        softirq.run_pending()
        while blocked(board):
            try:
                # No cycle limit: the device waits forever too. An idle board (nothing can
                # ever change the FIFO) makes run() raise instead of spinning.
                board.run(until=lambda b: softirq.runnable() or not blocked(b))
            except EmulatorError as e:
                raise EmulatorError(
                    "StateMachine({}).{}(): {}; the device would wait forever ({})".format(
                        self._id, what, condition, e
                    )
                )
            softirq.run_pending()

    def rx_fifo(self):
        board = _board()
        level = (_rd(board, self._base + FLEVEL) >> (8 * self._sm + 4)) & 0xF
        _charge(board)
        return level

    def tx_fifo(self):
        board = _board()
        level = (_rd(board, self._base + FLEVEL) >> (8 * self._sm)) & 0xF
        _charge(board)
        return level

    def irq(self, handler=_UNSET, trigger=_UNSET, hard=_UNSET):
        st = _state()
        board = st.board
        irq = st.sm_irq[self._id]
        if irq is None:
            irq = _IRQ(self)
            st.sm_irq[self._id] = irq
        if handler is _UNSET and trigger is _UNSET and hard is _UNSET:
            return irq
        irq._handler = None if handler is _UNSET else handler
        irq._hard = False if hard is _UNSET else bool(hard)
        irq._flags = 0
        irq._trigger = 1 if trigger is _UNSET else trigger
        inte = self._base + IRQ0_INTE[_chip(board)]
        value = _rd(board, inte)
        if irq._handler is None:
            value &= ~(1 << (8 + self._sm))
        else:
            value |= 1 << (8 + self._sm)
        _wr(board, inte, value)
        return irq


_WAIT_SLICE = 1 << 20  # cycles per board.run() while a FIFO wait is pending


def _typecode(buf, writable):
    """Typecode of a buffer ('bytearray' for bytearray), portable to MicroPython (no .typecode)."""
    if isinstance(buf, bytearray):
        return "bytearray"
    if isinstance(buf, bytes):
        if writable:
            raise TypeError("object with buffer protocol required")
        return "B"
    text = repr(buf)
    if text.startswith("array('") and len(text) > 8:
        return text[7]
    raise TypeError("object with buffer protocol required")


def _rotl(x, k):
    k %= 32
    return ((x << k) | (x >> (32 - k))) & 0xFFFFFFFF if k else x & 0xFFFFFFFF


def _clkdiv(freq, sysclk):
    if not isinstance(freq, int):
        raise TypeError("can't convert {} to int".format(type(freq).__name__))
    if freq < 0:
        return 1 << 16
    if freq == 0:
        return 0
    div = sysclk * 256 // freq
    if not 256 <= div <= 65536 * 256:
        raise ValueError("freq out of range")
    return (((div >> 8) & 0xFFFF) << 16) | ((div & 0xFF) << 8)


def _pin_group(kind, init, base):
    """asm_pio_get_pins -> (base, count, pindirs, pinvals), or None when not configured."""
    if init is None and base is None:
        return None
    if init is None or base is None:
        given, missing = ("{}_base".format(kind), "{}_init".format(kind))
        if base is None:
            given, missing = missing, given
        raise EmulatorError(
            "StateMachine: {} given without {}: MicroPython v1.28 would configure {} "
            "pins{}".format(
                given,
                missing,
                "no" if base is None else "0",
                " and execute the side-set bits as delay" if kind == "sideset" else "",
            )
        )
    if isinstance(init, int):
        count, pindirs, pinvals = 1, init >> 1, init & 1
    else:
        count, pindirs, pinvals = len(init), 0, 0
        for i in range(count):
            pindirs |= (init[i] >> 1) << i
            pinvals |= (init[i] & 1) << i
    return (_pin_number(base, kind + "_base"), count, pindirs, pinvals)


def _gpio_set_function(board, chip, gpio, func):
    """pico-sdk gpio_set_function: pad IE on / OD off, FUNCSEL, (RP2350) clear ISO."""
    pads = PADS_BANK0[chip] + 4 + 4 * gpio
    current = _rd(board, pads)
    _wr(board, pads + XOR_ALIAS, (current ^ PADS_IE) & (PADS_IE | PADS_OD))
    _wr(board, IO_BANK0[chip] + 8 * gpio + 4, func)
    if chip == "rp2350":
        _wr(board, pads + CLR_ALIAS, PADS_ISO)


# ---- DMA -----------------------------------------------------------------------------------

_CTRL_FIELDS_RP2040 = (
    # name, shift, width, read_only
    ("enable", 0, 1, False),
    ("high_pri", 1, 1, False),
    ("size", 2, 2, False),
    ("inc_read", 4, 1, False),
    ("inc_write", 5, 1, False),
    ("ring_size", 6, 4, False),
    ("ring_sel", 10, 1, False),
    ("chain_to", 11, 4, False),
    ("treq_sel", 15, 6, False),
    ("irq_quiet", 21, 1, False),
    ("bswap", 22, 1, False),
    ("sniff_en", 23, 1, False),
    ("busy", 24, 1, True),
    ("write_err", 29, 1, False),
    ("read_err", 30, 1, False),
    ("ahb_err", 31, 1, True),
)

_CTRL_FIELDS_RP2350 = (
    ("enable", 0, 1, False),
    ("high_pri", 1, 1, False),
    ("size", 2, 2, False),
    ("inc_read", 4, 1, False),
    ("inc_read_rev", 5, 1, False),
    ("inc_write", 6, 1, False),
    ("inc_write_rev", 7, 1, False),
    ("ring_size", 8, 4, False),
    ("ring_sel", 12, 1, False),
    ("chain_to", 13, 4, False),
    ("treq_sel", 17, 6, False),
    ("irq_quiet", 23, 1, False),
    ("bswap", 24, 1, False),
    ("sniff_en", 25, 1, False),
    ("busy", 26, 1, True),
    ("write_err", 29, 1, False),
    ("read_err", 30, 1, False),
    ("ahb_err", 31, 1, True),
)


def _ctrl_fields(chip):
    return _CTRL_FIELDS_RP2350 if chip == "rp2350" else _CTRL_FIELDS_RP2040


def _field(chip, name):
    for field in _ctrl_fields(chip):
        if field[0] == name:
            return field
    raise KeyError(name)


class _Registers:
    """Word-indexed view of hardware registers through the bus (DMA.registers).

    Slicing gives a sub-view whose address DMA.config(read=/write=) accepts, as the device's
    memoryview slices are accepted for chaining one channel's registers from another.
    """

    def __init__(self, base, count):
        self._base = base
        self._count = count

    def __len__(self):
        return self._count

    def _index(self, i):
        if i < 0:
            i += self._count
        if not 0 <= i < self._count:
            raise IndexError("memoryview index out of range")
        return self._base + 4 * i

    def __getitem__(self, i):
        if isinstance(i, slice):
            start, stop, step = i.indices(self._count)
            if step != 1:
                raise NotImplementedError("only slices with step=1 (aka None) are supported")
            return _Registers(self._base + 4 * start, max(0, stop - start))
        return _rd(_board(), self._index(i))

    def __setitem__(self, i, value):
        _wr(_board(), self._index(i), value)

    def address(self):
        return self._base


def _field_names(chip):
    return [field[0] for field in _ctrl_fields(chip)]


def _address(obj, for_write):
    """rp2_dma_register_value_from_obj for read/write: a buffer's address or an int."""
    if isinstance(obj, StateMachine):
        return obj.txf_address() if for_write else obj.rxf_address()
    if isinstance(obj, _Registers):
        return obj.address()
    if isinstance(obj, int):
        return obj & 0xFFFFFFFF
    if for_write and isinstance(obj, bytes):
        raise TypeError("DMA write address: bytes are read-only")
    return _board().dma_address(obj) & 0xFFFFFFFF


class DMA:
    def __init__(self):
        board = _board()
        st = _state()
        chip = _chip(board)
        for channel in range(DMA_CHANNELS[chip]):
            if not st.dma_claimed & (1 << channel):
                st.dma_claimed |= 1 << channel
                self._channel = channel
                self._irq_flag = 0
                return
        raise OSError(_EBUSY)

    def __repr__(self):
        return "DMA(%d)" % self._channel

    def _open(self):
        if self._channel is None:
            raise ValueError("channel closed")
        return _board()

    def _reg(self, offset):
        return DMA_BASE + DMA_CH_STRIDE * self._channel + offset

    @property
    def channel(self):
        return 0xFF if self._channel is None else self._channel

    @property
    def read(self):
        return _rd(self._open(), self._reg(DMA_READ_ADDR))

    @read.setter
    def read(self, value):
        _wr(self._open(), self._reg(DMA_READ_ADDR), _address(value, False))

    @property
    def write(self):
        return _rd(self._open(), self._reg(DMA_WRITE_ADDR))

    @write.setter
    def write(self, value):
        _wr(self._open(), self._reg(DMA_WRITE_ADDR), _address(value, True))

    @property
    def count(self):
        return _rd(self._open(), self._reg(DMA_TRANS_COUNT))

    @count.setter
    def count(self, value):
        _wr(self._open(), self._reg(DMA_TRANS_COUNT), value)

    @property
    def ctrl(self):
        return _rd(self._open(), self._reg(DMA_AL1_CTRL))

    @ctrl.setter
    def ctrl(self, value):
        _wr(self._open(), self._reg(DMA_AL1_CTRL), value)

    @property
    def registers(self):
        """The channel's 16 registers (a memoryview on the device; a bus proxy here)."""
        self._open()
        return _Registers(DMA_BASE + DMA_CH_STRIDE * self._channel, 16)

    def config(self, *, read=None, write=None, count=None, ctrl=None, trigger=False):
        board = self._open()
        given = [
            (name, value)
            for name, value in (("read", read), ("write", write), ("count", count), ("ctrl", ctrl))
            if value is not None
        ]
        if trigger and not given:
            self._start(board)
            _charge(board)
            return
        last = len(given) - 1
        for i, (name, value) in enumerate(given):
            fire = trigger and i == last
            if name == "read":
                offset = DMA_AL3_READ_ADDR_TRIG if fire else DMA_READ_ADDR
                _wr(board, self._reg(offset), _address(value, False))
            elif name == "write":
                offset = DMA_AL2_WRITE_ADDR_TRIG if fire else DMA_WRITE_ADDR
                _wr(board, self._reg(offset), _address(value, True))
            elif name == "count":
                offset = DMA_AL1_TRANS_COUNT_TRIG if fire else DMA_TRANS_COUNT
                _wr(board, self._reg(offset), value)
            else:
                _wr(board, self._reg(DMA_CTRL_TRIG if fire else DMA_AL1_CTRL), value)
        _charge(board)

    def _start(self, board):
        _wr(board, DMA_BASE + DMA_MULTI_CHAN_TRIGGER[_chip(board)], 1 << self._channel)

    def _busy(self, board):
        busy = _field(_chip(board), "busy")[1]
        return (_rd(board, self._reg(DMA_CTRL_TRIG)) >> busy) & 1

    def _abort(self, board):
        _wr(board, DMA_BASE + DMA_CHAN_ABORT[_chip(board)], 1 << self._channel)
        while self._busy(board):
            board.run(until=lambda b: not self._busy(b), max_cycles=_WAIT_SLICE)

    def active(self, value=None):
        board = self._open()
        if value is not None:
            if value:
                self._start(board)
            else:
                self._abort(board)
        busy = bool(self._busy(board))
        _charge(board)
        return busy

    def irq(self, handler=_UNSET, hard=_UNSET):
        board = self._open()
        st = _state()
        irq = st.dma_irq.get(self._channel)
        if irq is None:
            irq = _DMAIRQ(self)
            st.dma_irq[self._channel] = irq
            _wr(board, DMA_BASE + DMA_INTS0, 1 << self._channel)  # stale flags are not ours
        if handler is _UNSET and hard is _UNSET:
            return irq
        irq._handler = None if handler is _UNSET else handler
        irq._hard = False if hard is _UNSET else bool(hard)
        self._irq_flag = 0
        alias = SET_ALIAS if irq._handler is not None else CLR_ALIAS
        _wr(board, DMA_BASE + DMA_INTE0 + alias, 1 << self._channel)
        return irq

    def close(self):
        if self._channel is None:
            return
        board = _board()
        st = _state()
        _close_channel(board, _chip(board), self._channel)
        st.dma_irq.pop(self._channel, None)
        st.dma_claimed &= ~(1 << self._channel)
        self._channel = None

    def pack_ctrl(self, *args, **kw):
        if args:
            raise TypeError("pack_ctrl only takes keyword arguments")
        chip = _chip(_board())
        remaining = len(kw)
        if "default" in kw:
            remaining -= 1
            value = kw["default"] & 0xFFFFFFFF
        else:
            value = _default_ctrl(chip, self.channel)
        for name, shift, width, read_only in _ctrl_fields(chip):
            if name not in kw:
                continue
            remaining -= 1
            if read_only:
                continue  # ignored so unpack_ctrl() results can be passed back
            field_value = kw[name]
            mask = (1 << width) - 1
            if field_value & mask != field_value:
                raise ValueError("bad field value")
            value = (value & ~(mask << shift)) | (field_value << shift)
        if remaining:
            unknown = [k for k in kw if k != "default" and k not in _field_names(chip)]
            raise TypeError("unexpected keyword argument {!r}".format(unknown[0]))
        return value

    @staticmethod
    def unpack_ctrl(value):
        chip = _chip(_board())
        return {
            name: (value >> shift) & ((1 << width) - 1)
            for name, shift, width, _ in _ctrl_fields(chip)
        }


def _close_channel(board, chip, channel):
    """rp2_dma.c close: IRQ off, dma_channel_configure(ctrl=0, NULL, NULL, 0), abort."""
    _wr(board, DMA_BASE + DMA_INTE0 + CLR_ALIAS, 1 << channel)
    base = DMA_BASE + DMA_CH_STRIDE * channel
    _wr(board, base + DMA_READ_ADDR, 0)
    _wr(board, base + DMA_WRITE_ADDR, 0)
    _wr(board, base + DMA_TRANS_COUNT, 0)
    _wr(board, base + DMA_AL1_CTRL, 0)
    busy = 1 << _field(chip, "busy")[1]
    _wr(board, DMA_BASE + DMA_CHAN_ABORT[chip], 1 << channel)
    while _rd(board, base + DMA_CTRL_TRIG) & busy:
        board.run(until=lambda b: not _rd(b, base + DMA_CTRL_TRIG) & busy, max_cycles=_WAIT_SLICE)


def _default_ctrl(chip, channel):
    """rp2_dma.c DEFAULT_DMA_CONFIG | chain_to = own channel."""
    value = 0
    for name, field_value in (
        ("irq_quiet", 1),
        ("treq_sel", 0x3F),
        ("inc_write", 1),
        ("inc_read", 1),
        ("size", 2),
        ("enable", 1),
        ("chain_to", channel & 0xF),
    ):
        value |= field_value << _field(chip, name)[1]
    return value


def _unmodelled(name):
    def unmodelled(*args, **kw):
        raise EmulatorError(
            "rp2.%s is not modelled by the emulated board (modelled: PIO, StateMachine, DMA, "
            "asm_pio, asm_pio_encode, PIOASMError)" % name
        )

    return unmodelled


Flash = _unmodelled("Flash")
bootsel_button = _unmodelled("bootsel_button")
country = _unmodelled("country")
DMATimer = _unmodelled("DMATimer")
