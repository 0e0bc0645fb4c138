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
* A pin group running past GPIO29: v1.28 shifts its mask past bit 31 and sets the function of
  GPIOs that do not exist.
Reproduced quirks: the divider floor (div256 = sysclk * 256 // freq), freq=0 meaning /65536,
the SM left disabled after init, the start PC = program start (not wrap_target),
`remove_program()` of a program that is not loaded being a no-op, PIO flags not cleared by a
soft reset, soft IRQ handlers dropped when the queue (depth 8) is full.
Not reproduced: StateMachine.irq().flags()/trigger() indexing the wrong IRQ object (v1.28 bug);
here they return this state machine's values.
"""

try:
    from . import machinepin, pioasm, rp2bus, rp2dma, softirq
    from . import rp2regs as regs
except ImportError:
    import machinepin
    import pioasm
    import rp2bus
    import rp2dma
    import rp2regs as regs
    import softirq

EmulatorError = rp2bus.EmulatorError
_IRQ, _UNSET, _ENOMEM, _pin_number = rp2bus._IRQ, rp2bus._UNSET, rp2bus._ENOMEM, rp2bus._pin_number
_board, _charge, _rd, _wr = rp2bus._board, rp2bus._charge, rp2bus._rd, rp2bus._wr
_peek, _poke, _state, _states = rp2bus._peek, rp2bus._poke, rp2bus._state, rp2bus._states
_write_masked = rp2bus._write_masked

PIOASMError = pioasm.PIOASMError
asm_pio = pioasm.asm_pio
asm_pio_encode = pioasm.asm_pio_encode
DMA = rp2dma.DMA


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
            pio_base = regs.PIO_BASES[sm_id // 4]
            ctrl = _peek(board, pio_base + regs.CTRL)
            _poke(board, pio_base + regs.CTRL, ctrl & ~(1 << (sm_id % 4)))
    # The soft reset's gc_sweep_all runs every DMA object's finaliser, DMA.close(): the
    # channel is reset and aborted, so no transfer outlives the program that set it up.
    for channel in range(regs.DMA_CHANNELS):
        if st.dma_claimed & (1 << channel):
            rp2dma.close_channel(board, channel, timed=False)
    _states[0] = None


# ---- interrupts ----------------------------------------------------------------------------


def _hook_pio_irq(st, index):
    """Have the board call us when PIO `index`'s IRQ0 line goes high (once a handler exists)."""
    if not st.pio_hooked[index]:
        st.pio_hooked[index] = True
        st.board.watch_pio_irq(index, _make_pio_isr(st, index), line=0)


def _dispatch(irq, arg):
    softirq.dispatch(irq, arg)


def _make_pio_isr(st, index):
    def isr(block, line):
        if _states[0] is not st:
            return  # stale hook of a state that a soft reset dropped
        board = st.board
        base = regs.PIO_BASES[index]
        ints = _rd(board, base + regs.IRQ0_INTS)
        # Acknowledge SM0-3 flags enabled on IRQ0 before calling any handler (rp2_pio.c).
        _wr(board, base + regs.IRQ_REG, ints >> 8)
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
        _board()
        if not isinstance(id, int) or not 0 <= id < regs.NUM_PIOS:
            raise ValueError("invalid PIO")
        self._index = id
        self._base = regs.PIO_BASES[id]

    def __repr__(self):
        return "PIO(%d)" % self._index

    def __eq__(self, other):
        return isinstance(other, PIO) and other._index == self._index

    def __hash__(self):
        return self._index

    def add_program(self, prog):
        board = _board()
        self._load(_state(), prog)
        _charge(board)

    def _load(self, st, prog):
        """rp2_pio_add_program: place (SDK top-down), relocate JMPs, write INSTR_MEM."""
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
            _wr(board, self._base + regs.INSTR_MEM0 + 4 * (offset + i), instr)
            st.imem[self._index][offset + i] = instr
        mask = ((1 << length) - 1) << offset
        st.used[self._index] |= mask
        st.managed[self._index] |= mask
        prog[pioasm.PROG_OFFSET_PIO0 + self._index] = offset
        _forget(st.released[self._index], prog)
        st.loaded[self._index].append(prog)

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
        irq = _irq_object(st.pio_irq, self._index, self)
        if not irq.configure(handler, trigger, hard, 0xF00):
            return irq
        if irq._handler is not None:
            board = st.board
            _hook_pio_irq(st, self._index)
            _wr(board, self._base + regs.IRQ0_INTE, irq._trigger)
            _charge(board)
        return irq


def _irq_object(table, key, parent):
    """The mp_irq object of a PIO or state machine, made on first use."""
    irq = table[key]
    if irq is None:
        irq = _IRQ(parent)
        table[key] = irq
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
        self._base = regs.PIO_BASES[self._pio]
        self._smbase = self._base + regs.SM0_CLKDIV + regs.SM_STRIDE * self._sm
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
        return self._base + regs.TXF0 + 4 * self._sm

    def rxf_address(self):
        return self._base + regs.RXF0 + 4 * self._sm

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
        _prog_data(prog)
        offset = _offset_here(st, prog, self._pio)
        if offset < 0:
            PIO(self._pio)._load(st, prog)  # inside the same C call: no second call overhead
            offset = prog[pioasm.PROG_OFFSET_PIO0 + self._pio]
        st.initial_pc[self._id] = offset

        clkdiv = _clkdiv(freq, board.sysclk)

        # pio_sm_init(pio, sm, offset, NULL)
        self._set_enabled(board, False)
        self._write_config(board, 0x10000, 0x1F000, 0x000C0000, 0)
        _wr(board, self._smbase + regs.SHIFTCTRL + regs.XOR_ALIAS, regs.SHIFTCTRL_FJOIN_RX)
        _wr(board, self._smbase + regs.SHIFTCTRL + regs.XOR_ALIAS, regs.SHIFTCTRL_FJOIN_RX)
        _wr(board, self._base + regs.FDEBUG, 0x01010101 << self._sm)
        _wr(board, self._base + regs.CTRL + regs.SET_ALIAS, 1 << (4 + self._sm))
        _wr(board, self._base + regs.CTRL + regs.SET_ALIAS, 1 << (8 + self._sm))
        _wr(board, self._smbase + regs.INSTR, offset)  # jmp offset

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
        if jmp_pin is not None:
            jmp = _pin_number(jmp_pin, "jmp_pin")
            execctrl = (execctrl & ~(0x1F << 24)) | ((jmp & 0x1F) << 24)
        side_cfg = _pin_group("sideset", prog[pioasm.PROG_SIDESET_PINS], sideset_base)
        if side_cfg is not None:
            count = side_cfg[1]
            if execctrl & regs.EXECCTRL_SIDE_EN:
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

        for cfg in (out_cfg, set_cfg, side_cfg):
            if cfg is not None:
                self._init_gpio(board, cfg)
        _charge(board)

    def _write_config(self, board, clkdiv, execctrl, shiftctrl, pinctrl):
        # pio_sm_set_config order: CLKDIV, SHIFTCTRL, EXECCTRL, PINCTRL
        _wr(board, self._smbase + regs.CLKDIV, clkdiv)
        _wr(board, self._smbase + regs.SHIFTCTRL, shiftctrl)
        _wr(board, self._smbase + regs.EXECCTRL, execctrl)
        _wr(board, self._smbase + regs.PINCTRL, pinctrl)

    def _set_enabled(self, board, enabled):
        """pio_sm_set_enabled: hw_write_masked on CTRL."""
        bit = 1 << self._sm
        _write_masked(board, self._base + regs.CTRL, bit if enabled else 0, bit)

    def _init_gpio(self, board, cfg):
        """asm_pio_init_gpio: levels, then directions, by forced SET instructions; FUNCSEL."""
        base, count, pindirs, pinvals = cfg
        pinmask = _rotl(~(-1 << count) & 0xFFFFFFFF, base)
        self._force_pins(board, 0xE000, _rotl(pinvals, base), pinmask)  # set pins, v
        self._force_pins(board, 0xE080, _rotl(pindirs, base), pinmask)  # set pindirs, v
        for i in range(32):
            if pinmask & (1 << i):
                machinepin.gpio_set_function(board, i, regs.GPIO_FUNC_PIO0 + self._pio)

    def _force_pins(self, board, set_instr, values, mask):
        """pio_sm_set_pins_with_mask / pio_sm_set_pindirs_with_mask (pico-sdk pio.c)."""
        pinctrl_saved = _rd(board, self._smbase + regs.PINCTRL)
        execctrl_saved = _rd(board, self._smbase + regs.EXECCTRL)
        _wr(board, self._smbase + regs.EXECCTRL + regs.CLR_ALIAS, regs.EXECCTRL_OUT_STICKY)
        while mask:
            pin = 0
            while not mask & (1 << pin):
                pin += 1
            _wr(board, self._smbase + regs.PINCTRL, (1 << 26) | (pin << 5))
            _wr(board, self._smbase + regs.INSTR, set_instr | ((values >> pin) & 1))
            mask &= mask - 1
        _wr(board, self._smbase + regs.PINCTRL, pinctrl_saved)
        _wr(board, self._smbase + regs.EXECCTRL, execctrl_saved)

    def active(self, value=None):
        board = _board()
        if value is not None:
            self._set_enabled(board, value)
        result = bool((_rd(board, self._base + regs.CTRL) >> self._sm) & 1)
        _charge(board)
        return result

    def restart(self):
        st = _state()
        _wr(st.board, self._base + regs.CTRL + regs.SET_ALIAS, 1 << (4 + self._sm))
        _wr(st.board, self._smbase + regs.INSTR, st.initial_pc[self._id])
        _charge(st.board)

    def exec(self, instr):
        board = _board()
        if not isinstance(instr, int):
            count = _rd(board, self._smbase + regs.PINCTRL) >> 29
            opt = 1 if _rd(board, self._smbase + regs.EXECCTRL) & regs.EXECCTRL_SIDE_EN else 0
            instr = asm_pio_encode(instr, count, opt)
        _wr(board, self._smbase + regs.INSTR, instr)
        _charge(board)

    def _rx_empty(self, board, read=_rd):
        return (read(board, self._base + regs.FSTAT) >> (8 + self._sm)) & 1

    def _tx_full(self, board, read=_rd):
        return (read(board, self._base + regs.FSTAT) >> (16 + self._sm)) & 1

    def get(self, buf=None, shift=0):
        board = _board()
        if buf is None:
            self._wait(board, self._rx_empty, "get", "RX FIFO empty")
            value = (_rd(board, self._base + regs.RXF0 + 4 * self._sm) >> shift) & 0xFFFFFFFF
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
            value = (_rd(board, self._base + regs.RXF0 + 4 * self._sm) >> shift) & (
                (1 << bits) - 1
            )
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
            _wr(board, self._base + regs.TXF0 + 4 * self._sm, (word << shift) & 0xFFFFFFFF)
        _charge(board)

    def _wait(self, board, blocked, what, condition):
        """Busy-wait as the C loop does (mp_event_handle_nowait), advancing the board: the
        first FSTAT read costs an access, the polls while waiting are folded into the wait."""
        if not blocked(board):
            return
        softirq.run_pending()
        while blocked(board, _peek):
            try:
                # No cycle limit: the device waits forever too. An idle board (nothing can
                # ever change the FIFO) makes run() raise instead of spinning.
                board.run(until=lambda b: softirq.runnable() or not blocked(b, _peek))
            except EmulatorError as e:
                raise EmulatorError(
                    "StateMachine({}).{}(): {}; the device would wait forever ({})".format(
                        self._id, what, condition, e
                    )
                )
            softirq.run_pending()

    def rx_fifo(self):
        board = _board()
        level = (_rd(board, self._base + regs.FLEVEL) >> (8 * self._sm + 4)) & 0xF
        _charge(board)
        return level

    def tx_fifo(self):
        board = _board()
        level = (_rd(board, self._base + regs.FLEVEL) >> (8 * self._sm)) & 0xF
        _charge(board)
        return level

    def irq(self, handler=_UNSET, trigger=_UNSET, hard=_UNSET):
        st = _state()
        board = st.board
        irq = _irq_object(st.sm_irq, self._id, self)
        if not irq.configure(handler, trigger, hard, 1):
            return irq
        if irq._handler is not None:
            _hook_pio_irq(st, self._pio)
        inte = self._base + regs.IRQ0_INTE
        value = _rd(board, inte)
        if irq._handler is None:
            value &= ~(1 << (8 + self._sm))
        else:
            value |= 1 << (8 + self._sm)
        _wr(board, inte, value)
        _charge(board)
        return irq


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
    first = _pin_number(base, kind + "_base")
    if first + count > regs.NUM_GPIOS:
        raise EmulatorError(
            "StateMachine: {}_base={} with {} pins reaches GPIO{}: MicroPython v1.28 would "
            "shift the pin mask past bit 31 and call gpio_set_function on GPIOs that do not "
            "exist; allowed: the group ends at GPIO{}".format(
                kind, first, count, first + count - 1, regs.NUM_GPIOS - 1
            )
        )
    return (first, count, pindirs, pinvals)


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
